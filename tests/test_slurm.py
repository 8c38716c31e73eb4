"""The pipeline through a real Slurm: `snakemake --cores 8 --profile slurm` as docs/cluster.md says.

Needs a Slurm that takes jobs on this machine (`bash scripts/slurm-local.sh up`, as .ci/run
does); without one the Slurm tests are skipped, saying why. Every run works in a copy of
the workflow under tmp_path (Slurm runs the jobs there too: one machine, one file system).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import ROOT, copy_workflow

pytestmark = pytest.mark.slow


def _slurm_state() -> str | None:
    """None when a Slurm node is idle here, else why the Slurm tests cannot run."""
    if shutil.which("sinfo") is None:
        return "no Slurm here (sinfo not found); start one with `bash scripts/slurm-local.sh up`"
    try:
        out = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True, timeout=20)
    except subprocess.TimeoutExpired:
        return "sinfo timed out: slurmctld is not answering"
    states = out.stdout.split()
    if out.returncode != 0 or "idle" not in states:
        return f"no idle Slurm node (sinfo: {(out.stdout + out.stderr).strip() or 'nothing'}); see scripts/slurm-local.sh"
    return None


SLURM_UNAVAILABLE = _slurm_state()
# CI (.ci/run) brings Slurm up and sets GROKLAB_REQUIRE_SLURM=1: there a missing Slurm fails these
# tests instead of skipping them.
if SLURM_UNAVAILABLE and os.environ.get("GROKLAB_REQUIRE_SLURM") == "1":
    needs_slurm = pytest.mark.usefixtures("_fail_without_slurm")
else:
    needs_slurm = pytest.mark.skipif(SLURM_UNAVAILABLE is not None, reason=str(SLURM_UNAVAILABLE))


@pytest.fixture
def _fail_without_slurm():
    pytest.fail(f"GROKLAB_REQUIRE_SLURM=1 but {SLURM_UNAVAILABLE}")


def make_workdir(path: Path, configfile: str) -> Path:
    """A copy of the workflow, its profiles and the ./slurm link, plus one test config."""
    copy_workflow(path, extra=("profiles",))
    (path / "slurm").symlink_to(os.readlink(ROOT / "slurm"))  # the tracked link, as it is
    shutil.copy(ROOT / "tests" / "data" / configfile, path / configfile)
    return path


def _env(**extra) -> dict:
    """This environment with the venv's snakemake first on PATH (as conftest.run_cli)."""
    return {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}", **extra}


def snakemake(workdir: Path, *args, env=None, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run(["snakemake", *args], cwd=workdir, env=_env(**(env or {})), capture_output=True,
                          text=True, timeout=timeout)


def slurm_job(job_id: str) -> dict[str, str]:
    """`scontrol show job` as a dict (finished jobs stay visible for MinJobAge, 600 s locally)."""
    out = subprocess.run(["scontrol", "show", "job", "-o", job_id], capture_output=True, text=True, check=True).stdout
    return dict(kv.split("=", 1) for kv in out.split() if "=" in kv)


def train_jobs(log: str) -> dict[str, str]:
    """Pack id -> Slurm job id of each training job (one per pack) the executor reports as submitted
    in `log` (the plugin comments every job with its rule: train_pack_<hash>)."""
    jobs = {}
    for job_id in re.findall(r"has been submitted with SLURM jobid (\d+)", log):
        comment = slurm_job(job_id)["Comment"]
        if comment.startswith("rule_train_pack_"):
            rule = comment.removeprefix("rule_").split("_wildcards_")[0]
            jobs[rule.removeprefix("train_").replace("_", "-")] = job_id
    return jobs


def pack_of(run_dir: Path) -> str:
    """The pack a run was trained in (its config.json provenance)."""
    return json.loads((run_dir / "config.json").read_text())["provenance"]["pack"]["id"]


def run_dirs(workdir: Path) -> dict[str, Path]:
    return {d.name: d for d in sorted((workdir / "results" / "runs").iterdir())}


def assert_same_metrics(a: Path, b: Path) -> None:
    runs_a, runs_b = run_dirs(a), run_dirs(b)
    assert runs_a.keys() == runs_b.keys()
    for cell in runs_a:
        pd.testing.assert_frame_equal(pd.read_parquet(runs_a[cell] / "metrics.parquet"),
                                      pd.read_parquet(runs_b[cell] / "metrics.parquet"))


@pytest.fixture(scope="module")
def local_tiny(tmp_path_factory) -> Path:
    """The tiny config run locally (no Slurm): the reference for the Slurm runs."""
    workdir = make_workdir(tmp_path_factory.mktemp("local"), "tiny.yaml")
    out = snakemake(workdir, "--cores", "2", "--configfile", "tiny.yaml")
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


@pytest.mark.parametrize("profile", ["slurm", "profiles/slurm"])
def test_profile_resolves_from_the_repository_root(tmp_path, profile):
    """A bare `--profile slurm` is looked up in the working directory (./slurm -> profiles/slurm)."""
    assert (ROOT / "slurm").resolve() == (ROOT / "profiles" / "slurm").resolve()
    workdir = make_workdir(tmp_path, "tiny.yaml")
    out = snakemake(workdir, "--cores", "8", "--profile", profile, "-n")
    assert out.returncode == 0, out.stderr[-3000:]
    assert f"Using profile {profile} " in out.stderr
    assert "rule train_pack_" in out.stdout and "localrule train_pack_" not in out.stdout


@needs_slurm
def test_tiny_config_runs_through_slurm_like_a_local_run(tmp_path, local_tiny):
    workdir = make_workdir(tmp_path / "slurm", "tiny.yaml")
    out = snakemake(workdir, "--cores", "8", "--profile", "slurm", "--configfile", "tiny.yaml")
    log = out.stdout + out.stderr
    assert out.returncode == 0, log[-5000:]
    jobs = train_jobs(log)
    cells = run_dirs(workdir)
    assert len(cells) == 3 and jobs.keys() == {pack_of(d) for d in cells.values()}  # one Slurm job per pack
    for cell, run_dir in cells.items():
        # the job id the training recorded is the one Snakemake submitted for this cell's pack
        provenance = json.loads((run_dir / "config.json").read_text())["provenance"]
        assert provenance["slurm_job_id"] == jobs[pack_of(run_dir)], (cell, provenance, jobs)
        assert slurm_job(jobs[pack_of(run_dir)])["JobState"] == "COMPLETED"
    assert "localrule aggregate_runs" in log and "localrule train" not in log
    assert_same_metrics(workdir, local_tiny)


@needs_slurm
def test_failed_cell_is_reported_others_finish_and_rerun_redoes_only_it(tmp_path, local_tiny):
    workdir = make_workdir(tmp_path / "slurm", "tiny.yaml")
    args = ("--cores", "8", "--profile", "profiles/slurm", "--configfile", "tiny.yaml")
    out = snakemake(workdir, *args, env={"GROKLAB_FAIL_CELLS": "op~div"})
    log = out.stdout + out.stderr
    assert out.returncode != 0, log[-5000:]
    (add,) = [c for c in run_dirs(local_tiny) if c.startswith("op~add")]
    (div,) = [c for c in run_dirs(local_tiny) if c.startswith("op~div")]
    cells = {c: workdir / "results" / "runs" / c for c in (add, div)}
    div_pack = pack_of(local_tiny / "results" / "runs" / div)
    rule = f"train_{div_pack.replace('-', '_')}"
    # reported with its logs: the rule's log and the Slurm job's output
    assert f"Error in rule {rule}" in log
    assert re.search(rf"log: results/logs/train/{div_pack}\.log, \S+/slurm_logs/rule_{rule}/\d+\.log", log), log[-5000:]
    assert "injected failure" in (workdir / "results" / "logs" / "train" / f"{div_pack}.log").read_text()
    # --keep-going: the other cell finished; the failed one has no outputs
    assert (cells[add] / "metrics.parquet").exists() and not (cells[div] / "metrics.parquet").exists()
    before = (cells[add] / "metrics.parquet").stat().st_mtime_ns

    again = snakemake(workdir, *args)
    log = again.stdout + again.stderr
    assert again.returncode == 0, log[-5000:]
    jobs = train_jobs(log)
    (map_wd,) = [c for c in run_dirs(local_tiny) if c.startswith("map-wd")]
    # only the failed cell's pack trained again, and map-wd's, which waited for the matrix map that needs it
    assert sorted(jobs) == sorted([div_pack, pack_of(local_tiny / "results" / "runs" / map_wd)]), log[-5000:]
    assert (cells[add] / "metrics.parquet").stat().st_mtime_ns == before
    assert json.loads((cells[div] / "config.json").read_text())["provenance"]["slurm_job_id"] == jobs[div_pack]
    assert_same_metrics(workdir, local_tiny)


@needs_slurm
def test_requeued_training_job_resumes_from_its_checkpoint(tmp_path):
    # the uninterrupted reference trains locally meanwhile (one core each)
    reference = make_workdir(tmp_path / "local", "requeue.yaml")
    with open(reference / "snakemake.out", "w") as out:
        local = subprocess.Popen(["snakemake", "--cores", "1", "--configfile", "requeue.yaml"], cwd=reference,
                                 env=_env(), stdout=out, stderr=subprocess.STDOUT)
    workdir = make_workdir(tmp_path / "slurm", "requeue.yaml")
    log_path = workdir / "snakemake.out"
    with open(log_path, "w") as log_file:
        run = subprocess.Popen(["snakemake", "--cores", "8", "--profile", "slurm", "--configfile", "requeue.yaml"],
                               cwd=workdir, env=_env(), stdout=log_file, stderr=subprocess.STDOUT, text=True)
        try:
            runs = workdir / "results" / "runs"
            deadline = time.time() + 300
            while not list((workdir / "results" / "packs").glob("*/*/checkpoint.pt")):
                assert run.poll() is None and time.time() < deadline, log_path.read_text()[-5000:]
                time.sleep(0.1)
            (job_id,) = train_jobs(log_path.read_text()).values()
            assert not list(runs.glob("*/metrics.parquet")), "training finished before the requeue"
            subprocess.run(["scontrol", "requeue", job_id], check=True, capture_output=True, text=True)
            assert run.wait(timeout=400) == 0, log_path.read_text()[-5000:]
        finally:
            if run.poll() is None:  # a failed assertion: stop Snakemake, which cancels its job
                run.terminate()
                try:
                    run.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    run.kill()
    assert local.wait(timeout=400) == 0, (reference / "snakemake.out").read_text()[-3000:]
    job = slurm_job(job_id)
    assert job["Restarts"] == "1" and job["JobState"] == "COMPLETED", job
    (cell,) = run_dirs(workdir).values()
    assert json.loads((cell / "config.json").read_text())["provenance"]["slurm_job_id"] == job_id
    # the restarted job's progress bar starts at the checkpoint's step, not at 0
    train_log = (workdir / "results" / "logs" / "train" / f"{pack_of(cell)}.log").read_text()
    first = re.search(r"(\d+)/(\d+) \[", train_log)
    assert first and 0 < int(first[1]) < int(first[2]), train_log[:2000]
    assert_same_metrics(workdir, reference)
