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


# -- the ladder and trend tables on synthetic runs ---------------------------------------------------------

import math  # noqa: E402

import pandas as pd  # noqa: E402

from groklab.analysis.claims import INCONCLUSIVE, NOT_RUN  # noqa: E402
from groklab.analysis.ladder import (EQUAL_DELAYS, NO_FACTOR, NO_TREND, ladder_table, target_delay, trend_of,  # noqa: E402
                                     trend_table)
from groklab.analysis.speedup import speedup_tables  # noqa: E402
from groklab.config.matrix import Rung  # noqa: E402

MEM = 100
RUNGS = [Rung("x1", 1.0), Rung("slow", 0.3), Rung("slower", 0.1)]
PAPER = {"confidence": 0.95, "bootstrap": 1000, "bootstrap_seed": 0}


def cell_runs(cell, delays, budget=10**7):
    return pd.DataFrame([{"cell": cell, "seed": i, "operation": "div", "budget": budget, "eval_every": 1,
                          "examples_per_step": 1.0, "memorisation_step": MEM, "grok_step": MEM + d if d else math.nan,
                          "grokked": d is not None, "stable": True, "diverged": False, "final_test_acc": 1.0}
                         for i, d in enumerate(delays)])


def ladder_speedups(rungs, base_delays, slope, scatter=0.03, seed=0, never=()):
    """Per rung: the claim's study copy; its baseline's delays scatter around base_delays[r] and its
    variant's delay is shorter by the factor 2 * delay^slope (3 seeds each). Rungs named in `never`
    have a baseline that never grokked."""
    rng = np.random.default_rng(seed)
    frames, studies = [], {}
    for rung, delay in zip(rungs, base_delays):
        b, v = rung.name("base"), rung.name("var")
        noisy = delay * np.exp(rng.normal(0, scatter, 3))
        frames += [cell_runs(b, [None] * 3 if rung.label in never else noisy),
                   cell_runs(v, noisy / (2 * delay**slope) * np.exp(rng.normal(0, scatter, 3)))]
        studies[rung.name("s")] = (b, [v])
    return speedup_tables(pd.concat(frames, ignore_index=True), studies, PAPER)


def claim(claimed, name="c", study="s"):
    return {"name": name, "study": study, "variant": "var", "operation": "div", "metric": "delay", "claimed": claimed,
            "description": ""}


def test_the_ladder_reads_each_claim_at_every_rung_and_the_trend_recovers_the_slope():
    delays = [1000.0, 3000.0, 10000.0]
    sp = ladder_speedups(RUNGS, delays, 0.5)
    predicted = 2 * SEED_DELAY**0.5
    claims = [claim(predicted), claim(20 * predicted, name="far")]
    ladder = ladder_table(claims, sp, RUNGS, 2.0)
    assert ladder[["claim", "rung"]].values.tolist() == [[c, r.label] for c in ("c", "far") for r in RUNGS]
    c = ladder[ladder.claim == "c"].set_index("rung")
    assert c.loc["slow", "study"] == "s--slow" and c.loc["x1", "study"] == "s" and c.loc["slower", "factor"] == 0.1
    assert c["baseline_delay"].to_numpy() == pytest.approx(delays, rel=0.1)
    assert c["baseline_delay_ratio"].to_numpy() == pytest.approx(np.array(delays) / MEM, rel=0.1)
    assert c["ratio"].to_numpy() == pytest.approx(2 * np.array(delays) ** 0.5, rel=0.1)
    assert (c["ratio_lo"] < c["ratio"]).all() and (c["ratio"] < c["ratio_hi"]).all() and c["used"].all()
    trend = trend_table(ladder, claims, SEED_DELAY, 0.95).set_index("claim")
    assert trend.loc["c", "slope"] == pytest.approx(0.5, abs=0.05) and trend.loc["c", "rungs"] == 3
    assert trend.loc["c", "slope_lo"] < 0.5 < trend.loc["c", "slope_hi"]
    assert trend.loc["c", "predicted_lo"] < predicted < trend.loc["c", "predicted_hi"]
    assert trend.loc["c", "consistent"] == "yes" and trend.loc["far", "consistent"] == "no"
    assert trend.loc["c", "target_delay"] == SEED_DELAY and trend.loc["far", "claimed"] == pytest.approx(20 * predicted)
    # the row gives the Trend back, and its band at the target delay is the predicted interval
    t = trend_of(trend.reset_index().iloc[0])
    assert [float(x[0]) for x in t.at([SEED_DELAY])] == pytest.approx(
        [trend.loc["c", "predicted"], trend.loc["c", "predicted_lo"], trend.loc["c", "predicted_hi"]], rel=1e-9)


def test_one_rung_a_slower_claim_and_a_claim_not_run():
    sp = ladder_speedups(RUNGS[:1], [1000.0], 0.5)
    claims = [claim(8), claim(None, name="slower"), claim(8, name="gone", study="elsewhere")]
    ladder = ladder_table(claims, sp, RUNGS[:1], 2.0)
    assert len(ladder) == 3 and ladder.set_index("claim").loc["gone", "verdict"] == NOT_RUN
    trend = trend_table(ladder, claims, SEED_DELAY, 0.95).set_index("claim")
    assert trend.loc["c", "consistent"] == NO_TREND == "no trend: fewer than 2 rungs" and trend.loc["c", "rungs"] == 1
    assert math.isnan(trend.loc["c", "slope"]) and math.isnan(trend.loc["c", "predicted"])
    assert trend.loc["slower", "consistent"] == NO_FACTOR and math.isnan(trend.loc["slower", "claimed"])
    assert trend.loc["gone", "consistent"] == NO_TREND and not trend.loc["gone", "measured"] and trend.loc["c", "measured"]


def test_a_rung_whose_baseline_never_grokked_is_left_out_of_the_trend():
    sp = ladder_speedups(RUNGS, [1000.0, 3000.0, 10000.0], 0.5, never=("slower",))
    ladder = ladder_table([claim(8)], sp, RUNGS, 2.0).set_index("rung")
    assert ladder.loc["slower", "verdict"] == INCONCLUSIVE and not ladder.loc["slower", "used"]
    assert ladder.loc["slower", "baseline_delay"] == pytest.approx(10**7 - MEM)      # censored at the budget
    trend = trend_table(ladder.reset_index(), [claim(8)], SEED_DELAY, 0.95).iloc[0]
    assert trend.rungs == 2 and trend.slope == pytest.approx(0.5, abs=0.1) and np.isnan(trend.reduced_chi2)
    same = ladder_speedups(RUNGS[:2], [1000.0, 1000.0], 0.5, scatter=0.0)
    sp_trend = trend_table(ladder_table([claim(8)], same, RUNGS[:2], 2.0), [claim(8)], SEED_DELAY, 0.95).iloc[0]
    assert sp_trend.consistent in (EQUAL_DELAYS, NO_TREND)


def test_the_target_delay_is_the_seeds_unless_set():
    paper = {"seed_baseline": {"delay": 332000, "grok_pct": 83.5, "budget": 400000}}
    assert target_delay({"target_delay": None}, paper) == 332000.0
    assert target_delay({"target_delay": 5000}, paper) == 5000.0
