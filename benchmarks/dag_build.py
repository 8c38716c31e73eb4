"""How long `snakemake -n` takes to plan a 2,000-cell matrix, and how much of that is `expand()`.

Writes a temporary config (the default config.yaml's base cell, a 5 x 4 x 5 x 4 x 5 matrix over
operations, lr, weight decay, init scheme and split seed), copies the workflow files into a
temporary directory (as tests/test_workflow.py does, so nothing locks or writes into the
checkout) and times `snakemake -n --cores 1` there. A second config keeps 2,000 cells but
drops 100 with matrix.exclude, adds 100 with matrix.include and names 50 studies.

    .venv/bin/python benchmarks/dag_build.py [--rounds 3] [--pythonpath DIR]

--pythonpath puts DIR in front of the installed package (e.g. an older src/ from `git archive`)
to compare versions on the same machine. Prints a markdown table; times are medians.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
AXES = {
    "op": {"key": "task.operations", "values": {o: [o] for o in ("add", "sub", "mul", "div", "x2_plus_y2")}},
    "lr": {"key": "optimizer.lr", "values": [0.0003, 0.001, 0.003, 0.01]},
    "wd": {"key": "optimizer.weight_decay", "values": [0.0, 0.1, 0.3, 1.0, 3.0]},
    "init": {"key": "init.scheme", "values": ["default", "sparse", "scale", "low_rank"]},
    "split": {"key": "task.split_seed", "values": [0, 1, 2, 3, 4]},
}

# Times expand() in a fresh interpreter, so --pythonpath picks the version under test for it too.
EXPAND_TIMER = """
import copy, sys, time, yaml
from groklab.config.matrix import expand
config = yaml.safe_load(open(sys.argv[1]))
t = time.perf_counter()
cells = expand(copy.deepcopy(config))
print(len(cells), time.perf_counter() - t)
"""


def base_config() -> dict:
    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    config["cell"]["task"]["p"] = 97  # prime, so div is valid
    config["matrix"] = {"axes": AXES}
    return config


def with_extras(config: dict) -> dict:
    """Same size, but through every matrix feature: 100 cells excluded, 100 included, 50 studies."""
    config = {**config, "matrix": {**config["matrix"]}}
    config["matrix"]["exclude"] = [{"op": "div", "init": "low_rank"}]
    config["matrix"]["include"] = [
        {"name": f"sgd-split{s}", "set": {"optimizer.name": "sgd", "optimizer.lr": 0.1, "task.split_seed": s}}
        for s in range(100)
    ]
    config["studies"] = {
        f"sgd{s}": {"baseline": f"op~add__lr~0.001__wd~1__init~default__split~{s % 5}",
                    "variants": [f"sgd-split{s}", f"sgd-split{s + 50}"]}
        for s in range(50)
    }
    return config


def workdir(tmp: Path) -> Path:
    work = tmp / "work"
    work.mkdir()
    for name in ("Snakefile", "config.yaml", "workflow"):
        src = ROOT / name
        (shutil.copytree if src.is_dir() else shutil.copy)(src, work / name)
    return work


def run_dry(work: Path, config_path: Path, results: Path, env: dict) -> tuple[int, float]:
    """(jobs planned, wall seconds) of one `snakemake -n`."""
    snakemake = Path(sys.executable).parent / "snakemake"
    cmd = [str(snakemake), "-n", "--cores", "1", "--configfile", str(config_path), "--config", f"results_dir={results}", "results_dir_outside=true"]
    t = time.perf_counter()
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        sys.exit(f"snakemake -n failed:\n{out.stderr[-3000:]}")
    jobs = re.search(r"^total\s+(\d+)", out.stdout, re.M)
    return int(jobs.group(1)) if jobs else 0, wall


def time_expand(config_path: Path, env: dict) -> tuple[int, float]:
    out = subprocess.run([sys.executable, "-c", EXPAND_TIMER, str(config_path)], capture_output=True, text=True,
                         env=env, check=True)
    n, seconds = out.stdout.split()
    return int(n), float(seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pythonpath", default=None, help="directory put in front of the installed groklab")
    args = parser.parse_args()
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}")
    if args.pythonpath:
        env["PYTHONPATH"] = os.path.abspath(args.pythonpath)
    configs = {"axes only": base_config(), "exclude + include + studies": with_extras(base_config())}
    walls = {label: [] for label in configs}
    expands = {label: [] for label in configs}
    counts = {}
    with tempfile.TemporaryDirectory(prefix="dag_build-") as tmp:
        tmp = Path(tmp)
        work = workdir(tmp)
        paths = {}
        for i, (label, config) in enumerate(configs.items()):
            paths[label] = tmp / f"config{i}.yaml"
            paths[label].write_text(yaml.safe_dump(config, sort_keys=False))
        for _ in range(args.rounds):  # configs interleaved, so load from other jobs hits them alike
            for label, path in paths.items():
                jobs, wall = run_dry(work, path, tmp / "results", env)
                cells, seconds = time_expand(path, env)
                walls[label].append(wall)
                expands[label].append(seconds)
                counts[label] = (cells, jobs)
    rows = [(label, *counts[label], statistics.median(walls[label]), statistics.median(expands[label]))
            for label in configs]
    print("| config | cells | jobs planned | `snakemake -n` wall s | `expand()` s |")
    print("|---|---|---|---|---|")
    for label, cells, jobs, wall, seconds in rows:
        print(f"| {label} | {cells:,} | {jobs:,} | {wall:.2f} | {seconds:.2f} |")


if __name__ == "__main__":
    main()
