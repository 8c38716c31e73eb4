"""Readers of result files shared by the figures, the mechanics analysis and the paper's queries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from groklab.analysis.events import run_events


def cell_frames(paths: list[str], cells: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per-cell parquet files (results/runs/<id>/X.parquet) -> {cell name: frame}, in input order.
    The one run-directory reader: a file's cell is named by its directory (the cell id) through `cells`."""
    return {cells[Path(p).parent.name]: pd.read_parquet(p) for p in paths}


def cell_table(paths: list[str], cells: dict[str, str]) -> pd.DataFrame:
    """Per-cell parquet files -> one frame, in input order, with a `cell` column (`cell_frames`)."""
    return pd.concat([frame.assign(cell=cell) for cell, frame in cell_frames(paths, cells).items()], ignore_index=True)


def grok_steps(runs: pd.DataFrame, cell: str) -> pd.Series:
    """Per seed of a cell: the run's grok step (`groklab.analysis.events.run_grok_step`: the step its
    last operation grokked, NaN if any never did)."""
    return run_events(runs[runs["cell"] == cell]).set_index("seed")["grok_step"]


def grokked_events(runs: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """(cell, seed, memorisation_step, grok_step) of the runs of `cells` in which every operation
    grokked after memorising (multi-task: the last operation's steps; `run_events`)."""
    ev = run_events(runs[runs["cell"].isin(cells)])
    return ev.loc[ev["grokked"] & (ev["grok_step"] > ev["memorisation_step"]), ["cell", "seed", "memorisation_step", "grok_step"]]


def observable_definitions(paths: list[str], cells: dict[str, str]) -> pd.DataFrame:
    """observables.parquet files -> one frame (cell, seed, step, one column per definition: the
    mean over its sites, e.g. weights.l2 = mean of weights.l2[W_E], weights.l2[W_U], ...)."""
    frames = []
    for cell, obs in cell_frames(paths, cells).items():
        defs = {}
        for col in obs.columns.drop(["seed", "step"]):
            defs.setdefault(col.split("[", 1)[0], []).append(col)
        means = pd.DataFrame({d: obs[cols].mean(axis=1) for d, cols in defs.items()})
        frames.append(pd.concat([obs[["seed", "step"]], means], axis=1).assign(cell=cell))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["cell", "seed", "step"])
