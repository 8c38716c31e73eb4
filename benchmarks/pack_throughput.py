"""Model-steps per second of the default matrix's cells: one job per cell vs packs vs packs with compaction.

In one run, interleaved in rounds (these machines are noisy), each reported by its median round:
  1. as before packs: one ensemble per cell (E = its 3 seeds), the cells one after another;
  2. packed: the packs groklab.training.packs forms from config.yaml, one after another;
  3. packed with compaction: the same packs on a schedule where model i of a pack stops after
     a fraction (0.25 .. 1, spread evenly) of the budget and leaves the live tensors; counted
     in the model-steps the models needed (sum of their own steps);
  4. the FLOP-limit estimate: matmul FLOPs of a model-step (forward + backward = 3 x forward),
     against this run's measured float32 matmul rate (a 2048^2 sgemm);
  5. one p = 23, d = 64 pack of --big models (the >= 60 % of the FLOP limit target).
Only training steps are timed (train_step: forward, loss, backward, optimizer), no evals.
Usage: python benchmarks/pack_throughput.py [--config config.yaml] [--rounds 3] [--steps 20] [--big 32]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
import yaml

from groklab.config.matrix import expand
from groklab.training.data import make_split
from groklab.training.loop import PackRun
from groklab.training.member import Member
from groklab.training.packs import form_packs
from groklab.training.resources import reexec_with_single_arena, tune_allocator

CPU = torch.device("cpu")


def quiet(cell):
    """The cell without observables and interventions (no evals run here; a map reader would need the map)."""
    import dataclasses
    return cell.replace_training(observables=dataclasses.replace(cell.training.observables, enabled=False),
                                 interventions=())


def pack_run(cells, device, tmp) -> PackRun:
    members = [Member(c, list(c.training.seeds), make_split(c.task), device, tmp) for c in cells]
    return PackRun(members, device, tmp, "bench")


def time_steps(run: PackRun, steps: int, stops: list[int] | None = None) -> tuple[float, int]:
    """Seconds for `steps` train steps and the model-steps done; with `stops`, model i (in pack
    order) leaves after stops[i] steps."""
    done, t = 0, time.perf_counter()
    alive = list(range(run.E))                       # original index of each live row
    for s in range(1, steps + 1):
        run.train_step()
        done += run.E
        if stops is not None:
            leaving = [stops[i] <= s for i in alive]
            if any(leaving):
                per_member, k = [], 0
                for m in run.members:
                    per_member.append(torch.tensor(leaving[k : k + m.n], dtype=torch.bool))
                    k += m.n
                run._remove(per_member)
                alive = [i for i, gone in zip(alive, leaving) if not gone]
                if not alive:
                    break
    return time.perf_counter() - t, done


def flops_per_model_step(cell) -> float:
    """Matmul FLOPs of one full-batch model-step of the 1-layer table transformer, 3 x forward."""
    t, m = cell.task, cell.model
    T, V, d, F, H, C = t.seq_len, t.vocab_size, m.d_model, m.n_heads * m.head_dim, m.n_heads, t.n_classes
    B = int(round(t.train_fraction * (t.p * (t.p - 1) if t.operations == ("div",) else t.p * t.p))) * len(t.operations)
    tables = 2 * (2 * T * V * d * F) + 2 * V * d * F + 2 * V * F * T * V
    per_example = 2 * T * F + 2 * F * d + 2 * 2 * d * m.d_mlp + 2 * d * C
    return 3.0 * (tables + B * per_example)


def matmul_rate(n: int = 2048, reps: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    t = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - t)


def main() -> None:
    reexec_with_single_arena()
    tune_allocator()
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", default="config.yaml")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--big", type=int, default=32)
    args = ap.parse_args()
    import tempfile
    tmp = __import__("pathlib").Path(tempfile.mkdtemp())
    configs = {c.id: c.config for c in expand(yaml.safe_load(open(args.config)))}
    packs = form_packs(configs)                                    # the packs the workflow trains
    cells = {k: quiet(c) for k, c in configs.items()}
    print(f"threads {torch.get_num_threads()}; {len(cells)} cells, {sum(len(c.training.seeds) for c in cells.values())} "
          f"models; {len(packs)} packs: " + ", ".join(f"{p.id} ({p.models})" for p in packs))
    base = next(iter(cells.values()))
    big = base.replace_training(seeds=tuple(range(args.big)))
    times = {k: [] for k in ("per cell", "packed", "compaction", f"one pack of {args.big}")}
    work = {}
    for _ in range(args.rounds):
        secs = steps = 0
        for c in cells.values():                                   # 1. one job per cell
            s, n = time_steps(pack_run([c], CPU, tmp), args.steps)
            secs, steps = secs + s, steps + n
        times["per cell"].append(secs); work["per cell"] = steps
        secs = steps = 0
        for p in packs:                                            # 2. packed
            s, n = time_steps(pack_run([cells[i] for i in p.cells], CPU, tmp), args.steps)
            secs, steps = secs + s, steps + n
        times["packed"].append(secs); work["packed"] = steps
        secs = steps = 0
        for p in packs:                                            # 3. packed, models leaving
            stops = [max(1, round(args.steps * (0.25 + 0.75 * i / max(1, p.models - 1)))) for i in range(p.models)]
            s, n = time_steps(pack_run([cells[i] for i in p.cells], CPU, tmp), args.steps, stops)
            secs, steps = secs + s, steps + n
        times["compaction"].append(secs); work["compaction"] = steps
        s, n = time_steps(pack_run([big], CPU, tmp), args.steps)    # 5. one big pack
        times[f"one pack of {args.big}"].append(s); work[f"one pack of {args.big}"] = n
    rate = matmul_rate()
    flops = flops_per_model_step(base)
    limit = rate / flops
    per_cell = work["per cell"] / statistics.median(times["per cell"])
    print(f"\nmatmul {rate / 1e9:.0f} GFLOP/s; {flops / 1e6:.1f} MFLOP per model-step (p = {base.task.p}, "
          f"d = {base.model.d_model}); FLOP limit {limit:.0f} model-steps/s\n")
    print("| variant | model-steps | seconds (median) | model-steps/s | vs per cell | of FLOP limit |")
    print("|---|---:|---:|---:|---:|---:|")
    for k, ts in times.items():
        r = work[k] / statistics.median(ts)
        print(f"| {k} | {work[k]} | {statistics.median(ts):.2f} | {r:.0f} | {r / per_cell:.2f}x | {100 * r / limit:.0f} % |")


if __name__ == "__main__":
    main()
