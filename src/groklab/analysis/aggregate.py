"""Collect every cell's metrics into results/summary/runs.parquet (one row per model)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from groklab.analysis.events import cell_events


def load_run(run_dir: str | Path) -> tuple[dict, pd.DataFrame]:
    """A finished cell directory -> (config.json record, metrics dataframe)."""
    run_dir = Path(run_dir)
    record = json.loads((run_dir / "config.json").read_text())
    return record, pd.read_parquet(run_dir / "metrics.parquet")


def summarise_runs(run_dirs: list[str | Path]) -> pd.DataFrame:
    frames = []
    for run_dir in run_dirs:
        record, metrics = load_run(run_dir)
        ev = cell_events(metrics, record["config"])
        ev.insert(0, "cell_hash", record["hash"])
        ev.insert(0, "cell", record["name"])
        ev.insert(0, "cell_id", Path(run_dir).name)
        frames.append(ev)
    return pd.concat(frames, ignore_index=True)
