"""The compute half of every figure: read the result files a figure needs (groklab.paper.figures:
FIGURES[...].inputs) and return the plotted data as one table. The workflow writes it next to the
figure as results/figures/<pdf stem>.parquet and groklab.paper.plots.<module>.draw draws it.

One module per plotting module, named like it; `inputs` has the figure's files as attributes
(a Snakemake input list or a SimpleNamespace: metrics/observables are lists of per-cell files,
the others one path). Every table is long and plain (numbers and strings, one type per column),
so it round-trips through Parquet unchanged.

One module per figure (so a figure job's code inputs are exactly what that figure imports):
`groklab.analysis.figure_data.<module>.compute(inputs, *args, **options)`; `compute(module, inputs, ...)`
imports the one named."""

from __future__ import annotations

import importlib

import pandas as pd


def frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def compute(module: str, inputs, *args, **options) -> pd.DataFrame:
    """The table of the figure drawn by groklab.paper.plots.<module>."""
    return importlib.import_module(f"groklab.analysis.figure_data.{module}").compute(inputs, *args, **options)
