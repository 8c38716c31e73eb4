"""The default's p = 59 packs, compiled (training.compile) vs eager: model-steps/s in one run.

For each pack the workflow forms from config.yaml (the same cells, observables off):
  1. warm-up: the first compiled steps in a fresh inductor cache (what a run's first job of a shape
     pays), then again after torch._dynamo.reset() with that cache on disk (what later jobs pay);
  2. rounds interleaving eager and compiled train steps (forward, loss, backward, optimizer), each
     reported by its median round (these machines are noisy);
  3. one pack of --big models of the default's cell at p = 23 (full batch), eager and compiled,
     against the FLOP limit (pack_throughput's matmul count over this run's sgemm rate).
Evaluations are not timed: they run eagerly in both settings (docs/training.md).
Usage: python benchmarks/default_pack_compiled.py [--config config.yaml] [--rounds 3] [--steps 20] [--big 32]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import tempfile
import time
from pathlib import Path

import torch
import yaml

from groklab.config.matrix import expand
from groklab.training import compiled
from groklab.training.packs import form_packs
from groklab.training.resources import reexec_with_single_arena, tune_allocator

from pack_throughput import CPU, flops_per_model_step, matmul_rate, pack_run, quiet, time_steps


def warm_up(cells, tmp, steps: int = 3) -> float:
    """Seconds for the first `steps` compiled steps of a new PackRun (compiling included)."""
    t = time.perf_counter()
    run = pack_run(cells, CPU, tmp)
    for _ in range(steps):
        run.train_step()
    return time.perf_counter() - t


def main() -> None:
    reexec_with_single_arena()
    tune_allocator()
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--big", type=int, default=32)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    os.environ[compiled.CACHE_ENV] = str(tmp / "inductor")        # cold: a fresh cache
    compiled.configure()
    configs = {c.id: c.config for c in expand(yaml.safe_load(open(args.config)))}
    packs = form_packs(configs)
    mode = {on: {p.id: [quiet(configs[i]).replace_training(compile=on) for i in p.cells] for p in packs}
            for on in (False, True)}
    print(f"threads {torch.get_num_threads()}; {len(packs)} packs: " + ", ".join(f"{p.id} ({p.models})" for p in packs))
    cold = {p.id: warm_up(mode[True][p.id], tmp) for p in packs}
    torch._dynamo.reset()                                          # in-memory graphs gone, disk cache kept
    warm = {p.id: warm_up(mode[True][p.id], tmp) for p in packs}
    runs = {on: {p.id: pack_run(mode[on][p.id], CPU, tmp) for p in packs} for on in (False, True)}
    for p in packs:
        runs[True][p.id].train_step()                              # the graphs are loaded
    secs = {on: {p.id: [] for p in packs} for on in (False, True)}
    work = {}
    for _ in range(args.rounds):
        for p in packs:
            for on in (False, True):
                s, n = time_steps(runs[on][p.id], args.steps)
                secs[on][p.id].append(s)
                work[p.id] = n
    print("\n| pack | models | warm-up cold s | warm-up cached s | eager model-steps/s | compiled model-steps/s | speedup |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    tot = {False: 0.0, True: 0.0}
    for p in packs:
        r = {on: work[p.id] / statistics.median(secs[on][p.id]) for on in (False, True)}
        for on in (False, True):
            tot[on] += statistics.median(secs[on][p.id])
        print(f"| {p.id} | {p.models} | {cold[p.id]:.1f} | {warm[p.id]:.1f} | {r[False]:.0f} | {r[True]:.0f} | "
              f"{r[True] / r[False]:.2f}x |")
    n = sum(work.values())
    print(f"\nall packs: eager {n / tot[False]:.0f}, compiled {n / tot[True]:.0f} model-steps/s: "
          f"{tot[False] / tot[True]:.2f}x")
    big_pack(quiet(configs[packs[0].cells[0]]), args, tmp)


def big_pack(base, args, tmp) -> None:
    """Model-steps/s of one p = 23 pack of args.big models, eager vs compiled, against the FLOP limit."""
    cell = dataclasses.replace(base, task=dataclasses.replace(base.task, p=23))
    cell = cell.replace_training(seeds=tuple(range(args.big)))
    runs = {on: pack_run([cell.replace_training(compile=on)], CPU, tmp) for on in (False, True)}
    for run in runs.values():
        run.train_step()                                           # compiled: the graphs are built
    secs = {False: [], True: []}
    for _ in range(args.rounds):
        for on in (False, True):
            s, n = time_steps(runs[on], args.steps)
            secs[on].append(s)
    limit = matmul_rate() / flops_per_model_step(cell)
    print(f"\none pack of {args.big} at p = 23, d = {cell.model.d_model} (FLOP limit {limit:.0f} model-steps/s):")
    for on in (False, True):
        r = n / statistics.median(secs[on])
        print(f"  {'compiled' if on else 'eager'}: {r:.0f} model-steps/s, {100 * r / limit:.0f} % of the FLOP limit")


if __name__ == "__main__":
    main()
