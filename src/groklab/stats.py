"""Small-sample statistics over seeds: t intervals of means and bootstrap intervals of ratios."""

from __future__ import annotations

import numpy as np
from scipy import stats


def mean_ci(values, confidence: float) -> tuple[float, float, float]:
    """(mean, low, high): Student-t interval across seeds; NaN bounds with fewer than 2 values."""
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return (np.nan, np.nan, np.nan)
    m = float(x.mean())
    if len(x) < 2:
        return (m, np.nan, np.nan)
    half = stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    return (m, float(m - half), float(m + half))


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
