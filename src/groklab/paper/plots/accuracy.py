"""Train and test accuracy of every cell of one study: seeds as thin lines, the mean bold, each
seed's grok step marked on the axis."""

from __future__ import annotations

import pandas as pd

from groklab.paper.plots import style
from groklab.analysis.collect import cell_frames, grok_steps


def render(inputs, out_pdf: str, study: str, cells: dict[str, str]) -> None:
    frames = cell_frames(inputs.metrics, cells)
    runs = pd.read_parquet(inputs.runs)
    fig, axes = style.grid(len(frames))
    for ax, (cell, m) in zip(axes, frames.items()):
        for col, color, ls in (("train_acc", style.PALETTE[0], "--"), ("test_acc", style.PALETTE[1], "-")):
            for _, run in m.groupby("seed"):
                ax.plot(run["step"], run[col], color=color, ls=ls, lw=0.4, alpha=0.5)
            mean = m.groupby("step")[col].mean()
            ax.plot(mean.index, mean.to_numpy(), color=color, ls=ls, lw=1.4, label=col.replace("_acc", ""))
        grok = grok_steps(runs, cell).dropna()
        if len(grok):
            ax.plot(grok.to_numpy(), [0.03] * len(grok), "v", color="k", ms=4, label="grok step")
        ax.set_title(cell)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
    axes[0].set_ylabel("accuracy")
    axes[0].legend(frameon=False, loc="center right")
    fig.suptitle(f"study {study}", fontsize=8)
    style.save(fig, out_pdf)
