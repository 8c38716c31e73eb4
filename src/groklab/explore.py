"""Results in a notebook: `groklab.open("results")` answers the common questions as tidy frames.

    res = groklab.open("results")
    res.cells                     one row per cell: axes, resolved config ("optimizer.lr"), studies
    res.runs                      one row per model and operation (grok events), with the cell columns
    res.metrics(["test_acc"], cell=["ops~div", "sgd-moderate"], seeds=[0], operations=["div"])
    res.observables(["weights.sum_sq", "weights.l2[W_U]"], where={"optimizer.name": "sgd"})

`metrics` and `observables` read only the cells, columns and rows asked for: each cell's Parquet
file through a pyarrow dataset with a seed filter, so a large results tree is never loaded whole.
The files are the pipeline's own (results/summary/*.parquet, results/runs/<cell>/*.parquet).
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path

import pandas as pd
import pyarrow.dataset as ds

from groklab.maps.features import feature_matrix, feature_sources

METRICS = ("train_loss", "train_acc", "test_loss", "test_acc")


class Results:
    """One results directory of the pipeline (`results_dir` of its config)."""

    def __init__(self, root: str | Path = "results"):
        self.root = Path(root)
        for name in ("summary/cells.parquet", "summary/runs.parquet"):
            if not (self.root / name).exists():
                raise FileNotFoundError(f"{self.root / name}: not found (run the pipeline first: snakemake --cores all)")

    @cached_property
    def cells(self) -> pd.DataFrame:
        return pd.read_parquet(self.root / "summary" / "cells.parquet")

    @cached_property
    def runs(self) -> pd.DataFrame:
        runs = pd.read_parquet(self.root / "summary" / "runs.parquet")
        return runs.merge(self.cells.drop(columns=["cell", "cell_hash"]), on="cell_id", how="left")

    def select(self, where: dict | None = None, **columns) -> pd.DataFrame:
        """The cells whose columns match: a value, or a list of accepted values, per column
        (`where` for dotted names such as "optimizer.lr"; keywords for the others)."""
        cells = self.cells
        for col, want in {**(where or {}), **columns}.items():
            if col not in cells:
                raise KeyError(f"{col!r} is not a column of the cells table (see Results.cells.columns)")
            values = want if isinstance(want, (list, tuple, set)) else [want]
            cells = cells[cells[col].isin(values)]
        return cells

    def metrics(self, columns=METRICS, seeds=None, operations=None, where: dict | None = None,
                **cell_columns) -> pd.DataFrame:
        """Tidy metrics: one row per (cell, seed, step, operation), a column per metric asked for.
        A multi-task cell's per-operation columns (test_acc/div) become rows of their operation."""
        frames = []
        for cell in self.select(where, **cell_columns).itertuples():
            ops = [op for op in cell.operations.split("+") if operations is None or op in operations]
            multi = "+" in cell.operations
            dataset = ds.dataset(self.root / "runs" / cell.cell_id / "metrics.parquet", format="parquet")
            for op in ops:
                names = {f"{c}/{op}" if multi else c: c for c in columns}
                table = self._read(dataset, list(names), seeds)
                frames.append(table.rename(columns=names).assign(cell_id=cell.cell_id, cell=cell.cell, operation=op))
        return _tidy(frames, ["cell_id", "cell", "seed", "step", "operation", *columns])

    def observables(self, columns, seeds=None, where: dict | None = None, **cell_columns) -> pd.DataFrame:
        """One row per (cell, seed, step) with the observables asked for: a column of
        observables.parquet (weights.l2[W_U], fourier.key_fraction/div) or a definition name
        (weights.trace_norm) as the mean over its sites, as the lead-lag ranking and the HMM
        features read it (groklab.maps.features). NaN where a cell does not record one, or at the
        evals an expensive one skips; KeyError for a name that no selected cell records."""
        frames, found = [], set()
        for cell in self.select(where, **cell_columns).itertuples():
            dataset = ds.dataset(self.root / "runs" / cell.cell_id / "observables.parquet", format="parquet")
            parts = {c: feature_sources(dataset.schema.names, c) for c in columns}
            present = [c for c, cols in parts.items() if cols]
            found |= set(present)
            table = self._read(dataset, sorted({h for c in present for h in parts[c]}), seeds)
            values = feature_matrix(table, present).assign(**{c: float("nan") for c in columns if c not in present})
            frames.append(pd.concat([table[["seed", "step"]], values], axis=1).assign(cell_id=cell.cell_id, cell=cell.cell))
        if frames and (unknown := [c for c in columns if c not in found]):
            raise KeyError(f"no selected cell records {unknown[0]!r} (nor {unknown[0]}[site]); docs/observables.md "
                           "lists the observables")
        return _tidy(frames, ["cell_id", "cell", "seed", "step", *columns])

    @staticmethod
    def _read(dataset: ds.Dataset, columns: list[str], seeds) -> pd.DataFrame:
        """seed, step and `columns` of one Parquet file, rows of `seeds` only (pyarrow pushes the
        filter down to the row groups)."""
        absent = [c for c in columns if c not in dataset.schema.names]
        if absent:
            raise KeyError(f"{dataset.files[0]}: no column {absent[0]!r}")
        flt = ds.field("seed").isin(list(seeds)) if seeds is not None else None
        return dataset.to_table(columns=["seed", "step", *columns], filter=flt).to_pandas()


def _tidy(frames: list[pd.DataFrame], columns: list[str]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns]
