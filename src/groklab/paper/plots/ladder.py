"""Speedup against the baseline's delay (log-log), one panel per claim with a factor: the ladder's
rungs with their intervals, the fitted power law carried to the target delay with its band, the
seed's factor at the target delay (data: groklab.analysis.figure_data.ladder)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import ticker

from groklab.paper.plots import style


def draw(table: pd.DataFrame, out_pdf: str) -> None:
    claims = list(dict.fromkeys(table["claim"]))
    fig, axes = style.grid(max(len(claims), 1), max_cols=3, row_height=0.3)
    if not claims:
        style.empty_note(axes[0], "no claim with a factor is measured in this matrix")
    for ax, claim in zip(axes, claims):
        rows = table[table["claim"] == claim]
        fit, pts = rows[rows["kind"] == "fit"], rows[rows["kind"] == "point"]
        seed, note = rows[rows["kind"] == "seed"], rows[rows["kind"] == "note"]
        if len(fit):
            ax.fill_between(fit["delay"], fit["lo"], fit["hi"], color=style.PALETTE[0], alpha=0.2, lw=0)
            ax.plot(fit["delay"], fit["value"], color=style.PALETTE[0], lw=1, label="trend")
        for used, face in ((True, style.PALETTE[0]), (False, "white")):
            p = pts[pts["used"] == used]
            if len(p):
                val = p["value"].to_numpy(float)
                ax.errorbar(p["delay"], val, yerr=np.vstack([val - p["lo"], p["hi"] - val]), fmt="o", ms=4, capsize=2,
                            color=style.PALETTE[0], mfc=face, lw=0.8, label="rungs" if used else "baseline never grokked")
        ax.plot(seed["delay"], seed["value"], marker="*", ms=9, ls="none", color=style.PALETTE[3], label="seed")
        for text in note["text"]:
            ax.text(0.03, 0.97, text, transform=ax.transAxes, ha="left", va="top", fontsize=6, color="0.3", wrap=True)
        ax.set_xscale("log")
        ax.set_yscale("log")
        lo, hi = ax.get_ylim()
        ax.set_ylim(min(lo, 0.5), max(hi, 2.0))
        ax.axhline(1, color="0.6", lw=0.5)
        for axis in (ax.xaxis, ax.yaxis):
            axis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:g}"))
            axis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(claim)
        ax.set_xlabel("baseline delay (steps)")
        ax.set_ylabel("speedup (baseline / variant)")
    if claims:
        axes[0].legend(frameon=False, fontsize=6, loc="best")
    style.save(fig, out_pdf)
