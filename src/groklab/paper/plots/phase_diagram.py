"""Steps to grok over two matrix axes (e.g. learning rate x weight decay), one panel per value of
a third (e.g. p): mean over seeds with never-grokked seeds censored at the budget; grid cells
where no seed grokked are marked x (data: groklab.analysis.figure_data.phase_diagram)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.paper.plots import style


def _sort_key(label: str):
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def draw(per_cell: pd.DataFrame, out_pdf: str, axes: dict) -> None:
    facets = sorted(per_cell["facet"].unique(), key=_sort_key) if axes.get("facet") else [None]
    fig, panels = style.grid(len(facets), max_cols=2, row_height=0.42)
    vmax = np.log10(max(per_cell["grok"].max(), 10))
    for ax, facet in zip(panels, facets):
        d = per_cell if facet is None else per_cell[per_cell["facet"] == facet]
        xs, ys = sorted(d["x"].unique(), key=_sort_key), sorted(d["y"].unique(), key=_sort_key)
        grid = d.pivot(index="y", columns="x", values="grok").reindex(index=ys, columns=xs)
        never = ~d.pivot(index="y", columns="x", values="grokked").reindex(index=ys, columns=xs).fillna(False).astype(bool)
        im = ax.imshow(np.log10(grid.to_numpy(float)), origin="lower", cmap="viridis_r", vmin=1, vmax=vmax, aspect="auto")
        for (i, j), flag in np.ndenumerate(never.to_numpy()):
            if flag:
                ax.text(j, i, "x", ha="center", va="center", color="white", fontsize=8)
        ax.set_xticks(range(len(xs)), xs, fontsize=6)
        ax.set_yticks(range(len(ys)), ys, fontsize=6)
        ax.set_xlabel(axes["x"])
        ax.set_ylabel(axes["y"])
        ax.set_title(f"{axes['facet']} = {facet}" if facet is not None else "steps to grok")
    fig.colorbar(im, ax=panels, label="log10 steps to grok")
    style.save(fig, out_pdf)


def render(inputs, out_pdf: str, axes: dict, labels: dict[str, dict[str, str]]) -> None:
    """Compute and draw in one call (the workflow runs the halves separately, writing the table)."""
    from groklab.analysis.figure_data.phase_diagram import compute as phase_diagram

    draw(phase_diagram(inputs, axes=axes, labels=labels), out_pdf, axes=axes)
