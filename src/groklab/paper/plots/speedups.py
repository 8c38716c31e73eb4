"""Speedup of every study's variants over its baseline (baseline / variant, log scale) for the
grok step and the delay in examples of the operation seen, with bootstrap intervals; 1 = no change
(data: groklab.analysis.figure_data.speedups)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker

from groklab.analysis.figure_data.speedups import SPEEDUP_COLUMNS
from groklab.paper.plots import style

BARS = tuple(zip(SPEEDUP_COLUMNS, ("grok step (examples seen)", "delay (examples seen)")))


def draw(table: pd.DataFrame, out_pdf: str) -> None:
    studies = list(dict.fromkeys(table["study"]))
    fig, axes = style.grid(max(len(studies), 1), max_cols=2, row_height=0.3)
    if not studies:
        style.empty_note(axes[0], "no study has a variant with a baseline operation")
    for ax, study in zip(axes, studies):
        rows = table[table["study"] == study]
        x = np.arange(len(rows))
        for j, (col, name) in enumerate(BARS):
            val, lo, hi = rows[col].to_numpy(float), rows[f"{col}_lo"].to_numpy(float), rows[f"{col}_hi"].to_numpy(float)
            ax.bar(x + (j - 0.5) * 0.38, val, 0.38, yerr=np.vstack([val - lo, hi - val]), capsize=2,
                   color=style.PALETTE[j], label=name, error_kw={"lw": 0.7})
        ax.axhline(1, color="0.3", lw=0.7)
        ax.set_yscale("log")
        # at least 0.5x..2x, so a bar of 1 (no effect) is not stretched into a feature; plain ticks
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, 0.5), max(hi, 2.0))
        ax.yaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
        ax.yaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_xticks(x, rows["label"].tolist(), fontsize=6)
        ax.set_title(study)
        ax.set_ylabel("speedup (baseline / variant)")
    axes[0].legend(frameon=False, fontsize=6)
    style.save(fig, out_pdf)
