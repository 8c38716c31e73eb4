"""Nanda et al. (2023) on this machine: config/nanda2023.yaml (addition mod 113) for one seed at
a step budget the CPU affords, and one division cell of the default matrix read in the Z_p^*
basis. For each model it prints the key frequencies (the final embedding's top groups in the
operation's basis), the three phase ends, where the restricted, test and excluded losses turn,
and Nanda's two signatures of circuit formation: the restricted loss falls before the test loss,
and the excluded loss rises.

    .venv/bin/python benchmarks/nanda_reproduction.py [--steps 15000] [--division-steps N] [--only division]

(~12 minutes for 15,000 addition steps at ~35 ms a step on this 2-core CPU; the measures every
eval, as Nanda et al.)
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from groklab.analysis.aggregate import summarise_runs
from groklab.config.cells import CellConfig
from groklab.config.matrix import expand
from groklab.training.job import train_cell
from groklab.training.observables.fourier import N_KEY, character_norms, op_grid

ROOT = Path(__file__).resolve().parents[1]


def nanda_cell(steps: int, seed: int) -> CellConfig:
    cell = yaml.safe_load((ROOT / "config" / "nanda2023.yaml").read_text())["cell"]
    cell["training"].update({"seeds": [seed], "steps": steps, "device": "cpu"})
    return CellConfig.from_dict(cell)


def division_cell(steps: int | None, seed: int) -> CellConfig:
    """The default matrix's ops~div cell, one seed, the Fourier measures at every eval; `steps`
    None keeps config.yaml's budget (one owner: the config, not this script)."""
    cells = {c.name: c for c in expand(yaml.safe_load((ROOT / "config.yaml").read_text()))}
    d = cells["ops~div"].config.to_dict()
    d["training"].update({"seeds": [seed], "device": "cpu", **({"steps": steps} if steps else {}),
                          "observables": {**d["training"].get("observables", {}), "expensive_every": 1}})
    return CellConfig.from_dict(d)


def key_frequencies(run: Path, cell: CellConfig) -> list[str]:
    """The final embedding's key groups (frequencies k of Z_p / Z_p^*), largest first."""
    t = cell.task
    grid = op_grid(t.operations[0], 0, t.p, t.n_numbers, 1)
    W_E = torch.load(run / "final.pt", weights_only=False)["models"][0]["model"]["W_E"][None, : grid.basis.n]
    norms = character_norms(grid.basis, W_E)[0]
    names = [grid.basis.group_names[i] for i in range(len(grid.basis.group_names))
             if grid.basis.group_names[i] not in ("0", "zero")]
    order = norms.argsort(descending=True)[: N_KEY[grid.basis.group]].tolist()
    return [names[i] for i in order]


def report(label: str, cell: CellConfig, out: Path, seconds: float) -> dict:
    row = summarise_runs([out]).iloc[0]
    m = pd.read_parquet(out / "metrics.parquet")
    ph = {k: row[f"phase_{k}_end"] for k in ("memorisation", "circuit_formation", "cleanup")}
    ev = {k: row[f"phase_{k}"] for k in ("restricted_fall", "test_fall", "excluded_peak", "restricted_leads",
                                         "excluded_rises")}
    res = {"model": label, "task": f"{cell.task.operations[0]} mod {cell.task.p}", "basis": op_grid(
        cell.task.operations[0], 0, cell.task.p, cell.task.n_numbers, 1).basis.group, "seed": int(row["seed"]),
        "steps_run": int(m["step"].max()), "budget": cell.total_steps, "seconds": round(seconds, 1),
        "final_test_acc": round(float(m["test_acc"].iloc[-1]), 4), "grok_step": row["grok_step"],
        "key_frequencies": key_frequencies(out, cell), **ph, **ev}
    print(f"\n== {label}: {res['task']}, basis {res['basis']}, seed {res['seed']} ==")
    print(f"trained {res['steps_run']} of {res['budget']} steps in {res['seconds']} s; final test accuracy "
          f"{res['final_test_acc']}; grok step {res['grok_step']}")
    print(f"key frequencies: {', '.join(res['key_frequencies'])}")
    print(f"phases end at: memorisation {ph['memorisation']}, circuit formation {ph['circuit_formation']}, "
          f"cleanup {ph['cleanup']}")
    print(f"restricted loss half-way down at {ev['restricted_fall']}, test loss at {ev['test_fall']}: "
          f"restricted falls first: {_yes(ev['restricted_leads'])}")
    print(f"excluded loss peaks at {ev['excluded_peak']} within circuit formation: rises: {_yes(ev['excluded_rises'])}")
    return res


def _yes(v: float) -> str:
    return "n/a" if v != v else ("yes" if v else "no")


def run(label: str, cell: CellConfig, root: Path) -> dict:
    out = root / label
    t0 = time.time()
    train_cell(cell, out, progress=False)
    return report(label, cell, out, time.time() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=15000, help="addition budget (Nanda et al.: 40,000)")
    ap.add_argument("--division-steps", type=int, help="default: config.yaml's budget for ops~div")
    ap.add_argument("--only", choices=["addition", "division"], help="run one of the two models")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, help="also write the results here")
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    with tempfile.TemporaryDirectory() as tmp:
        results = []
        if args.only != "division":
            results.append(run("nanda2023", nanda_cell(args.steps, args.seed), Path(tmp)))
        if args.only != "addition":
            results.append(run("default-division", division_cell(args.division_steps, args.seed), Path(tmp)))
    if args.json:
        args.json.write_text(json.dumps(results, indent=1, default=float))


if __name__ == "__main__":
    main()
