"""Speedup as a function of the baseline's grokking delay (the delay ladder, issue #20).

The seed paper measured each factor at one very long delay (332,000 steps). A claim measured at
several rungs of lr * wd, each stretching the baseline delay, gives points (delay_r, speedup_r
with a bootstrap interval). The trend is a power law, speedup = a * delay^b, fitted as a line in
log-log space by weighted least squares: each rung weighs by the inverse variance of its log
speedup, read off its interval (a normal interval in log space: se = log(hi / lo) / (2 z)).
Where the rungs scatter more than their intervals allow (reduced chi-square above 1) the
covariance is inflated by it, so a trend is never more certain than its points agree.

Carried to the seed's delay, the fit gives a predicted factor with an interval; the claim's
factor is "consistent" with the trend when it lies inside that interval. With two rungs the
line is exact and has no residual check; with one there is no trend.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Trend:
    slope: float          # b: d log(speedup) / d log(delay)
    slope_lo: float
    slope_hi: float
    intercept: float      # log a
    rungs: int
    reduced_chi2: float   # NaN with two rungs (no residual degrees of freedom)
    target_delay: float
    predicted: float      # a * target_delay^b
    predicted_lo: float
    predicted_hi: float

    def consistent_with(self, factor: float) -> bool | None:
        """Is `factor` (the seed's) inside the predicted interval at the target delay? None: no trend."""
        if not np.isfinite(self.predicted_lo):
            return None
        return bool(self.predicted_lo <= factor <= self.predicted_hi)


def log_se(lo: np.ndarray, hi: np.ndarray, confidence: float) -> np.ndarray:
    """Standard error of log(speedup) from its interval [lo, hi] at `confidence`."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    return np.log(np.asarray(hi, float) / np.asarray(lo, float)) / (2 * z)


def fit_trend(delay, speedup, lo, hi, target_delay: float, confidence: float = 0.95) -> Trend:
    """The power-law trend of speedup against baseline delay over the finite rungs, carried to
    `target_delay`. delay, speedup, lo, hi: one value per rung; lo/hi: the speedup's interval."""
    d, s, lo, hi = (np.asarray(a, float) for a in (delay, speedup, lo, hi))
    ok = np.isfinite(d) & np.isfinite(s) & np.isfinite(lo) & np.isfinite(hi) & (d > 0) & (s > 0) & (lo > 0) & (hi > lo)
    d, s, se = d[ok], s[ok], log_se(lo[ok], hi[ok], confidence)
    n = len(d)
    if n < 2 or np.ptp(np.log(d)) == 0:
        nan = float("nan")
        return Trend(nan, nan, nan, nan, n, nan, target_delay, nan, nan, nan)
    X = np.column_stack([np.ones(n), np.log(d)])                          # (n, 2)
    w = 1 / se**2                                                          # (n,)
    cov = np.linalg.inv(X.T @ (w[:, None] * X))                            # (2, 2)
    beta = cov @ X.T @ (w * np.log(s))                                     # (2,)
    dof = n - 2
    chi2 = float(w @ (np.log(s) - X @ beta) ** 2) / dof if dof else float("nan")
    if dof and chi2 > 1:
        cov = cov * chi2
    # a t quantile where the scatter estimated the variance, a normal one where the intervals did
    q = stats.t.ppf(0.5 + confidence / 2, dof) if dof and chi2 > 1 else stats.norm.ppf(0.5 + confidence / 2)
    x0 = np.array([1.0, np.log(target_delay)])
    y0, sd0 = float(x0 @ beta), float(np.sqrt(x0 @ cov @ x0))
    sd_b = float(np.sqrt(cov[1, 1]))
    return Trend(float(beta[1]), float(beta[1] - q * sd_b), float(beta[1] + q * sd_b), float(beta[0]), n, chi2,
                 float(target_delay), float(np.exp(y0)), float(np.exp(y0 - q * sd0)), float(np.exp(y0 + q * sd0)))
