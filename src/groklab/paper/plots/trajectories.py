"""Observable trajectories around the grok step on a normalised clock (0 = memorisation,
1 = grok step; groklab.analysis.leadlag): each grokked run a thin line, the median bold."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.analysis.leadlag import progress_table
from groklab.paper.plots import style
from groklab.analysis.collect import grokked_events, observable_definitions

BINS = np.linspace(-0.5, 2.0, 51)


def render(inputs, out_pdf: str, cells: dict[str, str], observables: list[str]) -> None:
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values()))
    cols = [c for c in observables if c in obs.columns]
    table = progress_table(obs, events, cols, BINS)
    fig, axes = style.grid(max(len(cols), 1), max_cols=4, row_height=0.22)
    if table.empty:
        style.empty_note(axes[0], "no run grokked after memorising: nothing to align")
    for ax, col in zip(axes, cols):
        t = table[table["observable"] == col]
        for _, run in t.groupby(["cell", "seed"]):
            ax.plot(run["bin"], run["progress"], color=style.PALETTE[0], lw=0.4, alpha=0.4)
        med = t.groupby("bin")["progress"].median()
        ax.plot(med.index, med.to_numpy(), color=style.PALETTE[3], lw=1.5)
        for x in (0, 1):
            ax.axvline(x, color="0.5", ls=":", lw=0.7)
        ax.set_title(col, fontsize=7)
        ax.set_xlabel(r"$\tau$ (0 = memorised, 1 = grokked)")
    axes[0].set_ylabel("normalised change")
    style.save(fig, out_pdf)
