"""Which observables change first: median normalised progress (0 at memorisation, 1 at the grok
step; groklab.analysis.leadlag) of every observable across grokked runs, rows sorted by median
half time (data: groklab.analysis.figure_data.lead_heatmap)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from groklab.paper.plots import style


def draw(table: pd.DataFrame, out_pdf: str) -> None:
    if table.empty:
        fig, ax = style.figure(0.3)
        style.empty_note(ax, "no run grokked after memorising: no lead times")
        style.save(fig, out_pdf)
        return
    order = table.drop_duplicates("observable").sort_values("rank")["observable"].tolist()
    heat = table.pivot(index="observable", columns="bin", values="progress").loc[order]
    bins = heat.columns.to_numpy(float)
    fig, ax = style.figure(min(1.2, 0.12 + 0.022 * len(order)))
    sns.heatmap(heat.clip(-0.5, 1.5), ax=ax, cmap="viridis", vmin=-0.5, vmax=1.5,
                cbar_kws={"label": "normalised change (0 at memorisation, 1 at grok)"})
    ticks = np.arange(0, len(bins), 5)
    ax.set_xticks(ticks + 0.5, [f"{bins[i]:.1f}" for i in ticks], rotation=0)
    ax.set_yticks(np.arange(len(order)) + 0.5, order, fontsize=5)
    ax.set_xlabel(r"$\tau$ (0 = memorised, 1 = grokked)")
    ax.set_ylabel("")
    style.save(fig, out_pdf)
