"""The delay ladder's trend fit (groklab.analysis.ladder) on synthetic speedups with a known slope."""
import numpy as np
import pytest

from groklab.analysis.ladder import fit_trend, log_se

DELAYS = np.array([300.0, 1000.0, 3000.0, 10000.0])
SEED_DELAY = 332_000


def test_an_exact_power_law_is_recovered_and_carried_to_the_seed_delay():
    speedup = 2.0 * DELAYS**0.5
    t = fit_trend(DELAYS, speedup, speedup / 1.3, speedup * 1.3, SEED_DELAY)
    assert t.slope == pytest.approx(0.5, abs=1e-9) and t.intercept == pytest.approx(np.log(2.0), abs=1e-9)
    assert t.reduced_chi2 == pytest.approx(0.0, abs=1e-12) and t.rungs == 4
    assert t.predicted == pytest.approx(2.0 * SEED_DELAY**0.5, rel=1e-9)
    assert t.predicted_lo < t.predicted < t.predicted_hi and t.slope_lo < 0.5 < t.slope_hi
    assert t.consistent_with(2.0 * SEED_DELAY**0.5) and not t.consistent_with(1.0)


def test_intervals_cover_the_true_slope_at_their_level():
    """Noisy ladders (log-normal scatter with the se their intervals state): the 95 % interval of
    the slope holds the true slope in about 95 % of them, and the fit is unbiased."""
    rng = np.random.default_rng(0)
    se, true_slope, covered, slopes = 0.25, 0.8, 0, []
    for _ in range(400):
        s = 1.5 * DELAYS**true_slope * np.exp(rng.normal(0, se, len(DELAYS)))
        half = np.exp(1.959964 * se)
        t = fit_trend(DELAYS, s, s / half, s * half, SEED_DELAY)
        covered += t.slope_lo <= true_slope <= t.slope_hi
        slopes.append(t.slope)
    assert 0.90 <= covered / 400 <= 0.99
    assert np.mean(slopes) == pytest.approx(true_slope, abs=0.03)


def test_scatter_beyond_the_intervals_widens_the_trend():
    """Rungs far apart compared with their own (tight) intervals: the slope's interval is wider
    than those intervals alone imply (covariance scaled by the reduced chi-square, t quantile)."""
    speedup = np.array([1.0, 4.0, 1.5, 6.0])
    t = fit_trend(DELAYS, speedup, speedup / 1.05, speedup * 1.05, SEED_DELAY)
    assert t.reduced_chi2 > 1
    se = log_se(1 / 1.05, 1.05, 0.95)                 # the same for every rung
    x = np.log(DELAYS)
    from_intervals = 1.959964 * se / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert (t.slope_hi - t.slope_lo) / 2 > 3 * from_intervals


def test_too_few_rungs_give_no_trend():
    t = fit_trend([1000.0, np.nan], [2.0, 3.0], [1.5, 2.0], [3.0, 4.0], SEED_DELAY)
    assert t.rungs == 1 and np.isnan(t.slope) and t.consistent_with(8.0) is None
    same = fit_trend([1000.0, 1000.0], [2.0, 3.0], [1.5, 2.0], [3.0, 4.0], SEED_DELAY)
    assert np.isnan(same.slope)
