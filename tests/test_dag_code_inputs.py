"""The code inputs the workflow gives its cheap steps (groklab.dag): the modules a paper number or
a figure depends on are inputs of its job, so editing one reruns it: first on the import closures
(fast), then with dry runs on a finished tiny config (slow)."""

from pathlib import Path

import pytest

from conftest import ROOT
from groklab.dag import code_inputs
from groklab.paper.figures import FIGURES
from groklab.paper.targets import figure_code

SRC = ROOT / "src" / "groklab"


def rel(paths):
    return {str(Path(p).relative_to(SRC)) for p in paths}


def test_numbers_job_depends_on_the_modules_its_numbers_come_from():
    closure = rel(code_inputs(ROOT / "workflow" / "scripts" / "numbers.py"))
    assert {"analysis/aggregate.py", "paper/provenance.py", "paper/figures.py", "seeding.py", "paper/build.py",
            "paper/targets.py"} <= closure


@pytest.mark.parametrize("figure, module", [("leadlag-runs", "analysis/mechanics.py"),
                                            ("phase-diagram", "analysis/speedup.py"),
                                            ("accuracy", "analysis/figure_data/accuracy.py")])
def test_figure_job_depends_on_its_compute_and_plotting_modules(figure, module):
    """What figures.smk lists as a figure job's code: the adapter's closure and the figure's own
    compute and plotting modules', nobody else's."""
    name = FIGURES[figure].module
    code = rel(figure_code(figure, ROOT / "workflow" / "scripts" / "figure.py"))
    assert module in code and f"paper/plots/{name}.py" in code
    others = {f"{d}/{f.module}.py" for f in FIGURES.values() if f.module != name
              for d in ("paper/plots", "analysis/figure_data")}
    assert not (others & code), "a figure job must not rerun when another figure's module changes"


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """tests/data/tiny.yaml run to the end once, in a copy of the workflow."""
    import shutil

    from conftest import copy_workflow, run_cli

    workdir = copy_workflow(tmp_path_factory.mktemp("tiny"))
    shutil.copy(ROOT / "tests" / "data" / "tiny.yaml", workdir / "tiny.yaml")
    out = run_cli("snakemake", "--cores", "2", "--configfile", "tiny.yaml", cwd=workdir)
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


def planned_after_editing(workdir, module: str) -> set[str]:
    """Rules a dry run would run after a real (comment) edit of src/groklab/<module>, undone after."""
    import os
    import re

    from conftest import run_cli

    path = SRC / module
    before, text = path.stat(), path.read_bytes()
    path.write_bytes(text + b"# an edit\n")      # Snakemake compares checksums as well as times
    try:
        out = run_cli("snakemake", "-n", "--quiet", "rules", "--cores", "2", "--configfile", "tiny.yaml", cwd=workdir)
    finally:
        path.write_bytes(text)
        os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert out.returncode == 0, out.stderr[-3000:]
    return {rule for rule, _ in re.findall(r"^(\w+)\s+(\d+)$", out.stdout + out.stderr, re.M) if rule != "total"}


@pytest.mark.slow
@pytest.mark.parametrize("module, job", [("analysis/aggregate.py", "numbers"), ("paper/provenance.py", "numbers"),
                                         ("paper/figures.py", "numbers"), ("seeding.py", "numbers"),
                                         ("analysis/mechanics.py", "figure"), ("paper/plots/hmm_map.py", "study_figure")])
def test_editing_a_module_reruns_the_jobs_that_import_it(finished, module, job):
    from conftest import run_cli

    again = run_cli("snakemake", "-n", "--cores", "2", "--configfile", "tiny.yaml", cwd=finished)
    assert "Nothing to be done" in again.stdout + again.stderr
    jobs = planned_after_editing(finished, module)
    assert job in jobs and not any(j.startswith("train") for j in jobs) and "hmm_fit" not in jobs, jobs
