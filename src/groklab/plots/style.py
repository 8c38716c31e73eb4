"""Shared figure style: paper text width, serif fonts like the LaTeX body, colour-blind-safe palette."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

TEXT_WIDTH_IN = 6.5   # article class, 1-inch margins
PALETTE = sns.color_palette("colorblind")


def setup() -> None:
    sns.set_theme(context="paper", style="ticks", palette=PALETTE,
                  rc={"font.family": "serif", "font.size": 8, "axes.titlesize": 9, "pdf.fonttype": 42})


def figure(height_ratio: float = 0.45, ncols: int = 1):
    setup()
    return plt.subplots(1, ncols, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * height_ratio), constrained_layout=True)


def save(fig, path) -> None:
    from ..io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)
