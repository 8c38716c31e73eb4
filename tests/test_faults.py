"""Faults: repeated SIGKILLs of a training job (also in the middle of a checkpoint write), and two
Snakemake invocations on one results directory."""

import os
import random
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import yaml

from conftest import copy_workflow, run_cli, tiny_cell
from groklab.training.job import train_cell

pytestmark = pytest.mark.slow


def start_training(cfg, out, **env):
    return subprocess.Popen([sys.executable, "-m", "groklab.cli", "train", "--config", str(cfg), "--out", str(out),
                             "--quiet"], env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def wait_for(predicate, timeout=60.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return False


def wrote_since(out, t0: float) -> bool:
    """A file of the run's partial state (checkpoint, metric parts) written after t0."""
    for path in out.glob(".partial/*/*"):
        try:
            if path.stat().st_mtime > t0:
                return True
        except FileNotFoundError:         # renamed away (an atomic write) between glob and stat
            continue
    return False


def test_ten_sigkills_in_a_row_resume_to_the_uninterrupted_metrics(tmp_path):
    cell = tiny_cell(task={"p": 31}, model={"d_model": 32, "d_mlp": 64},
                     training={"steps": 600, "eval_every": 10, "checkpoint_every": 20, "batch_size": 64, "seeds": [0, 1]})
    reference = train_cell(cell, tmp_path / "ref", progress=False)
    cfg, out = tmp_path / "cell.yaml", tmp_path / "run"
    cfg.write_text(yaml.safe_dump(cell.to_dict()))
    rng = random.Random(0)
    for kill in range(10):
        # even kills: while a checkpoint's temporary file exists (the write is slowed to 0.3 s);
        # odd kills: at a random moment of training
        during_write = kill % 2 == 0
        proc = start_training(cfg, out, GROKLAB_TEST_WRITE_DELAY="0.3" if during_write else "0")
        if during_write:
            hit = wait_for(lambda: list(out.glob(".partial/*/.checkpoint.pt.*.tmp")) or proc.poll() is not None)
            assert hit and proc.poll() is None, f"kill {kill}: the run ended before a checkpoint write"
        else:
            # a random moment of training: after this run's first write (start-up and resume are
            # over; a fixed sleep outlasted the whole run once start-up got faster), then 0-0.5 s on
            started = time.time()
            wait_for(lambda: wrote_since(out, started) or proc.poll() is not None)
            time.sleep(rng.uniform(0.0, 0.5))
        assert proc.poll() is None, f"kill {kill}: the run ended before it was killed (budget too short for ten kills)"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (out / "metrics.parquet").exists(), f"kill {kill}: a killed run left final metrics"
    resumed = train_cell(cell, out, progress=False)
    pd.testing.assert_frame_equal(resumed, reference, check_exact=True)


def test_a_second_snakemake_on_the_same_results_refuses(tmp_path):
    workdir = copy_workflow(tmp_path)
    (workdir / "slow.yaml").write_text(yaml.safe_dump({
        "cell": {"task": {"p": 31}, "model": {"d_model": 64, "d_mlp": 256},
                 "training": {"steps": 3000, "eval_every": 100, "seeds": [0], "device": "cpu", "compile": False}}}))
    exe = os.path.dirname(sys.executable)
    first = subprocess.Popen(["snakemake", "--cores", "1", "--configfile", "slow.yaml"], cwd=workdir,
                             env={**os.environ, "PATH": f"{exe}:{os.environ['PATH']}"},
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: any((workdir / ".snakemake" / "locks").glob("*")), timeout=120)
        second = run_cli("snakemake", "--cores", "1", "--configfile", "slow.yaml", cwd=workdir)
        assert second.returncode != 0
        assert "Directory cannot be locked" in second.stderr + second.stdout
        assert first.poll() is None, "the first run must not be disturbed"
    finally:
        first.send_signal(signal.SIGINT)
        first.wait(timeout=120)
