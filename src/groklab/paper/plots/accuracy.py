"""Train and test accuracy of every cell of one study: seeds as thin lines, the mean bold, each
seed's grok step marked on the axis (data: groklab.analysis.figure_data.accuracy)."""

from __future__ import annotations

import pandas as pd

from groklab.paper.plots import style

CURVES = (("train_acc", "--"), ("test_acc", "-"))


def draw(table: pd.DataFrame, out_pdf: str, study: str) -> None:
    cells = list(dict.fromkeys(table["cell"]))
    fig, axes = style.grid(len(cells))
    for ax, cell in zip(axes, cells):
        t = table[table["cell"] == cell]
        for i, (col, ls) in enumerate(CURVES):
            color = style.PALETTE[i]
            c = t[t["curve"] == col]
            for _, run in c[c["kind"] == "seed"].groupby("seed"):
                ax.plot(run["step"], run["value"], color=color, ls=ls, lw=0.4, alpha=0.5)
            mean = c[c["kind"] == "mean"]
            ax.plot(mean["step"].to_numpy(), mean["value"].to_numpy(), color=color, ls=ls, lw=1.4,
                    label=col.replace("_acc", ""))
        grok = t.loc[t["kind"] == "grok", "step"]
        if len(grok):
            ax.plot(grok.to_numpy(), [0.03] * len(grok), "v", color="k", ms=4, label="grok step")
        ax.set_title(cell)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(frameon=False, loc="center right")
    fig.suptitle(f"study {study}", fontsize=8)
    style.save(fig, out_pdf)
