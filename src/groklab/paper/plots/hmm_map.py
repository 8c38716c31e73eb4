"""The HMM training map of one study: states as nodes (size = occupancy), the transitions that
occur as labelled edges (Hu et al. 2024; data: groklab.analysis.figure_data.hmm_map)."""

from __future__ import annotations

import math

import pandas as pd

from groklab.paper.plots import style


def draw(table: pd.DataFrame, out_pdf: str, study: str = "") -> None:
    states = table[table["kind"] == "state"].sort_values("source")
    K = len(states)
    fig, ax = style.figure(0.5)
    pos = {k: (math.cos(2 * math.pi * k / K + math.pi / 2), math.sin(2 * math.pi * k / K + math.pi / 2)) for k in range(K)}
    for e in table[table["kind"] == "edge"].itertuples():
        (x0, y0), (x1, y1) = pos[e.source], pos[e.target]
        ax.annotate("", xy=(x1, y1), xytext=(x0, y0),
                    arrowprops={"arrowstyle": "-|>", "color": "0.4", "shrinkA": 14, "shrinkB": 14,
                                "connectionstyle": "arc3,rad=0.15", "lw": 0.8})
        ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{e.value:.2f}", fontsize=6, ha="center", va="center",
                bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none"})
    for k, occ in zip(states["source"], states["value"]):
        x, y = pos[k]
        ax.scatter([x], [y], s=300 + 1500 * occ, color=style.PALETTE[k % len(style.PALETTE)], zorder=3)
        ax.text(x, y, str(k), ha="center", va="center", fontsize=8, color="white", zorder=4)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.4, 1.4)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(f"training map {study}: K = {K} (node size: occupancy)")
    style.save(fig, out_pdf)
