"""Collect every cell's metrics into results/summary/runs.parquet (one row per model)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from groklab.analysis.events import cell_events
from groklab.analysis.phases import phase_columns


def load_run(run_dir: str | Path) -> tuple[dict, pd.DataFrame]:
    """A finished cell directory -> (config.json record, metrics dataframe)."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    return record, pd.read_parquet(run_dir / "metrics.parquet")


def with_phases(ev: pd.DataFrame, metrics: pd.DataFrame, run_dir: Path, config: dict) -> pd.DataFrame:
    """ev (one row per seed and operation) + Nanda et al.'s phase ends and their Fourier evidence
    (groklab.analysis.phases), from the cell's metrics and observables.parquet."""
    path = run_dir / "observables.parquet"
    obs = pd.read_parquet(path) if path.exists() else pd.DataFrame({"seed": [], "step": []})
    tr, ops = config["training"], config["task"]["operations"]
    thresholds = {k: tr[k] for k in ("memorise_threshold", "grok_threshold")}
    rows = [phase_columns(metrics, obs, thresholds, int(r.seed), r.operation if len(ops) > 1 else "")
            for r in ev.itertuples()]
    return pd.concat([ev, pd.DataFrame(rows, index=ev.index)], axis=1)


def summarise_runs(run_dirs: list[str | Path]) -> pd.DataFrame:
    """One row per (model, operation): events (groklab.analysis.events) and phases."""
    frames = []
    for run_dir in run_dirs:
        record, metrics = load_run(run_dir)
        ev = with_phases(cell_events(metrics, record["config"]), metrics, Path(run_dir), record["config"])
        ev.insert(0, "cell_hash", record["hash"])
        ev.insert(0, "cell", record["name"])
        ev.insert(0, "cell_id", Path(run_dir).name)
        frames.append(ev)
    return pd.concat(frames, ignore_index=True)


def flat_config(config: dict, prefix: str = "") -> dict:
    """A resolved cell config as dotted scalar columns ("optimizer.lr": 0.01); a list or mapping
    value (operations, betas, filters, interventions) as its JSON text, so every column is a scalar."""
    out = {}
    for key, value in config.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict) and value:          # a section or a sub-object (schedule, observables)
            out |= flat_config(value, f"{name}.")
        else:
            out[name] = json.dumps(value, sort_keys=True) if isinstance(value, (list, dict)) else value
    return out


def cells_table(run_dirs: list[str | Path], axes: dict[str, dict[str, str]],
                studies: dict[str, tuple[str, list[str]]]) -> pd.DataFrame:
    """One row per cell: id, name, hash, every matrix axis's value label (None for an include),
    every resolved config value (flat_config), `operations` ("div+mul"), and per study its role
    (`study.<name>`: baseline / variant / None) with `studies`, the cell's studies comma-joined.

    axes: cell id -> {axis: value label}; studies: name -> (baseline name, variant names)."""
    axis_names = list(dict.fromkeys(a for labels in axes.values() for a in labels))
    rows = []
    for run_dir in run_dirs:
        run_dir = Path(run_dir)
        record = json.loads((run_dir / "config.json").read_text())
        name, labels = record["name"], axes.get(run_dir.name, {})
        roles = {s: "baseline" if name == base else "variant" if name in variants else None
                 for s, (base, variants) in studies.items()}
        rows.append({"cell_id": run_dir.name, "cell": name, "cell_hash": record["hash"],
                     **{a: labels.get(a) for a in axis_names},
                     "operations": "+".join(record["config"]["task"]["operations"]),
                     "studies": ",".join(s for s, role in roles.items() if role),
                     **{f"study.{s}": role for s, role in roles.items()}, **flat_config(record["config"])})
    return pd.DataFrame(rows)
