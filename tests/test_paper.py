"""The paper end to end on tests/data/paper.yaml: tables, figures, numbers, LaTeX, audit, and
which jobs rerun after a figure module is edited or a run is deleted."""

import json
import os
import re
import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from conftest import ROOT, copy_workflow, run_cli

pytestmark = pytest.mark.slow
LATEX = shutil.which("latexmk") is not None
if os.environ.get("GROKLAB_REQUIRE_LATEX") == "1" and not LATEX:
    raise RuntimeError("GROKLAB_REQUIRE_LATEX=1 but latexmk is not installed (docs/paper.md: TeX)")


def workflow_copy(dest):
    copy_workflow(dest)
    shutil.copy(ROOT / "tests" / "data" / "paper.yaml", dest / "paper.yaml")
    return dest


def snakemake(workdir, *args):
    # targets first: --configfile takes every word after it
    return run_cli("snakemake", *args, "--cores", "2", "--configfile", "paper.yaml", cwd=workdir)


def audit(workdir, *args):
    return run_cli("groklab", "audit", *args, cwd=workdir)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One full run of the paper matrix (the tests below only read it or work on copies)."""
    workdir = workflow_copy(tmp_path_factory.mktemp("paper"))
    out = snakemake(workdir)
    assert out.returncode == 0, out.stderr[-4000:]
    return workdir


@pytest.fixture
def copy_of_built(built, tmp_path):
    dest = tmp_path / "copy"
    shutil.copytree(built, dest, symlinks=True)   # copy2 keeps the mtimes Snakemake compares
    return dest


def planned_jobs(workdir, *args) -> dict[str, int]:
    """rule -> number of jobs a dry run would execute; a job of the generic figure rules counts as
    figure_<figure> (figure_accuracy, figure_hmm_map, ...), so each figure is told apart."""
    out = snakemake(workdir, "-n", *args)
    assert out.returncode == 0, out.stderr[-3000:]
    jobs: dict[str, int] = {}
    for block in re.split(r"^(?=(?:local)?rule \w+:)", out.stdout + out.stderr, flags=re.M):
        head = re.match(r"(?:local)?rule (\w+):", block)
        if not head:
            continue
        rule = head.group(1)
        figure = re.search(r"wildcards:.*\bfigure=([\w-]+)", block)
        if rule in ("figure", "study_figure") and figure:
            rule = "figure_" + figure.group(1).replace("-", "_")
        jobs[rule] = jobs.get(rule, 0) + 1
    return jobs


def test_tables_have_data_and_censor_never_grokked_runs(built):
    speed = pd.read_parquet(built / "results" / "tables" / "speedups.parquet")
    assert set(speed.cell) == {"ops~add", "ops~sub", "ops~add+sub", "add-wd-up"}
    base = speed[speed.role == "baseline"].iloc[0]
    assert base.grokked_fraction == 1 and 0 < base.memorisation_step < base.grok_step <= base.budget
    assert base.speedup_grok_step == pytest.approx(1.0)
    both = speed[(speed.cell == "ops~add+sub") & (speed.operation == "add")].iloc[0]
    # full batch, unscaled: every step shows each operation its whole training set, so the three
    # units agree (the same budget, the same addition examples per step)
    assert both.budget == base.budget
    assert both.speedup_grok_pct == pytest.approx(both.speedup_grok_step, rel=1e-9)
    assert both.speedup_grok_examples == pytest.approx(both.speedup_grok_step, rel=1e-9)
    assert np.isnan(speed[(speed.cell == "ops~add+sub") & (speed.operation == "sub")].speedup_grok_step).all()
    claims = pd.read_parquet(built / "results" / "tables" / "claims.parquet").set_index("claim")
    assert np.isfinite(claims.loc["diversity", "ratio"]) and claims.loc["diversity", "verdict"] != "not run"


def test_numbers_tables_and_pdf(built):
    gen = built / "paper" / "generated"
    numbers = (gen / "numbers.tex").read_text()
    grok = re.search(r"\\newcommand\{\\BaselineGrokStep\}\{([^}]*)\}", numbers).group(1)
    assert grok.replace("{,}", "").isdigit()
    assert r"\newcommand{\ClaimSgdVerdict}{not run}" in numbers      # quoted by main.tex, not in this matrix
    assert "ops\\textasciitilde{}add+sub" in (gen / "tables" / "speedups-diversity.tex").read_text()
    figures = sorted((gen / "figures").glob("*.pdf"))
    assert {f.stem for f in figures} == {"accuracy-diversity", "hmm-map-diversity", "hmm-selection-diversity",
                                         "accuracy-intervene", "hmm-map-intervene", "hmm-selection-intervene",
                                         "matrix-map", "speedups", "progress", "per-operation", "trajectories",
                                         "lead-heatmap", "leadlag-runs", "ladder"}
    rows = (gen / "tables" / "interventions.tex").read_text()
    assert r"add-wd-up & add & train\_acc $\geq$ 0.99 $\rightarrow$ weight\_decay 6 & 2/2 &" in rows
    for pdf in figures:
        assert ink_fraction(pdf) > 0.003, f"{pdf.name} renders blank"
    if LATEX:
        pages = render_pages(built / "paper" / "main.pdf")
        assert len(pages) >= 4
        for i, page in enumerate(pages):      # even a page of two lines has some dark pixels
            assert (page < 220).mean() > 1e-4, f"page {i + 1} of main.pdf is blank"


def test_mechanics_tables_are_filled_from_the_runs(built):
    ranking = pd.read_parquet(built / "results" / "mechanics" / "leadlag.parquet")
    assert {"all studies", "diversity"} <= set(ranking.study) and ranking.runs.min() >= 1
    forecast = pd.read_parquet(built / "results" / "mechanics" / "forecast.parquet")
    assert set(forecast.features) == {"observables", "hmm_occupancy", "train_accuracy", "median"}
    assert forecast.value.notna().all()
    numbers = (built / "paper" / "generated" / "numbers.tex").read_text()
    top = re.search(r"\\newcommand\{\\LeadTopObservable\}\{([^}]*)\}", numbers).group(1)
    assert top.replace("\\_", "_") == ranking[ranking.study == "all studies"].observable.iloc[0]


def render_pages(pdf):
    out = subprocess.run(["pdftoppm", "-r", "30", "-gray", str(pdf), str(pdf.with_suffix(""))], capture_output=True)
    assert out.returncode == 0, out.stderr
    files = sorted(pdf.parent.glob(pdf.stem + "-*.pgm"))
    pages = [np.asarray(Image.open(f)) for f in files]
    for f in files:
        f.unlink()
    return pages


def ink_fraction(pdf) -> float:
    """Fraction of non-white pixels of a one-page figure."""
    (page,) = render_pages(pdf)
    return float((page < 200).mean())


def test_audit_all_matches_and_one_number_prints_its_record(built):
    out = audit(built, "--all")
    assert out.returncode == 0, out.stdout[-3000:]
    n = json.loads((built / "paper" / "generated" / "provenance.json").read_text())
    assert f"{len(n)} of {len(n)} numbers match" in out.stdout
    assert f"({sum(1 for r in n.values() if r.get('source'))} re-read from their tables" in out.stdout
    one = audit(built, "\\BaselineDelay")
    assert one.returncode == 0
    rec = json.loads(one.stdout[: one.stdout.rindex("}") + 1])
    assert rec["query"] == "cell_stat" and rec["cells"][0]["name"] == "ops~add"
    assert all(len(i["sha256"]) == 64 for i in rec["inputs"]) and rec["git_commit"]
    assert "did you mean BaselineDelay" in audit(built, "BaselineDelai").stderr


def test_table_numbers_name_their_table_and_its_sha256(built):
    """Speedups, claims, lead-lag and forecast numbers are read from the tables their rules wrote."""
    from groklab.io import sha256_file

    records = json.loads((built / "paper" / "generated" / "provenance.json").read_text())
    tables = {"speedups/diversity/ops~sub/sub/grok_step": "results/tables/speedups.parquet",
              "ClaimDiversityRatio": "results/tables/claims.parquet",
              "LeadTopObservable": "results/mechanics/leadlag.parquet",
              "ForecastObservablesMae": "results/mechanics/forecast.parquet"}
    for name, table in tables.items():
        rec = records[name]
        assert rec["query"] == "table_cell" and rec["source"]["table"] == table, rec
        assert rec["source"]["sha256"] == sha256_file(built / table) == rec["inputs"][0]["sha256"]
    speed = pd.read_parquet(built / "results" / "tables" / "speedups.parquet")
    src = records["speedups/diversity/ops~sub/sub/grok_step"]["source"]
    assert src["where"] == {"study": "diversity", "cell": "ops~sub", "operation": "sub"} and src["column"] == "grok_step"
    row = speed[(speed.study == "diversity") & (speed.cell == "ops~sub") & (speed.operation == "sub")]
    assert records["speedups/diversity/ops~sub/sub/grok_step"]["value"] == pytest.approx(row.grok_step.iloc[0])
    assert records["BaselineGrokStep"]["query"] == "cell_stat" and "source" not in records["BaselineGrokStep"]


def test_editing_a_table_fails_the_audit_of_the_numbers_read_from_it(copy_of_built):
    table = copy_of_built / "results" / "tables" / "claims.parquet"
    speed = pd.read_parquet(table)
    speed.loc[0, "ratio"] = speed.loc[0, "ratio"] + 1
    speed.to_parquet(table)
    out = audit(copy_of_built, "--all")
    assert out.returncode == 1
    assert re.search(r"^MISMATCH ClaimDiversityRatio: input results/tables/claims.parquet changed", out.stdout, re.M)
    assert "MISMATCH speedups/" not in out.stdout and "BaselineGrokStep" not in out.stdout


def test_editing_one_byte_of_a_results_file_fails_the_audit(copy_of_built):
    metrics = next((copy_of_built / "results" / "runs").glob("ops~sub-*/metrics.parquet"))
    data = bytearray(metrics.read_bytes())
    data[len(data) // 2] ^= 0x01
    metrics.write_bytes(bytes(data))
    out = audit(copy_of_built, "--all")
    assert out.returncode == 1
    rel = str(metrics.relative_to(copy_of_built))
    assert re.search(rf"^MISMATCH speedups/diversity/ops~sub/sub/\w+: input {re.escape(rel)} changed", out.stdout, re.M)
    assert "BaselineGrokStep" not in out.stdout          # numbers of other cells still match


def test_editing_a_figure_module_reruns_that_figure_and_the_paper_only(copy_of_built):
    module = ROOT / "src" / "groklab" / "paper" / "plots" / "accuracy.py"
    before, text = module.stat(), module.read_bytes()
    # Snakemake (>= 9.18) compares checksums as well as times: a real edit, undone below
    module.write_bytes(text + b"# an edit\n")
    try:
        jobs = planned_jobs(copy_of_built)
    finally:
        module.write_bytes(text)
        os.utime(module, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert jobs.pop("figure_accuracy") == 2          # one per study
    assert set(jobs) <= {"paper_pdf", "paper", "all"} and (jobs.get("paper_pdf") == 1 or not LATEX), jobs


def test_deleting_a_run_reruns_exactly_what_depends_on_it(copy_of_built):
    shutil.rmtree(next((copy_of_built / "results" / "runs").glob("ops~sub-*")))
    jobs = planned_jobs(copy_of_built)
    # its pack retrains: ops~sub with ops~add and add-wd-up, whose numbers do not change (test_packs)
    packs = [rule for rule in jobs if rule.startswith("train_pack_")]
    assert len(packs) == 1 and jobs.pop(packs[0]) == 1, jobs
    # everything that reads the pack's runs or a table made from them; ops~add+sub is in another pack
    downstream = {"aggregate_runs", "hmm_fit", "speedup_tables", "numbers", "figure_accuracy", "figure_hmm_map",
                  "figure_hmm_selection", "figure_speedups", "figure_trajectories", "figure_lead_heatmap",
                  "figure_per_operation", "figure_leadlag_runs", "mechanics", "paper_pdf", "paper", "all",
                  "hmm_matrix_fit", "figure_matrix_map", "figure_progress", "figure_ladder"}
    assert set(jobs) <= downstream and jobs["hmm_fit"] >= 1, jobs


def test_paper_target_and_report(copy_of_built):
    shutil.rmtree(copy_of_built / "paper" / "generated")
    out = snakemake(copy_of_built, "paper")
    assert out.returncode == 0, out.stderr[-3000:]
    assert "rule train" not in out.stdout and (copy_of_built / "paper" / "generated" / "numbers.tex").exists()
    report = copy_of_built / "report.html"
    out = snakemake(copy_of_built, "--report", str(report))
    assert out.returncode == 0, out.stderr[-3000:]
    html = report.read_text(errors="replace")
    assert "accuracy-diversity.pdf" in html and "Which observables change first" in html
