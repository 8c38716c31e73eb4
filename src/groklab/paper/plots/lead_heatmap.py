"""Which observables change first: median normalised progress (0 at memorisation, 1 at the grok
step; groklab.analysis.leadlag) of every observable across grokked runs, rows sorted by median half time."""

from __future__ import annotations

import numpy as np
import pandas as pd
import seaborn as sns

from groklab.analysis.leadlag import progress_table
from groklab.paper.plots import style
from groklab.analysis.collect import grokked_events, observable_definitions

BINS = np.linspace(0.0, 1.5, 31)


def render(inputs, out_pdf: str, cells: dict[str, str], max_rows: int = 40) -> None:
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values()))
    cols = [c for c in obs.columns if c not in ("cell", "seed", "step")]
    table = progress_table(obs, events, cols, BINS)
    if table.empty:
        fig, ax = style.figure(0.3)
        style.empty_note(ax, "no run grokked after memorising: no lead times")
        style.save(fig, out_pdf)
        return
    order = table.groupby("observable")["half_time"].median().sort_values().index[:max_rows]
    heat = table.groupby(["observable", "bin"])["progress"].median().unstack("bin").loc[order]
    fig, ax = style.figure(min(1.2, 0.12 + 0.022 * len(order)))
    sns.heatmap(heat.clip(-0.5, 1.5), ax=ax, cmap="viridis", vmin=-0.5, vmax=1.5,
                cbar_kws={"label": "normalised change (0 at memorisation, 1 at grok)"})
    ticks = np.arange(0, len(BINS), 5)
    ax.set_xticks(ticks + 0.5, [f"{BINS[i]:.1f}" for i in ticks], rotation=0)
    ax.set_yticks(np.arange(len(order)) + 0.5, order, fontsize=5)
    ax.set_xlabel(r"$\tau$ (0 = memorised, 1 = grokked)")
    ax.set_ylabel("")
    style.save(fig, out_pdf)
