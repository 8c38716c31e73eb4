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

`ladder_table` reads each claim at every rung (its study's copy for the rung, from the speedups
table) and `trend_table` fits each claim's trend over the rungs where the baseline grokked.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from groklab.analysis.claims import NOT_RUN, claim_row, copied_claim
from groklab.config.matrix import Rung

NO_TREND = "no trend: fewer than 2 rungs"
EQUAL_DELAYS = "no trend: the rungs' baseline delays are equal"
NO_FACTOR = "no factor: the claim is that the variant is slower"


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
    # the covariance of (log a, b) and the quantile of the intervals: the band at any delay (`at`)
    var_intercept: float = float("nan")
    cov_intercept_slope: float = float("nan")
    var_slope: float = float("nan")
    quantile: float = float("nan")

    def at(self, delay) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(speedup, lo, hi) of the trend at each of `delay` (steps): the line and its interval band."""
        x = np.log(np.asarray(delay, float))
        y = self.intercept + self.slope * x
        sd = np.sqrt(self.var_intercept + 2 * x * self.cov_intercept_slope + x**2 * self.var_slope)
        return np.exp(y), np.exp(y - self.quantile * sd), np.exp(y + self.quantile * sd)

    def consistent_with(self, factor: float) -> bool | None:
        """Is `factor` (the seed's) inside the predicted interval at the target delay? None: no trend."""
        if not np.isfinite(self.predicted_lo):
            return None
        return bool(self.predicted_lo <= factor <= self.predicted_hi)


def log_se(lo: np.ndarray, hi: np.ndarray, confidence: float) -> np.ndarray:
    """Standard error of log(speedup) from its interval [lo, hi] at `confidence`."""
    z = stats.norm.ppf(0.5 + confidence / 2)
    return np.log(np.asarray(hi, float) / np.asarray(lo, float)) / (2 * z)


def usable(delay, speedup, lo, hi) -> np.ndarray:
    """Which rungs a trend can be fitted to: finite and positive, with an interval of some width."""
    d, s, lo, hi = (np.asarray(a, float) for a in (delay, speedup, lo, hi))
    with np.errstate(invalid="ignore"):
        return np.isfinite(d) & np.isfinite(s) & np.isfinite(lo) & np.isfinite(hi) & (d > 0) & (s > 0) & (lo > 0) & (hi > lo)


def fit_trend(delay, speedup, lo, hi, target_delay: float, confidence: float = 0.95) -> Trend:
    """The power-law trend of speedup against baseline delay over the finite rungs, carried to
    `target_delay`. delay, speedup, lo, hi: one value per rung; lo/hi: the speedup's interval."""
    d, s, lo, hi = (np.asarray(a, float) for a in (delay, speedup, lo, hi))
    ok = usable(d, s, lo, hi)
    d, s, se = d[ok], s[ok], log_se(lo[ok], hi[ok], confidence)
    n = len(d)
    if n < 2 or np.ptp(np.log(d)) == 0:
        nan = float("nan")
        return Trend(nan, nan, nan, nan, n, nan, float(target_delay), nan, nan, nan)
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
                 float(target_delay), float(np.exp(y0)), float(np.exp(y0 - q * sd0)), float(np.exp(y0 + q * sd0)),
                 float(cov[0, 0]), float(cov[0, 1]), float(cov[1, 1]), float(q))


TREND_FIELDS = tuple(f.name for f in dataclasses.fields(Trend))


def trend_of(row) -> Trend:
    """A trend-table row (trend_table) back as its Trend (the figure draws its band from it)."""
    return Trend(**{f: (int(row[f]) if f == "rungs" else float(row[f])) for f in TREND_FIELDS})


def target_delay(ladder: dict, paper: dict) -> float:
    """The delay each trend is carried to: ladder.target_delay, or the seed baseline's delay."""
    return float(ladder["target_delay"] if ladder["target_delay"] is not None else paper["seed_baseline"]["delay"])


def ladder_table(claims: list[dict], speedups: pd.DataFrame, rungs: list[Rung], within: float) -> pd.DataFrame:
    """One row per (claim, rung), claims in order, rungs in config order: the rung's factor and
    study, the baseline's median delay in steps (censored: speedup.censor) and delay / memorisation,
    the claim's ratio (its metric, baseline / variant) with its interval and verdict at that rung
    (claims.claim_row on the rung's copy of the study), and `used`: whether the rung enters the
    trend (`usable`, and a baseline that grokked in at least one seed: a baseline censored in every
    seed has no delay to put on the axis)."""
    if speedups.empty:
        speedups = pd.DataFrame(columns=["study", "operation", "cell", "role"])
    rows = []
    for claim in claims:
        for rung in rungs:
            r = claim_row(copied_claim(claim, rung.name), speedups, within)
            fits = bool(usable(r["baseline_delay"], r["ratio"], r["ratio_lo"], r["ratio_hi"]))
            rows.append({"claim": claim["name"], "rung": rung.label, "factor": rung.factor, "study": r["study"],
                         "variant": r["variant"], "metric": r["metric"], "claimed": r["claimed"],
                         "baseline_delay": r["baseline_delay"], "baseline_delay_ratio": r["baseline_delay_ratio"],
                         "baseline_grokked_fraction": r["baseline_grokked_fraction"], "ratio": r["ratio"],
                         "ratio_lo": r["ratio_lo"], "ratio_hi": r["ratio_hi"], "n_seeds": r["n_seeds"],
                         "verdict": r["verdict"], "used": fits and bool(r["baseline_grokked_fraction"] > 0)})
    columns = ["claim", "rung", "factor", "study", "variant", "metric", "claimed", "baseline_delay", "baseline_delay_ratio",
               "baseline_grokked_fraction", "ratio", "ratio_lo", "ratio_hi", "n_seeds", "verdict", "used"]
    return pd.DataFrame(rows, columns=columns)


def consistency(trend: Trend, claimed: float | None) -> str:
    """yes / no: the claimed factor inside / outside the trend's interval at the target delay; or why not judged."""
    if claimed is None or not math.isfinite(claimed):
        return NO_FACTOR
    verdict = trend.consistent_with(claimed)
    if verdict is None:
        return NO_TREND if trend.rungs < 2 else EQUAL_DELAYS
    return "yes" if verdict else "no"


def trend_table(ladder: pd.DataFrame, claims: list[dict], target: float, confidence: float) -> pd.DataFrame:
    """One row per claim: the trend (fit_trend over the ladder's `used` rungs; every Trend field, so
    `trend_of` gives it back), the claimed factor, `consistent` (consistency) and whether the claim
    was measured at all (`measured`: a rung that is not 'not run')."""
    rows = []
    for claim in claims:
        rungs = ladder[(ladder["claim"] == claim["name"])]
        used = rungs[rungs["used"]]
        t = fit_trend(used["baseline_delay"], used["ratio"], used["ratio_lo"], used["ratio_hi"], target, confidence)
        claimed = claim["claimed"]
        rows.append({"claim": claim["name"], **dataclasses.asdict(t),
                     "claimed": float(claimed) if claimed is not None else math.nan,
                     "consistent": consistency(t, claimed),
                     "measured": bool((rungs["verdict"] != NOT_RUN).any())})
    columns = ["claim", *TREND_FIELDS, "claimed", "consistent", "measured"]
    return pd.DataFrame(rows, columns=columns)
