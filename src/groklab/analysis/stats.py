"""Small-sample statistics over seeds: percentile-bootstrap intervals of means and of ratios.

With 3 seeds a t interval of a grok step is often wider than the budget and reaches below
zero; the bootstrap interval stays inside the range of the data (and says, by its width, how
little 3 seeds pin down)."""

from __future__ import annotations

import numpy as np


def mean_ci(values, confidence: float, n_boot: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """(mean, low, high): percentile bootstrap of the mean across seeds; NaN bounds with fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (np.nan, np.nan, np.nan)
    m = float(x.mean())
    if len(x) < 2:
        return (m, np.nan, np.nan)
    means = x[rng.integers(0, len(x), (n_boot, len(x)))].mean(axis=1)      # (n_boot,)
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(means, [alpha, 1 - alpha])
    return (m, float(lo), float(hi))


def ratio_ci(base, variant, confidence: float, n_boot: int, rng: np.random.Generator) -> tuple[float, float, float]:
    """mean(base) / mean(variant) with a percentile bootstrap interval.

    Seeds of the baseline and of the variant are resampled independently (they are different
    models); a ratio is "faster" above 1. Empty inputs or a non-positive variant mean give NaN.
    """
    b, v = np.asarray(base, float), np.asarray(variant, float)
    b, v = b[np.isfinite(b)], v[np.isfinite(v)]
    if len(b) == 0 or len(v) == 0 or v.mean() <= 0:
        return (np.nan, np.nan, np.nan)
    point = float(b.mean() / v.mean())
    # (n_boot, n) index draws -> (n_boot,) resampled means
    bm = b[rng.integers(0, len(b), (n_boot, len(b)))].mean(axis=1)
    vm = v[rng.integers(0, len(v), (n_boot, len(v)))].mean(axis=1)
    ratios = bm / vm
    alpha = (1 - confidence) / 2
    lo, hi = np.quantile(ratios, [alpha, 1 - alpha])
    return (point, float(lo), float(hi))
