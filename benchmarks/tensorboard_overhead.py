"""Training time with the TensorBoard view on (the default) vs off, on config.yaml's base cell with
the default observables, at the base cell's seeds and at a pack's size (--models).

Two measures of one cost, from one run: (1) wall clock, both variants interleaved in rounds (these
machines are noisy: identical runs differ by up to ~10 %), the median of the paired ratios; (2) the
view's own time: the wall time inside its methods (CellBoard: building summaries, handing them to
the writers, flushing, opening and closing them) plus the CPU time of the writers' background
threads (serialising and checksumming the events: tensorboard's CRC-32C is pure Python), as a
share of the training time of the same runs, which noise barely touches. Target: <= 2 % (#21).
Usage: python benchmarks/tensorboard_overhead.py [--rounds 5] [--steps 500] [--models 3 24]
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import statistics
import tempfile
import time

import torch
from tensorboard.summary.writer import event_file_writer

from observables_overhead import base_cell   # benchmarks/ is the script's directory
from groklab.config.cells import CellConfig, TensorboardConfig
from groklab.training import tensorboard
from groklab.training.job import train_cell
from groklab.training.resources import reexec_with_single_arena

INSIDE = {"seconds": 0.0}


def _timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        t = time.perf_counter()
        try:
            return fn(*args, **kwargs)
        finally:
            INSIDE["seconds"] += time.perf_counter() - t
    return wrapper


for _name in ("add", "flush", "start", "close"):
    setattr(tensorboard.CellBoard, _name, _timed(getattr(tensorboard.CellBoard, _name)))


def _counted_thread_run(run):
    """The writer thread's run, adding the thread's CPU time to INSIDE when it ends (at close)."""
    @functools.wraps(run)
    def wrapper(self):
        try:
            return run(self)
        finally:
            INSIDE["seconds"] += time.thread_time()
    return wrapper


event_file_writer._AsyncWriterThread.run = _counted_thread_run(event_file_writer._AsyncWriterThread.run)


def with_board(cell: CellConfig, enabled: bool) -> CellConfig:
    board = dataclasses.replace(cell.training.tensorboard, enabled=enabled)
    return cell.replace_training(tensorboard=board)


def time_training(cell: CellConfig) -> tuple[float, float]:
    """(wall seconds, seconds inside the view) of one training run."""
    INSIDE["seconds"] = 0.0
    with tempfile.TemporaryDirectory() as d:
        t = time.perf_counter()
        train_cell(cell, f"{d}/run", progress=False, board=f"{d}/tb")
        return time.perf_counter() - t, INSIDE["seconds"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=500)
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--models", type=int, nargs="+", default=[3, 24])
    args = ap.parse_args()
    reexec_with_single_arena()
    print(f"# TensorBoard overhead on {args.config}'s base cell ({args.steps} steps, observables on, "
          f"{args.rounds} interleaved rounds, torch {torch.__version__}, {torch.get_num_threads()} threads)\n")
    print("| models | off: s (median) | on: s (median) | wall-clock overhead (median paired) | the view's own time | share |")
    print("|---|---|---|---|---|---|")
    for models in args.models:
        cell = base_cell(args.config, args.steps, True, models)
        assert isinstance(cell.training.tensorboard, TensorboardConfig)
        off, on, inside, paired = [], [], [], []
        for r in range(args.rounds):
            # alternate which variant goes first, so a drift in machine speed cancels
            order = (False, True) if r % 2 == 0 else (True, False)
            times = {enabled: time_training(with_board(cell, enabled)) for enabled in order}
            off.append(times[False][0])
            on.append(times[True][0])
            inside.append(times[True][1])
            paired.append(times[True][0] / times[False][0] - 1)
        m_off, m_on = statistics.median(off), statistics.median(on)
        print(f"| {models} | {m_off:.2f} | {m_on:.2f} | {100 * statistics.median(paired):+.1f}% | "
              f"{statistics.median(inside):.3f} s | {100 * statistics.median(inside) / m_off:.2f}% |")


if __name__ == "__main__":
    main()
