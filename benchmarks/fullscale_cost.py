"""Cost of the full-scale configs on this machine: seconds per training step of each config's
base cell (the real trainer, observables on as configured, E = the cell's seeds), measured over a
short run after a warm-up, extrapolated to the cell's budget and to the whole matrix.

Usage: python benchmarks/fullscale_cost.py [--steps 40] [--configs config/paper-full.yaml config/nanda2023.yaml]
The extrapolation assumes every cell runs its whole budget (no early stop), so it is an upper
bound; multi-task cells are counted with their scaled budgets.
"""

from __future__ import annotations

import argparse
import tempfile
import time

import yaml

from groklab.config.cells import CellConfig
from groklab.config.matrix import expand
from groklab.training.resources import reexec_with_single_arena
from groklab.training.job import train_cell


def seconds_per_step(cell: CellConfig, steps: int) -> float:
    """Wall time per step of `steps` steps beyond a 5-step warm-up (both include their evals)."""
    def run(n: int) -> float:
        short = cell.replace_training(steps=n, checkpoint_every=n, early_stop_evals=0,
                                      eval_every=min(cell.training.eval_every, n))
        with tempfile.TemporaryDirectory() as d:
            t = time.perf_counter()
            train_cell(short, d, progress=False)
            return time.perf_counter() - t
    warm = run(5)
    return (run(5 + steps) - warm) / steps


def main() -> None:
    reexec_with_single_arena()
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--configs", nargs="+", default=["config/paper-full.yaml", "config/nanda2023.yaml"])
    args = ap.parse_args()
    for path in args.configs:
        raw = yaml.safe_load(open(path))
        cells = expand(raw)
        base = cells[0].config.replace_training(device="cpu")
        per_step = seconds_per_step(base, args.steps)
        E = len(base.training.seeds)
        total_steps = sum(c.config.total_steps for c in cells)
        print(f"{path}: base cell {cells[0].name}, E={E} seeds together: {1000 * per_step:.1f} ms/step "
              f"({1000 * per_step / E:.1f} ms per model-step); budget {base.total_steps:,} steps -> "
              f"{per_step * base.total_steps / 3600:.1f} h for the base cell; all {len(cells)} cells "
              f"({total_steps:,} steps) -> {per_step * total_steps / 3600:.0f} CPU-hours on this machine (upper bound)")


if __name__ == "__main__":
    main()
