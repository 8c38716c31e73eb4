"""Speedup statistics, censoring, claim verdicts, phases and LaTeX formatting on known inputs."""

import math

import numpy as np
import pandas as pd
import pytest

from groklab.analysis.claims import (INCONCLUSIVE, NO_EFFECT, NOT_RUN, OPPOSITE, REPRODUCED, SMALLER, claim_row,
                                     verdict)
from groklab.paper.latex import escape, format_value, macro_name
from groklab.analysis.phases import PHASES, locate_phases
from groklab.analysis.speedup import censor, study_table
from groklab.analysis.stats import mean_ci, ratio_ci


def runs(cell, grok, mem=100, budget=1000, op="div", per_step=1.0):
    """runs.parquet rows of one cell: one per seed; grok None = never grokked; per_step: the
    operation's training examples per step."""
    return pd.DataFrame([{"cell": cell, "seed": i, "operation": op, "budget": budget, "eval_every": 10,
                          "examples_per_step": per_step,
                          "memorisation_step": mem, "grok_step": np.nan if g is None else g, "grokked": g is not None,
                          "stable": g is not None, "diverged": False, "final_test_acc": 1.0 if g else 0.1}
                         for i, g in enumerate(grok)])


def test_mean_ci_is_a_bootstrap_interval_inside_the_data():
    m, lo, hi = mean_ci([1.0, 2.0, 3.0], 0.95, 4000, np.random.default_rng(0))
    assert m == 2 and 1 <= lo < 2 < hi <= 3 and lo == pytest.approx(4 - hi, abs=0.15)   # symmetric data
    assert (m, lo, hi) == mean_ci([1.0, 2.0, 3.0], 0.95, 4000, np.random.default_rng(0))
    assert np.isnan(mean_ci([5.0], 0.95, 100, np.random.default_rng(0))[1])


def test_ratio_ci_brackets_the_ratio_and_is_seeded():
    rng = lambda: np.random.default_rng(0)   # noqa: E731
    r, lo, hi = ratio_ci([900, 1000, 1100], [90, 100, 110], 0.95, 2000, rng())
    assert r == pytest.approx(10) and lo < 10 < hi and (lo, hi) == ratio_ci([900, 1000, 1100], [90, 100, 110], 0.95, 2000, rng())[1:]
    assert ratio_ci([1, 1], [4, 4], 0.95, 100, rng()) == (0.25, 0.25, 0.25)


def test_never_grokked_runs_are_censored_at_the_budget_not_dropped():
    c = censor(runs("a", [500, None]))
    assert list(c["grok_step_c"]) == [500, 1000] and list(c["censored"]) == [False, True]
    assert list(c["delay_c"]) == [400, 900] and list(c["grok_pct_c"]) == [50, 100]
    # a delay shorter than one eval counts as one eval (the resolution), so ratios stay finite
    assert censor(runs("b", [100], mem=100))["delay_c"].iloc[0] == 10


def test_study_table_speedups_in_steps_and_percent_of_budget():
    data = pd.concat([runs("base", [800, 800, 800]), runs("multi", [200, 200, 200], budget=2000)])
    t = study_table(data, "s", "base", ["multi"], confidence=0.95, n_boot=200, seed=0).set_index("cell")
    assert t.loc["base", "speedup_grok_step"] == 1 and t.loc["multi", "speedup_grok_step"] == 4
    assert t.loc["multi", "speedup_grok_pct"] == 8      # 80% of budget vs 10% of a twice-longer budget
    assert t.loc["multi", "speedup_delay"] == pytest.approx(700 / 100)
    slower = study_table(pd.concat([runs("base", [800] * 3), runs("never", [None] * 3)]), "s", "base", ["never"],
                         confidence=0.95, n_boot=200, seed=0).set_index("cell")
    assert slower.loc["never", "speedup_grok_step"] == pytest.approx(0.8) and slower.loc["never", "grokked_fraction"] == 0


@pytest.mark.parametrize("ratio, lo, hi, claimed, base_grokked, expected", [
    (10.0, 6.0, 14.0, 8, 1.0, REPRODUCED),
    (4.0, 2.0, 6.0, 8, 1.0, REPRODUCED),           # within the factor 2 of the claim
    (3.0, 2.0, 4.0, 8, 1.0, SMALLER),
    (1.2, 0.7, 1.9, 8, 1.0, NO_EFFECT),
    (1.0, 1.0, 1.0, 8, 1.0, NO_EFFECT),            # an interval touching 1 is no effect
    (0.5, 0.3, 0.8, 8, 1.0, OPPOSITE),
    (0.5, 0.3, 0.8, None, 1.0, REPRODUCED),        # "slower" claim
    (0.9, 0.6, 1.3, None, 1.0, NO_EFFECT),
    (3.0, 2.0, 4.0, None, 1.0, OPPOSITE),
    (1.0, 1.0, 1.0, 8, 0.0, INCONCLUSIVE),
    (math.nan, math.nan, math.nan, 8, 1.0, NOT_RUN),
])
def test_verdicts(ratio, lo, hi, claimed, base_grokked, expected):
    assert verdict(ratio, lo, hi, claimed, 2.0, base_grokked) == expected


def test_examples_seen_is_the_fair_unit_of_multi_task_speedups():
    """Full batch: every step shows an operation its whole training set, so examples seen is
    steps (up to the constant) and a scaled budget would fake a speedup in % of budget. A
    minibatch shared by N tasks with the budget scaled by N: examples seen equals % of budget."""
    full = pd.concat([runs("base", [800] * 3, per_step=400.0), runs("both", [800] * 3, budget=2000, per_step=400.0)])
    t = study_table(full, "s", "base", ["both"], confidence=0.95, n_boot=200, seed=0).set_index("cell")
    assert t.loc["both", "speedup_grok_examples"] == 1 and t.loc["both", "speedup_grok_pct"] == 2
    shared = pd.concat([runs("base", [800] * 3, per_step=128.0), runs("both", [1000] * 3, budget=2000, per_step=64.0)])
    t = study_table(shared, "s", "base", ["both"], confidence=0.95, n_boot=200, seed=0).set_index("cell")
    assert t.loc["both", "speedup_grok_examples"] == pytest.approx(t.loc["both", "speedup_grok_pct"]) == 1.6
    assert t.loc["both", "speedup_grok_step"] == 0.8 and t.loc["both", "grok_examples"] == 64000
    assert t.loc["both", "speedup_delay_examples"] == pytest.approx(700 * 128 / (900 * 64))


def test_claim_row_reads_its_metric_and_says_not_run_without_cells():
    data = pd.concat([runs("base", [800, 810, 790]), runs("v", [100, 110, 90])])
    table = study_table(data, "s", "base", ["v"], confidence=0.95, n_boot=500, seed=0)
    claim = {"name": "x", "study": "s", "variant": "v", "operation": "div", "metric": "grok_step", "claimed": 8,
             "description": ""}
    row = claim_row(claim, table, 2.0)
    assert row["ratio"] == pytest.approx(8) and row["verdict"] == REPRODUCED and row["n_seeds"] == 3
    # the same quantity in the other units stands beside it
    assert row["ratio_steps"] == pytest.approx(8) and row["ratio_pct"] == pytest.approx(8)
    assert row["ratio_examples"] == pytest.approx(8)
    assert claim_row(claim | {"variant": "w"}, table, 2.0)["verdict"] == NOT_RUN


def test_phases_are_located_from_the_curves():
    steps = np.arange(0, 1000, 10)
    train_acc = np.where(steps >= 100, 1.0, 0.5)
    test_loss = np.where(steps < 400, 5.0, np.maximum(5.0 - (steps - 400) / 40, 0.0))   # drop starts at 400
    norm = np.where(steps < 600, 100.0, np.maximum(100.0 - (steps - 600) / 2, 20.0))   # falls 600..760
    metrics = pd.DataFrame({"step": steps, "train_acc": train_acc, "test_loss": test_loss})
    obs = pd.DataFrame({"step": steps, "weights.sum_sq": norm})
    p = locate_phases(metrics, obs, {"memorise_threshold": 0.99})
    assert {k: p[k] for k in PHASES} == {"memorisation": 100, "circuit_formation": 420, "cleanup": 750}
    assert math.isnan(locate_phases(metrics.assign(train_acc=0.5), obs, {"memorise_threshold": 0.99})["cleanup"])
    assert math.isnan(p["restricted_leads"]) and math.isnan(p["excluded_rises"])    # no Fourier measures


def _fourier_run(restricted_from: int, excluded_peak: float, sfx: str = ""):
    """Known curves: memorised at 100; test loss 5 -> 0 over 400..600 (half-way at 500); the
    restricted loss falls linearly over restricted_from..restricted_from+200; the excluded
    loss rises from 3 to excluded_peak until 380 and falls after. Fourier measures every 4th
    eval only (NaN between, as the expensive schedule writes them)."""
    steps = np.arange(0, 1000, 10)
    test_loss = np.clip(5.0 - (steps - 400) / 40, 0.0, 5.0)
    restricted = np.clip(5.0 - (steps - restricted_from) / 40, 0.0, 5.0)
    excluded = np.interp(steps, [0, 100, 380, 1000], [3.0, 3.0, excluded_peak, 1.0])
    sparse = steps % 40 == 0
    metrics = pd.DataFrame({"step": steps, f"train_acc{sfx}": np.where(steps >= 100, 1.0, 0.5), f"test_loss{sfx}": test_loss})
    obs = pd.DataFrame({"step": steps, f"fourier.restricted_loss{sfx}": np.where(sparse, restricted, np.nan),
                        f"fourier.excluded_loss{sfx}": np.where(sparse, excluded, np.nan)})
    return metrics, obs


def test_phase_evidence_from_the_fourier_measures():
    th = {"memorise_threshold": 0.99}
    p = locate_phases(*_fourier_run(restricted_from=150, excluded_peak=6.0), th)
    assert p["test_fall"] == 500 and p["restricted_fall"] == 280                # first sparse eval past 250
    assert p["restricted_leads"] == 1.0 and p["excluded_rises"] == 1.0 and p["excluded_peak"] == 400   # sparse evals 360: 5.79, 400: 5.84
    late = locate_phases(*_fourier_run(restricted_from=500, excluded_peak=3.1), th)
    assert late["restricted_leads"] == 0.0 and late["excluded_rises"] == 0.0
    # a multi-task cell: the operation's own columns
    multi = locate_phases(*_fourier_run(150, 6.0, "/div"), th, operation="div")
    assert pd.Series(multi).equals(pd.Series(p))                              # NaN == NaN here


def test_latex_formatting_and_macro_names():
    assert macro_name("claim", "divmul", "ratio_lo") == "ClaimDivmulRatioLo"
    assert macro_name("hmm", "study2", "k") == "HmmStudyTwoK"
    assert format_value(12345.0, "int") == "12{,}345" and format_value(3.14159, "ratio") == "3.1"
    assert format_value(316.2, "ratio") == "316" and format_value(float("nan"), "pct") == "--"
    # a bound that rounds to a whole number keeps its decimal; an exact whole number does not
    assert format_value(0.9955, "ratio") == "1.0" and format_value(8.0, "ratio") == "8"
    assert format_value(1.96, "ratio") == "2.0" and format_value(9.97, "ratio") == "10"
    assert escape("ops~div+mul_x & 5%") == r"ops\textasciitilde{}div+mul\_x \& 5\%"


def test_phase_diagram_figure_marks_never_grokked_cells(tmp_path):
    from types import SimpleNamespace

    from groklab.paper.plots import phase_diagram

    cells = {f"p~{p}__lr~{lr}__wd~{wd}": {"p": str(p), "lr": str(lr), "wd": str(wd)}
             for p in (17, 113) for lr in (0.001, 0.01) for wd in (0.1, 1)}
    rows = [runs(c, [None] if l["lr"] == "0.001" and l["wd"] == "0.1" else [300, 500]) for c, l in cells.items()]
    pd.concat(rows).assign(grokked=lambda d: d.grok_step.notna()).to_parquet(tmp_path / "runs.parquet")
    out = tmp_path / "pd.pdf"
    phase_diagram.render(SimpleNamespace(runs=str(tmp_path / "runs.parquet")), str(out),
                         axes={"x": "lr", "y": "wd", "facet": "p"}, labels=cells)
    assert out.stat().st_size > 5000 and out.read_bytes().startswith(b"%PDF")


def test_diverged_models_are_counted_and_censored_in_the_tables():
    data = pd.concat([runs("base", [800, 800, 800]), runs("hot", [300, None, None])])
    data.loc[(data.cell == "hot") & data.grok_step.isna(), "diverged"] = True
    t = study_table(data, "s", "base", ["hot"], confidence=0.95, n_boot=200, seed=0).set_index("cell")
    assert t.loc["hot", "diverged_fraction"] == pytest.approx(2 / 3) and t.loc["hot", "n_seeds"] == 3
    assert t.loc["hot", "grok_step"] == pytest.approx((300 + 1000 + 1000) / 3)    # censored, not dropped


def test_claims_without_studies_and_phases_without_observables():
    from groklab.analysis.claims import claims_table

    claim = {"name": "x", "study": "s", "variant": "v", "operation": "div", "metric": "delay", "claimed": 8,
             "description": ""}
    assert claims_table([claim], pd.DataFrame(), 2.0).verdict.tolist() == [NOT_RUN]
    steps = np.arange(0, 100, 10)
    metrics = pd.DataFrame({"step": steps, "train_acc": steps / 10, "test_loss": 5.0 - steps / 20})
    p = locate_phases(metrics, pd.DataFrame({"step": steps}), {"memorise_threshold": 0.99})
    assert p["memorisation"] == 10 and math.isnan(p["cleanup"])


def replicated(primary_variant, replicate_variant):
    """A study s (base vs v) and its robustness copy s--replicate, grok steps of the variant given."""
    from groklab.analysis.speedup import speedup_tables

    data = pd.concat([runs("base", [800, 810, 790]), runs("v", primary_variant),
                      runs("base--replicate", [800, 805, 795]), runs("v--replicate", replicate_variant)])
    studies = {"s": ("base", ["v"]), "s--replicate": ("base--replicate", ["v--replicate"])}
    return speedup_tables(data, studies, {"confidence": 0.95, "bootstrap": 500, "bootstrap_seed": 0})


CLAIM = {"name": "x", "study": "s", "variant": "v", "operation": "div", "metric": "grok_step", "claimed": 8, "description": ""}
SEED = {"delay": 332000, "grok_pct": 83.5, "budget": 400000}


def test_a_replicate_that_agrees_keeps_the_verdict():
    from groklab.analysis.claims import claims_table

    row = claims_table([CLAIM], replicated([100, 110, 90], [105, 95, 100]), 2.0, "replicate", SEED).iloc[0]
    assert row.verdict == row.verdict_primary == row.verdict_replicate == REPRODUCED
    assert row.ratio_replicate == pytest.approx(8, rel=0.01) and row.ratio_replicate_lo < 8 < row.ratio_replicate_hi
    assert row.n_seeds_replicate == 3


def test_a_replicate_that_disagrees_makes_the_claim_unstable():
    from groklab.analysis.claims import UNSTABLE, VERDICTS, claims_table, combined_verdict, unstable

    row = claims_table([CLAIM], replicated([100, 110, 90], [790, 810, 800]), 2.0, "replicate", SEED).iloc[0]
    assert row.verdict_primary == REPRODUCED and row.verdict_replicate == NO_EFFECT
    assert row.verdict == unstable(REPRODUCED, NO_EFFECT) == "unstable (reproduced vs no effect)"
    assert row.verdict.startswith(UNSTABLE) and UNSTABLE not in VERDICTS
    # only two measured verdicts can disagree: a replicate not run or inconclusive leaves the primary's
    assert combined_verdict(REPRODUCED, NOT_RUN) == REPRODUCED and combined_verdict(SMALLER, INCONCLUSIVE) == SMALLER
    assert combined_verdict(NOT_RUN, REPRODUCED) == NOT_RUN


def test_without_robustness_the_replicate_is_not_run_and_the_delay_ratios_stand_side_by_side():
    from groklab.analysis.claims import claims_table, seed_delay_ratio, seed_memorisation_step

    row = claims_table([CLAIM], replicated([100, 110, 90], [100, 100, 100]), 2.0, None, SEED).iloc[0]
    assert row.verdict_replicate == NOT_RUN and row.verdict == row.verdict_primary == REPRODUCED
    assert math.isnan(row.ratio_replicate) and math.isnan(row.ratio_replicate_lo) and math.isnan(row.ratio_replicate_hi)
    # the seed's baseline: grokked at 83.5 % of 400,000 steps after a 332,000-step delay
    assert seed_memorisation_step(SEED) == pytest.approx(2000) and seed_delay_ratio(SEED) == pytest.approx(166)
    assert row.seed_delay_ratio == pytest.approx(166)
    # ours: delay / memorisation step of the baseline, median over seeds (memorised at 100)
    assert row.baseline_delay_ratio == pytest.approx(7.0) and row.baseline_delay == pytest.approx(700)
