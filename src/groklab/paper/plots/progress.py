"""Nanda et al.'s progress measures for one model (addition, or division in the Z_p^* basis):
train/test loss, restricted and excluded loss, sum of squared weights and the embedding's Gini
and key fraction in the operation's own basis, with the three phases
(memorisation, circuit formation, cleanup) shaded where groklab.analysis.phases locates them
(data: groklab.analysis.figure_data.progress)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.patches import Patch

from groklab.analysis.phases import PHASES as PHASE_KEYS
from groklab.paper.plots import style

PHASES = tuple(zip(PHASE_KEYS, ("memorisation", "circuit formation", "cleanup")))
PANELS = (("loss", ["train_loss", "test_loss"], True), ("Fourier losses", ["fourier.restricted_loss", "fourier.excluded_loss"], True),
          ("sum of squared weights", ["weights.sum_sq"], False), ("embedding concentration", ["fourier.embed_gini", "fourier.key_fraction"], False))


SHADES = ("0.93", "0.87", "0.81")      # one grey per phase, lightest first


def _shade(ax, bounds: dict) -> None:
    start = 0.0
    for (key, _), shade in zip(PHASES, SHADES):
        end = bounds[key]
        if np.isnan(end):
            break
        ax.axvspan(start, end, color=shade, lw=0, zorder=0)
        start = end


def draw(table: pd.DataFrame, out_pdf: str, cell: str, seed: int) -> None:
    phases = table[table["kind"] == "phase"]
    bounds = dict(zip(phases["name"], phases["step"].astype(float)))
    curves = table[table["kind"] == "curve"]
    fig, axes = style.grid(4, max_cols=4, row_height=0.27)
    for ax, (title, cols, log) in zip(axes, PANELS):
        _shade(ax, bounds)
        for i, col in enumerate(cols):
            s = curves[curves["name"] == col]
            ax.plot(s["step"], s["value"], color=style.PALETTE[i], lw=1.1, label=col.split(".")[-1].replace("_", " "))
        if log:
            ax.set_yscale("log")
        ax.set_title(title)
        ax.set_xlabel("step")
        if len(cols) > 1:
            ax.legend(frameon=False, fontsize=6)
    fig.legend([Patch(color=shade) for shade in SHADES], [label for _, label in PHASES],
               loc="outside lower center", ncols=3, frameon=False, fontsize=6)
    fig.suptitle(f"progress measures: {cell}, seed {seed}", fontsize=8)
    style.save(fig, out_pdf)
