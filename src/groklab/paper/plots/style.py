"""Shared figure style: paper text width, the LaTeX body's Latin Modern where TeX Live's OpenType
copy is installed (else DejaVu Serif), colour-blind-safe palette, vector PDF written atomically.

matplotlib's bundled cmr10 is not used: TeX fonts put other glyphs at "_", "<", ">" and
observable names have underscores. Latin Modern is embedded as Type 3 (its OpenType outlines
are CFF, which Type 42 embedding mislabels)."""

from __future__ import annotations

import glob

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib import font_manager  # noqa: E402

TEXT_WIDTH_IN = 6.5   # article class, 1-inch margins (paper/main.tex)
PALETTE = sns.color_palette("colorblind")
LATIN_MODERN = "/usr/share/texmf/fonts/opentype/public/lm/lmroman10-*.otf"   # Debian: fonts-lmodern


def _serif() -> tuple[list[str], int]:
    """(font.serif, pdf.fonttype)."""
    files = glob.glob(LATIN_MODERN)
    for path in files:
        font_manager.fontManager.addfont(path)
    return (["Latin Modern Roman"], 3) if files else (["DejaVu Serif"], 42)


def setup() -> None:
    serif, fonttype = _serif()
    sns.set_theme(context="paper", style="ticks", palette=PALETTE,
                  rc={"font.family": "serif", "font.serif": serif, "mathtext.fontset": "cm",
                      "font.size": 8, "axes.titlesize": 8, "axes.labelsize": 8, "legend.fontsize": 7,
                      "xtick.labelsize": 7, "ytick.labelsize": 7, "pdf.fonttype": fonttype,
                      "axes.unicode_minus": False})


def figure(height_ratio: float = 0.45, ncols: int = 1, nrows: int = 1, squeeze: bool = True, **kw):
    """A text-width figure; squeeze=False always returns a (nrows, ncols) array of axes."""
    setup()
    return plt.subplots(nrows, ncols, figsize=(TEXT_WIDTH_IN, TEXT_WIDTH_IN * height_ratio),
                        constrained_layout=True, squeeze=squeeze, **kw)


def grid(n: int, max_cols: int = 3, row_height: float = 0.28):
    """n panels in rows of at most max_cols -> (fig, flat list of n axes); spare axes are hidden."""
    ncols = min(n, max_cols)
    nrows = -(-n // ncols)
    fig, axes = figure(row_height * nrows, ncols=ncols, nrows=nrows, squeeze=False)
    flat = list(axes.flat)
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def save(fig, path) -> None:
    from groklab.io import atomic_path

    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="pdf")
    plt.close(fig)


def empty_note(ax, text: str) -> None:
    """A panel with nothing to plot says why (e.g. no run grokked) instead of staying blank."""
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, fontsize=7, color="0.3", wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])
