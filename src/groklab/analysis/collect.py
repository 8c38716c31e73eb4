"""Readers of result files shared by the figures, the mechanics analysis and the paper's queries."""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def cell_frames(paths: list[str], cells: dict[str, str]) -> dict[str, pd.DataFrame]:
    """Per-cell parquet files (results/runs/<id>/X.parquet) -> {cell name: frame}, in input order."""
    return {cells[Path(p).parent.name]: pd.read_parquet(p) for p in paths}


def grok_steps(runs: pd.DataFrame, cell: str) -> pd.Series:
    """Per seed of a cell: the step its last operation grokked (NaN if any never did)."""
    r = runs[runs["cell"] == cell]
    return r.groupby("seed")["grok_step"].agg(lambda s: s.max() if s.notna().all() else float("nan"))


def grokked_events(runs: pd.DataFrame, cells: list[str]) -> pd.DataFrame:
    """(cell, seed, memorisation_step, grok_step) of the runs of `cells` in which every operation
    grokked after memorising (multi-task: the last operation's steps)."""
    r = runs[runs["cell"].isin(cells)]
    ev = r.groupby(["cell", "seed"], as_index=False).agg(
        memorisation_step=("memorisation_step", "max"), grok_step=("grok_step", "max"), grokked=("grokked", "all"))
    return ev[ev["grokked"] & (ev["grok_step"] > ev["memorisation_step"])].drop(columns="grokked")


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
