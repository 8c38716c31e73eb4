"""Multi-task cells: test accuracy per operation (mean over seeds), each operation's mean grok
step marked (data: groklab.analysis.figure_data.per_operation)."""

from __future__ import annotations

import pandas as pd

from groklab.paper.plots import style


def draw(table: pd.DataFrame, out_pdf: str) -> None:
    cells = list(dict.fromkeys(table["cell"]))
    fig, axes = style.grid(len(cells), max_cols=4)
    for ax, cell in zip(axes, cells):
        t = table[table["cell"] == cell]
        for i, op in enumerate(dict.fromkeys(t["operation"])):
            color = style.PALETTE[i % len(style.PALETTE)]
            mean = t[(t["operation"] == op) & (t["kind"] == "mean")]
            ax.plot(mean["step"].to_numpy(), mean["value"].to_numpy(), color=color, lw=1.2, label=op)
            for grok in t.loc[(t["operation"] == op) & (t["kind"] == "grok"), "step"]:
                ax.axvline(grok, color=color, ls=":", lw=0.8)
        ax.set_title(cell)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("step")
        ax.legend(frameon=False, loc="lower right")
    axes[0].set_ylabel("test accuracy")
    style.save(fig, out_pdf)
