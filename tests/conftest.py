import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from groklab.config.cells import CellConfig

ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("MALLOC_ARENA_MAX", "1")


def tiny_cell(**sections) -> CellConfig:
    """A cell small enough to train hundreds of steps in a second or two."""
    base = {
        "task": {"p": 13, "train_fraction": 0.5},
        "model": {"d_model": 16, "n_heads": 2, "d_mlp": 32},
        "training": {"steps": 60, "eval_every": 10, "checkpoint_every": 20, "seeds": [0, 1, 2], "device": "cpu"},
    }
    for key, value in sections.items():
        base[key] = {**base.get(key, {}), **value}
    return CellConfig.from_dict(base)


def kill_after_first_checkpoint(cell_file: Path, out: Path, *extra: str) -> None:
    """Start `groklab train` on a cell file, SIGKILL it as soon as its first checkpoint exists, and
    check that the kill left a checkpoint and no final metrics."""
    proc = subprocess.Popen([sys.executable, "-m", "groklab.cli", "train", "--config", str(cell_file), "--out", str(out),
                             "--quiet", *extra])
    deadline = time.time() + 120
    while time.time() < deadline and not list(out.glob(".partial/*/checkpoint.pt")):
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list(out.glob(".partial/*/checkpoint.pt")), "no checkpoint written before the kill"
    assert not (out / "metrics.parquet").exists(), "killed run must not leave final metrics"


def run_cli(*args, cwd=ROOT, timeout=600, **kw) -> subprocess.CompletedProcess:
    exe = Path(sys.executable).parent
    return subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "PATH": f"{exe}:{os.environ['PATH']}"}, **kw)


@pytest.fixture
def root() -> Path:
    return ROOT


def copy_workflow(dest: Path, extra: tuple[str, ...] = ()) -> Path:
    """A copy of the workflow (Snakefile, config.yaml, workflow/, the hand-written paper/main.tex and
    `extra` paths), so a test never locks or writes into the checkout."""
    dest.mkdir(parents=True, exist_ok=True)
    for name in ("Snakefile", "config.yaml", "workflow", *extra):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, dest / name)
    (dest / "paper").mkdir(exist_ok=True)
    shutil.copy(ROOT / "paper" / "main.tex", dest / "paper" / "main.tex")
    return dest


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole workflow run once on tests/data/tiny.yaml (a few minutes), shared by the tests
    that read its results; a test that damages them works on a copy."""
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny-run"))
    shutil.copy(ROOT / "tests" / "data" / "tiny.yaml", workdir / "tiny.yaml")
    out = run_cli("snakemake", "--cores", "2", "--configfile", "tiny.yaml", cwd=workdir)
    assert out.returncode == 0, out.stderr[-3000:]
    return workdir


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (rep_setup, rep_call), for fixtures that act on failure."""
    outcome = yield
    setattr(item, f"rep_{call.when}", outcome.get_result())


@pytest.fixture
def artifacts(request, tmp_path) -> Path:
    """A folder for a test's screenshots and the like; if the test fails, it is copied to
    results/test-artifacts/<test name>/ of the checkout (git-ignored), to be looked at after the run."""
    folder = tmp_path / "artifacts"
    folder.mkdir()
    yield folder
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        dest = ROOT / "results" / "test-artifacts" / request.node.name
        shutil.rmtree(dest, ignore_errors=True)
        shutil.copytree(folder, dest)
        print(f"artifacts of the failed test: {dest}")
