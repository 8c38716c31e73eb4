"""The leading observables run by run: for the top-ranked observables (results/mechanics/
leadlag.parquet), each grokked run is a row sorted by its steps-to-grok, coloured by the
observable (z-scored within the run) against training step, with the run's grok step marked
(data: groklab.analysis.figure_data.leadlag_runs)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.paper.plots import style


def _panel(ax, z: pd.DataFrame, grok: pd.DataFrame, edges: np.ndarray, col: str) -> None:
    image = z.pivot(index="row", columns="x", values="value").reindex(index=range(len(grok))).to_numpy(float)
    ax.imshow(image, aspect="auto", cmap="coolwarm", vmin=-2, vmax=2, origin="lower",
              extent=(edges[0], edges[-1], -0.5, len(grok) - 0.5), interpolation="nearest")
    ax.plot(grok["x"], grok["row"], "k|", ms=4)
    ax.set_title(col, fontsize=7)
    ax.set_xlabel("step")


def draw(table: pd.DataFrame, out_pdf: str) -> None:
    top = table.loc[table["kind"] == "panel", "observable"].tolist()
    grok = table[table["kind"] == "grok"].sort_values("row")
    fig, axes = style.grid(max(len(top), 1), max_cols=4, row_height=0.3)
    if not top or grok.empty:
        style.empty_note(axes[0], "no grokked run: no lead-lag ranking")
    else:
        edges = np.sort(table.loc[table["kind"] == "edge", "x"].to_numpy(float))
        z = table[table["kind"] == "z"]
        for ax, col in zip(axes, top):
            _panel(ax, z[z["observable"] == col], grok, edges, col)
        axes[0].set_ylabel("runs, sorted by steps to grok")
    style.save(fig, out_pdf)
