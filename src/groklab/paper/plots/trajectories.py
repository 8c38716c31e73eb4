"""Observable trajectories around the grok step on a normalised clock (0 = memorisation,
1 = grok step; groklab.analysis.leadlag): each grokked run a thin line, the median bold
(data: groklab.analysis.figure_data.trajectories)."""

from __future__ import annotations

import pandas as pd

from groklab.paper.plots import style


def draw(table: pd.DataFrame, out_pdf: str) -> None:
    cols = table.loc[table["kind"] == "panel", "observable"].tolist()
    fig, axes = style.grid(max(len(cols), 1), max_cols=4, row_height=0.22)
    if not (table["kind"] == "run").any():
        style.empty_note(axes[0], "no run grokked after memorising: nothing to align")
    for ax, col in zip(axes, cols):
        t = table[table["observable"] == col]
        for _, run in t[t["kind"] == "run"].groupby(["cell", "seed"]):
            ax.plot(run["bin"], run["progress"], color=style.PALETTE[0], lw=0.4, alpha=0.4)
        med = t[t["kind"] == "median"]
        ax.plot(med["bin"].to_numpy(), med["progress"].to_numpy(), color=style.PALETTE[3], lw=1.5)
        for x in (0, 1):
            ax.axvline(x, color="0.5", ls=":", lw=0.7)
        ax.set_title(col, fontsize=7)
        ax.set_xlabel(r"$\tau$ (0 = memorised, 1 = grokked)")
    axes[0].set_ylabel("normalised change")
    style.save(fig, out_pdf)
