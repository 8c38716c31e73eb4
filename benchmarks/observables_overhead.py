"""Training time with the default observable schedule vs without, on config.yaml's base cell.

Both variants run the real trainer (`train_cell`) and are timed interleaved in rounds, the order
alternating (these machines are noisy); the median of the rounds' on/off ratios is reported. The
training steps' own time wanders by several per cent between identical runs, so the cost that the
observables add is also measured directly: the seconds spent in the evaluations
(`PackRun.evaluate`: metrics, observables) with them on minus those with them off, as a share of
the run without them. Then the cost of every expensive observable (and of all cheap ones together)
on one probe of the same cell.
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
from contextlib import contextmanager

import torch
import yaml

from groklab.config.cells import CellConfig
from groklab.training.data import make_split
from groklab.training.models import build_model
from groklab.training.observables import REGISTRY, make_probe
from groklab.training.optimizer import EnsembleOptimizer
from groklab.training.resources import reexec_with_single_arena
from groklab.training.job import train_cell
from groklab.training.loop import PackRun


def base_cell(path: str, steps: int | None, enabled: bool, models: int | None = None) -> CellConfig:
    raw = yaml.safe_load(open(path))["cell"]
    raw.setdefault("training", {})
    steps = steps or CellConfig.from_dict(raw).training.steps       # None: the cell's own budget
    raw["training"] = {**raw["training"], "steps": steps, "early_stop_evals": 0, "checkpoint_every": steps,
                       "observables": {"enabled": enabled}}
    if models:          # an ensemble of a pack's size: the default pipeline trains the base cell in a pack
        raw["training"]["seeds"] = list(range(models))
    return CellConfig.from_dict(raw)


@contextmanager
def evaluation_seconds():
    """[seconds] spent in PackRun.evaluate (every cell's evaluation callbacks) while inside."""
    spent, original = [0.0], PackRun.evaluate

    def timed(self, *args, **kwargs):
        t = time.perf_counter()
        try:
            return original(self, *args, **kwargs)
        finally:
            spent[0] += time.perf_counter() - t

    PackRun.evaluate = timed
    try:
        yield spent
    finally:
        PackRun.evaluate = original


def time_training(cell: CellConfig) -> tuple[float, float]:
    """(seconds of the whole run, seconds of it in evaluations)."""
    with tempfile.TemporaryDirectory() as d, evaluation_seconds() as spent:
        t = time.perf_counter()
        train_cell(cell, d, progress=False)
        return time.perf_counter() - t, spent[0]


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
    runs = {"off": [], "on": []}                    # (total s, evaluation s) per round
    for r in range(args.rounds):
        for name in (("off", "on") if r % 2 == 0 else ("on", "off")):
            runs[name].append(time_training(off if name == "off" else on))
    ratio = statistics.median(a[0] / b[0] for a, b in zip(runs["on"], runs["off"]))
    observing = statistics.median((a[1] - b[1]) / b[0] for a, b in zip(runs["on"], runs["off"]))
    offs = [t for t, _ in runs["off"]]
    tr = on.training
    print(f"# observables overhead on {args.config}'s base cell ({tr.steps} steps, eval every {tr.eval_every}, "
          f"expensive every {tr.observables.expensive_every} evals, {len(tr.seeds)} seeds, {args.rounds} rounds, "
          f"torch {torch.__version__})\n")
    print("| variant | seconds per round | in evaluations (s) |\n|---|---|---|")
    for name, label in (("off", "observables off"), ("on", "observables on (default schedule)")):
        print(f"| {label} | {', '.join(f'{t:.2f}' for t, _ in runs[name])} | "
              f"{', '.join(f'{e:.2f}' for _, e in runs[name])} |")
    print(f"\noverhead, wall clock (median of the rounds' on/off): {100 * (ratio - 1):+.1f}%")
    print(f"overhead, time observing ((evaluations on - off) / run off, median): {100 * observing:+.1f}%")
    print(f"noise: the off runs span {100 * (max(offs) / min(offs) - 1):.1f}% (slowest / fastest)")
    print("\n| observable | seconds per observation (all models) |\n|---|---|")
    for name, seconds in observable_costs(on):
        print(f"| {name} | {seconds:.4f} |")


if __name__ == "__main__":
    main()
