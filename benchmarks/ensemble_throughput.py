"""Model-steps per second of groklab's ensemble trainer vs a plain full-sequence PyTorch loop.

All variants of a table are timed interleaved in rounds within one run (these machines are
noisy) and reported by their median round. Prints:
  1. default model (1 layer, d=128, 4 heads, d_mlp=512, p=97, 30% data, full batch):
     reference full-sequence model one after another, groklab E=1 one after another,
     groklab ensembles E=8, E=16 and the E the trainer picks;
  2. small cells (p=23; config.yaml's d=64 model and a d=32 one): groklab E=1 sequential vs E=32;
  3. peak RSS of a default training job at the picked E, for two budgets (must not grow).
Usage: python benchmarks/ensemble_throughput.py [--rounds 5] [--steps 20] [--device cpu|cuda]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import subprocess
import sys
import time

import torch

from groklab.config.cells import CellConfig
from groklab.training.data import make_split
from groklab.training.models import build_model
from groklab.training.models.reference import ReferenceTransformer
from groklab.training.optimizer import EnsembleOptimizer
from groklab.training.resources import pick_ensemble_size, reexec_with_single_arena, tune_allocator
from groklab.training.losses import per_model_loss

DEFAULT = {"task": {"p": 97, "train_fraction": 0.3}, "model": {"d_model": 128, "n_heads": 4, "d_mlp": 512}}
SMALL = {"task": {"p": 23, "train_fraction": 0.5}, "model": {"d_model": 64, "n_heads": 4, "d_mlp": 256}}  # config.yaml's model
TINY = {"task": {"p": 23, "train_fraction": 0.5}, "model": {"d_model": 32, "n_heads": 4, "d_mlp": 128}}


def cell_with(spec: dict, seeds: int) -> CellConfig:
    return CellConfig.from_dict({**spec, "training": {"seeds": list(range(seeds))}})


class Variant:
    """Trains `models` models for `steps` steps per call, as `groups` ensembles of size E (or reference)."""

    def __init__(self, name, cell, E, n_models, device, reference=False):
        self.name, self.E, self.n_models, self.times = name, E, n_models, []
        split = make_split(cell.task)
        self.x, self.y = split.train_x.to(device), split.train_y.to(device)
        self.units = []
        for g in range(n_models // E):
            model = build_model(cell, list(range(g * E, (g + 1) * E))).to(device)
            if reference:
                model = ReferenceTransformer.from_ensemble(model, 0).to(device)
                opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
            else:   # the trainer's own per-model optimizer (groklab.training.optimizer)
                cfg = dataclasses.replace(cell.optimizer, name="adamw", lr=1e-3, weight_decay=1.0, betas=(0.9, 0.98))
                opt = EnsembleOptimizer(list(model.parameters()), cfg, model.seeds, cell.total_steps)
            self.units.append((model, opt))
        self.reference = reference

    def step(self):
        for model, opt in self.units:
            if self.reference:   # the public grokking code's loop: logits of all positions, keep the last
                loss = torch.nn.functional.cross_entropy(model(self.x), self.y)
            else:
                loss = per_model_loss(model(self.x), self.y).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    def time(self, steps, device):
        self.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        for _ in range(steps):
            self.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        self.times.append((time.perf_counter() - t) / steps)

    @property
    def model_steps_per_s(self) -> float:
        return self.n_models / statistics.median(self.times)


def run_table(title, variants, rounds, steps, device, bases):
    for _ in range(rounds):
        for v in variants:
            v.time(steps, device)
    refs = [next(v for v in variants if v.name == b).model_steps_per_s for b in bases]
    print(f"\n## {title}\n\n| variant | E | models | ms/call (median) | model-steps/s | "
          + " | ".join(f"vs {b}" for b in bases) + " |")
    print("|---" * (5 + len(bases)) + "|")
    for v in variants:
        ratios = " | ".join(f"{v.model_steps_per_s / r:.2f}x" for r in refs)
        print(f"| {v.name} | {v.E} | {v.n_models} | {1e3 * statistics.median(v.times):.1f} | "
              f"{v.model_steps_per_s:.1f} | {ratios} |")


# VmHWM, not ru_maxrss: Linux carries ru_maxrss across fork+exec, so a child would report
# the benchmark parent's high-water mark.
RSS_CHILD = """
import json, re, sys, tempfile
from groklab.config.cells import CellConfig
from groklab.training.job import train_cell
spec = json.loads(sys.argv[1])
with tempfile.TemporaryDirectory() as d:
    train_cell(CellConfig.from_dict(spec), d, progress=False)
print(int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) / 1024)
"""


def peak_rss_mib(steps: int, seeds: int) -> float:
    spec = {**DEFAULT, "training": {"steps": steps, "eval_every": 10, "checkpoint_every": 50,
                                    "seeds": list(range(seeds)), "device": "cpu"}}
    out = subprocess.run([sys.executable, "-c", RSS_CHILD, json.dumps(spec)], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    ap.add_argument("--skip-rss", action="store_true")
    ap.add_argument("--only-rss", action="store_true")
    args = ap.parse_args()
    reexec_with_single_arena()
    device = torch.device(args.device)
    tune_allocator()
    print(f"# ensemble throughput on {device} ({torch.get_num_threads()} threads, torch {torch.__version__})")

    if not args.only_rss:
        throughput_tables(args, device)
    if not args.skip_rss and device.type == "cpu":
        print("\n## peak RSS (VmHWM) of a default training job (8 seeds, picked E, eval every 10, checkpoint every 50)\n")
        print("| steps | peak RSS (MiB) |\n|---|---|")
        for steps in (100, 400):
            print(f"| {steps} | {peak_rss_mib(steps, 8):.0f} |")


def throughput_tables(args, device):
    n = 64 if device.type == "cuda" else 16
    cell = cell_with(DEFAULT, n)
    auto_E = pick_ensemble_size(cell, device, len(make_split(cell.task).train_y))
    Es = [8, 16] if device.type == "cpu" else [64]
    variants = [Variant("reference full-sequence, sequential", cell, 1, n, device, reference=True),
                Variant("groklab E=1, sequential", cell, 1, n, device)]
    variants += [Variant(f"groklab ensemble E={E}", cell, E, n, device) for E in Es if n % E == 0]
    if auto_E not in Es and n % auto_E == 0:
        variants.append(Variant(f"groklab ensemble E={auto_E} (picked)", cell, auto_E, n, device))
    run_table(f"default model, p=97, full batch, {n} models (trainer picks E={auto_E})",
              variants, args.rounds, args.steps, device,
              ["reference full-sequence, sequential", "groklab E=1, sequential"])

    for title, spec in (("config.yaml's model: p=23, d=64, d_mlp=256", SMALL), ("tiny model: p=23, d=32, d_mlp=128", TINY)):
        small = cell_with(spec, 32)
        run_table(f"small cell, {title}, full batch, 32 models",
                  [Variant("groklab E=1, sequential", small, 1, 32, device),
                   Variant("groklab ensemble E=32", small, 32, 32, device)],
                  args.rounds, args.steps * 3, device, ["groklab E=1, sequential"])


if __name__ == "__main__":
    main()
