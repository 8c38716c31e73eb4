"""Training time with the default observable schedule vs without, on config.yaml's base cell.

Both variants run the real trainer (`train_cell`) and are timed interleaved in rounds (these
machines are noisy); the median round is reported. Then the cost of every expensive
observable (and of all cheap ones together) on one probe of the same cell.
The default length is the base cell's own budget (training.steps): the schedule's fixed costs
(the observations at step 0 and at the budget) weigh on a shortened run more than on the run
the pipeline trains, so a shorter --steps overstates the overhead.
Usage: python benchmarks/observables_overhead.py [--rounds 3] [--steps N] [--config config.yaml] [--models N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import yaml

from groklab.config.cells import CellConfig
from groklab.training.data import make_split
from groklab.training.models import build_model
from groklab.training.observables import REGISTRY, make_probe
from groklab.training.optimizer import EnsembleOptimizer
from groklab.training.resources import reexec_with_single_arena
from groklab.training.job import train_cell


def base_cell(path: str, steps: int | None, enabled: bool, models: int | None = None) -> CellConfig:
    raw = yaml.safe_load(open(path))["cell"]
    raw.setdefault("training", {})
    steps = steps or CellConfig.from_dict(raw).training.steps       # None: the cell's own budget
    raw["training"] = {**raw["training"], "steps": steps, "early_stop_evals": 0, "checkpoint_every": steps,
                       "observables": {"enabled": enabled}}
    if models:          # an ensemble of a pack's size: the default pipeline trains the base cell in a pack
        raw["training"]["seeds"] = list(range(models))
    return CellConfig.from_dict(raw)


def time_training(cell: CellConfig) -> float:
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        train_cell(cell, d, progress=False)
        return time.perf_counter() - t


def observable_costs(cell: CellConfig, repeats: int = 3) -> list[tuple[str, float]]:
    split, seeds = make_split(cell.task), list(cell.training.seeds)
    model = build_model(cell, seeds)
    opt = EnsembleOptimizer(list(model.parameters()), cell.optimizer, seeds, cell.total_steps)
    init = {n: w.detach().clone() for n, w in model.named_weights()}
    t = time.perf_counter()
    probe = make_probe(model, opt, cell, 0, split.train_x, split.train_y, init, None, None)
    costs = [("probe (forward with cache + backward)", time.perf_counter() - t)]
    cheap = [o for o in REGISTRY.values() if o.cost == "cheap"]
    for name, fns in [("all cheap observables", [o.fn for o in cheap])] + [
            (o.name, [o.fn]) for o in REGISTRY.values() if o.cost == "expensive"]:
        runs = []
        for _ in range(repeats):
            for memo in [k for k in vars(probe) if k.startswith("_")]:     # _svals, _fourier_grid: no reuse
                delattr(probe, memo)
            t = time.perf_counter()
            for fn in fns:
                fn(probe)
            runs.append(time.perf_counter() - t)
        costs.append((name, statistics.median(runs)))
    return costs


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, help="training steps (default: the base cell's training.steps)")
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--models", type=int, help="ensemble size (default: the base cell's seeds; `groklab packs` "
                                                "gives the size of the pack it trains in)")
    args = ap.parse_args()
    reexec_with_single_arena()
    on, off = (base_cell(args.config, args.steps, True, args.models),
               base_cell(args.config, args.steps, False, args.models))
    times = {"observables off": [], "observables on (default schedule)": []}
    for _ in range(args.rounds):
        times["observables off"].append(time_training(off))
        times["observables on (default schedule)"].append(time_training(on))
    base = statistics.median(times["observables off"])
    tr = on.training
    print(f"# observables overhead on {args.config}'s base cell ({tr.steps} steps, eval every {tr.eval_every}, "
          f"expensive every {tr.observables.expensive_every} evals, {len(tr.seeds)} seeds, torch {torch.__version__})\n")
    print("| variant | seconds (median) | overhead |\n|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {statistics.median(ts):.2f} | {100 * (statistics.median(ts) / base - 1):+.1f}% |")
    print("\n| observable | seconds per observation (all models) |\n|---|---|")
    for name, seconds in observable_costs(on):
        print(f"| {name} | {seconds:.4f} |")


if __name__ == "__main__":
    main()
