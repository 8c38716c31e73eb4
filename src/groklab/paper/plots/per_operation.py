"""Multi-task cells: test accuracy per operation (mean over seeds), each operation's mean grok
step marked."""

from __future__ import annotations

import pandas as pd

from groklab.paper.plots import style
from groklab.analysis.collect import cell_frames


def render(inputs, out_pdf: str, cells: dict[str, str]) -> None:
    frames = cell_frames(inputs.metrics, cells)
    runs = pd.read_parquet(inputs.runs)
    fig, axes = style.grid(len(frames), max_cols=4)
    for ax, (cell, m) in zip(axes, frames.items()):
        ops = [c.split("/", 1)[1] for c in m.columns if c.startswith("test_acc/")]
        for i, op in enumerate(ops):
            color = style.PALETTE[i % len(style.PALETTE)]
            mean = m.groupby("step")[f"test_acc/{op}"].mean()
            ax.plot(mean.index, mean.to_numpy(), color=color, lw=1.2, label=op)
            grok = runs[(runs["cell"] == cell) & (runs["operation"] == op)]["grok_step"].mean()
            if pd.notna(grok):
                ax.axvline(grok, color=color, ls=":", lw=0.8)
        ax.set_title(cell)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.legend(frameon=False, loc="lower right")
    axes[0].set_ylabel("test accuracy")
    style.save(fig, out_pdf)
