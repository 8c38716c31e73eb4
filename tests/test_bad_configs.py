"""The bad-config table (tests/bad_configs.py): every case is refused before any job by both entry
points, `groklab cells` and the workflow, with the same one line naming the key or the file.

In process for every case: `groklab cells`, and the workflow's own path (common.smk: groklab's
reader on each config file, then check_config on the config Snakemake loaded; a file Snakemake's
reader cannot load fails before the Snakefile runs, so `groklab snakemake` reads it first). The
held-out subset runs through the real `snakemake -n` as well."""

import re

import pytest
from snakemake.common.configfile import load_configfile
from snakemake_interface_common.exceptions import WorkflowError

from bad_configs import CASES, HELD_OUT, STUDY, TINY
from conftest import copy_workflow, run_cli
from groklab import cli
from groklab.checks import check_config, load_workflow_config
from groklab.config.cells import ConfigError

IDS = [case[0] for case in CASES]
BY_ID = {case[0]: case for case in CASES}


def cells_error(tmp_path, capsys, text: str) -> str:
    """groklab cells on the text: its one error line, with the temporary folder left out."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    assert cli.main(["cells", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("groklab: error: "), err
    return err.removeprefix("groklab: error: ").replace(f"{tmp_path}/", "")


def workflow_error(tmp_path, text: str) -> str:
    """The workflow's path on the same text, in process (what common.smk and `groklab snakemake` do)."""
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        try:
            loaded = load_configfile(str(path))
        except WorkflowError:        # Snakemake stops before the Snakefile: the wrapper's reader refuses it
            load_workflow_config(str(path))
        else:
            load_workflow_config(str(path))
            check_config(dict(loaded))
    return str(err.value).replace(f"{tmp_path}/", "")


def test_the_table_has_100_distinct_cases_and_a_held_out_subset():
    assert len(CASES) >= 100 and len(set(IDS)) == len(IDS)
    assert set(HELD_OUT) <= set(IDS) and len(HELD_OUT) >= 10


@pytest.mark.parametrize("text", [STUDY, TINY], ids=["study", "tiny"])
def test_the_starting_points_are_valid(tmp_path, capsys, text):
    """Each case breaks one thing: the configs they start from pass both paths."""
    path = tmp_path / "good.yaml"
    path.write_text(text)
    assert cli.main(["cells", "--config", str(path)]) == 0
    check_config(dict(load_configfile(str(path))))


@pytest.mark.parametrize("case_id, text, message", CASES, ids=IDS)
def test_both_paths_refuse_with_the_same_line(tmp_path, capsys, case_id, text, message):
    line = cells_error(tmp_path, capsys, text)
    assert message in line, line
    assert workflow_error(tmp_path, text) == line


@pytest.mark.slow
@pytest.mark.parametrize("case_id", HELD_OUT)
def test_real_snakemake_refuses_before_any_job(tmp_path, case_id):
    """Plain `snakemake -n` where Snakemake can read the file; `groklab snakemake -n`
    (docs/configuration.md) for the files it cannot, whose own error would name no line."""
    _, text, message = BY_ID[case_id]
    workdir = copy_workflow(tmp_path)
    (workdir / "bad.yaml").write_text(text)
    try:
        load_configfile(str(workdir / "bad.yaml"))
        command = ["snakemake"]
    except WorkflowError:
        command = ["groklab", "snakemake"]
    out = run_cli(*command, "-n", "--cores", "1", "--configfile", "bad.yaml", cwd=workdir)
    errors = [l for l in out.stderr.splitlines() if l.startswith("groklab: config error:")]
    assert out.returncode != 0 and len(errors) == 1 and message in errors[0], out.stderr[-2000:]
    assert "WorkflowError" not in out.stderr and not (workdir / "results").exists()


@pytest.mark.slow
def test_groklab_snakemake_passes_a_good_config_to_snakemake(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "good.yaml").write_text(TINY)
    out = run_cli("groklab", "snakemake", "-n", "--cores", "1", "--configfile", "good.yaml", cwd=workdir)
    assert out.returncode == 0 and "train_pack" in out.stdout + out.stderr, out.stderr[-2000:]


def test_configfile_options_are_found_in_every_spelling():
    assert cli.configfiles_of(["-n", "--configfile", "a.yaml", "b.yaml", "--cores", "1"]) == ["a.yaml", "b.yaml"]
    assert cli.configfiles_of(["--configfiles=c.yaml", "-n"]) == ["c.yaml"]
    assert cli.configfiles_of(["--cores", "all"]) == []


# File faults (#37): each named before any job, by both paths' one reader; the file is left as it was.
FILE_FAULTS = [
    ("directory", lambda p: p.mkdir(), "bad.yaml: is a directory, not a config file"),
    ("missing", lambda p: None, "bad.yaml: file not found"),
    ("dangling-symlink", lambda p: p.symlink_to(p.parent / "gone.yaml"), "bad.yaml: a symbolic link to"),
    ("not-utf8", lambda p: p.write_bytes(b"cell: {task: {p: 13}}\n# caf\xe9\n"),
     "bad.yaml: not UTF-8 text at line 2, column 6 (byte 0xe9); save the file as UTF-8"),
]


@pytest.mark.parametrize("make, message", [f[1:] for f in FILE_FAULTS], ids=[f[0] for f in FILE_FAULTS])
def test_file_faults_are_named_by_both_paths(tmp_path, capsys, make, message):
    path = tmp_path / "bad.yaml"
    make(path)
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["cells", "--config", str(path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and message in err.replace(f"{tmp_path}/", ""), err
    with pytest.raises(ConfigError, match="^" + re.escape(str(path))):
        load_workflow_config(str(path))
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_a_yaml_merge_key_merges_and_the_keys_beside_it_override(tmp_path):
    path = tmp_path / "merge.yaml"
    path.write_text("cell:\n  task:\n    <<: {p: 13, train_fraction: 0.5}\n    p: 17\n"
                    "  training: {steps: 100, eval_every: 10, seeds: [0]}\n")
    assert load_workflow_config(str(path))["cell"]["task"] == {"p": 17, "train_fraction": 0.5}
    check_config(load_workflow_config(str(path)))
