"""The paper's speedup, claims, lead-lag and forecast numbers are cells of the tables their own
rules wrote (queries.table_cell): each record names the table, its SHA-256 and the row/column,
and the audit re-reads that cell instead of recomputing it. Small hand-made tables, no DAG."""

import math

import pandas as pd
import pytest

from groklab.paper import numbers as paper_numbers_module
from groklab.paper import provenance, queries
from groklab.paper.numbers import Context, claim_numbers, evaluate_all, forecast_numbers, leadlag_numbers, speedup_numbers


@pytest.fixture(autouse=True)
def fresh_caches():
    queries.clear_caches()
    yield
    queries.clear_caches()


def cell(name: str, ops: list[str]) -> dict:
    return {"id": f"{name}-0000", "hash": "0" * 64,
            "config": {"task": {"operations": ops}, "training": {"seeds": [0, 1], "memorise_threshold": 0.99}}}


@pytest.fixture
def ctx(tmp_path, monkeypatch):
    """Two cells, one study, the four tables under tmp_path/results (run directories absent)."""
    monkeypatch.chdir(tmp_path)
    results = tmp_path / "results"
    (results / "tables").mkdir(parents=True)
    (results / "mechanics").mkdir()
    cols = list(paper_numbers_module.SPEEDUP_COLUMNS)
    speedups = pd.DataFrame([{"study": "s", "role": role, "cell": c, "operation": op,
                              **{k: float(i * 100 + j) for j, k in enumerate(cols)}, "n_seeds": 2}
                             for i, (role, c, op) in enumerate([("baseline", "a", "add"), ("variant", "b", "add"),
                                                                ("variant", "b", "sub")])])
    speedups.to_parquet(results / "tables" / "speedups.parquet")
    pd.DataFrame([{"claim": "c1", "study": "s", "variant": "b", "operation": "add", "claimed": 18.0, "ratio": 2.5,
                   "ratio_lo": 1.5, "ratio_hi": 3.5, "ratio_steps": 2.0, "ratio_pct": 4.0, "grokked_fraction": 1.0,
                   "n_seeds": 2, "verdict": "unstable (same direction, smaller vs no effect)",
                   "verdict_primary": "same direction, smaller", "verdict_replicate": "no effect", "ratio_replicate": 1.1,
                   "ratio_replicate_lo": 0.8, "ratio_replicate_hi": 1.4, "baseline_delay": 300.0,
                   "baseline_delay_ratio": 6.0, "seed_delay_ratio": 166.0}]
                 ).to_parquet(results / "tables" / "claims.parquet")
    pd.DataFrame([{"claim": "c1", "rung": r, "factor": f, "baseline_delay": d, "baseline_delay_ratio": d / 50,
                   "ratio": 2.0 * f, "ratio_lo": 1.0, "ratio_hi": 3.0, "n_seeds": 2, "verdict": "no effect"}
                  for r, f, d in (("x1", 1.0, 300.0), ("slow", 0.3, 900.0))]).to_parquet(results / "tables" / "ladder.parquet")
    pd.DataFrame([{"claim": "c1", "rungs": 2, "slope": 0.5, "slope_lo": 0.1, "slope_hi": 0.9, "target_delay": 332000.0,
                   "predicted": 20.0, "predicted_lo": 10.0, "predicted_hi": 40.0, "claimed": 18.0, "consistent": "yes"}]
                 ).to_parquet(results / "tables" / "ladder_trend.parquet")
    pd.DataFrame([{"observable": o, "runs": 3, "median_lead": 40.0 - i, "median_lead_fraction": 0.5,
                   "leads_fraction": 1.0, "sign_consistency": 1.0, "median_effect_size": 2.0, "study": study}
                  for study in ("s", "all studies") for i, o in enumerate(["x", "y"] if study == "s" else ["z", "w"])]
                 ).to_parquet(results / "mechanics" / "leadlag.parquet")
    pd.DataFrame([{"features": f, "target": t, "metric": "m", "value": v, "runs": 4, "cells": 2, "cutoff": c}
                  for c in (0.1, 0.2, 0.3) for f, v in (("observables", 0.25), ("median", 0.5))
                  for t in ("log_grok", "grokked")]).to_parquet(results / "mechanics" / "forecast.parquet")
    paper = {"claims": [{"name": "c1", "study": "s", "variant": "b", "operation": "add", "metric": "grok_examples",
                         "claimed": 18, "description": ""}],
             "reproduced_within": 2, "confidence": 0.95, "bootstrap": 100, "bootstrap_seed": 0, "baseline": None,
             "seed_baseline": {"delay": 332000, "grok_pct": 83.5, "budget": 400000}}
    cells = {n: cell(n, ops) for n, ops in (("a", ["add"]), ("b", ["add", "sub"]), ("a--slow", ["add"]),
                                            ("b--slow", ["add", "sub"]), ("a--replicate", ["add"]), ("b--replicate", ["add", "sub"]))}
    return Context(results="results", cells=cells, studies={"s": ("a", ["b"], "a study")}, paper=paper,
                   ladder={"key": "optimizer.weight_decay", "rungs": {"x1": 1, "slow": 0.3}, "target_delay": None},
                   robustness={"seeds": [5], "split_seed": 1})


def test_table_cell_selects_by_key_columns_and_position(tmp_path):
    path = tmp_path / "t.parquet"
    pd.DataFrame({"k": ["p", "q", "q"], "v": [1.0, 2.0, 3.0], "name": ["one", "two", "three"]}).to_parquet(path)
    assert queries.evaluate("table_cell", {"table": str(path), "where": {"k": "q"}, "column": "v"}) == 2.0
    assert queries.evaluate("table_cell", {"table": str(path), "where": {"k": "q"}, "column": "name", "position": 1}) == "three"
    assert math.isnan(queries.table_cell(str(path), {"k": "r"}, "v", missing="nan"))
    assert queries.table_cell(str(path), {"k": "q"}, "name", position=5, missing="none") is None
    with pytest.raises(KeyError, match="no row 0"):
        queries.table_cell(str(path), {"k": "r"}, "v")
    empty = tmp_path / "empty.parquet"
    pd.DataFrame().to_parquet(empty)       # a matrix without studies writes a table without columns
    assert math.isnan(queries.table_cell(str(empty), {"study": "s"}, "v", missing="nan"))


def test_table_numbers_read_their_table_and_record_it_first(ctx):
    nums = speedup_numbers(ctx, "s") + claim_numbers(ctx, ctx.paper["claims"][0]) + leadlag_numbers(ctx) + forecast_numbers(ctx)
    assert {n.query for n in nums} == {"table_cell"}
    evaluate_all(nums)
    by = {n.name: n for n in nums}
    speed = pd.read_parquet("results/tables/speedups.parquet")
    row = speed[(speed.cell == "b") & (speed.operation == "sub")].iloc[0]
    assert by["speedups/s/b/sub/grok_step"].value == row.grok_step
    assert by["speedups/s/a/add/n_seeds"].value == 2 and isinstance(by["speedups/s/a/add/n_seeds"].value, int)
    assert by["speedups/s/b/add/grok_step"].inputs[0] == "results/tables/speedups.parquet"
    assert "results/runs/b-0000/metrics.parquet" in by["speedups/s/b/add/grok_step"].inputs   # the runs behind it
    assert by["ClaimCOneRatio"].value == 2.5 and by["claims/c1/verdict_primary"].value == "same direction, smaller"
    # the ranking over every study, not the first study's rows
    assert by["LeadTopObservable"].value == "z" and by["leadlag/1/observable"].value == "w"
    assert by["leadlag/2/observable"].value is None and math.isnan(by["leadlag/2/median_lead"].value)
    assert by["ForecastObservablesMae"].value == 0.25
    assert math.isnan(by["ForecastHmmOccupancyMae"].value)       # a feature set the table does not have


def test_records_name_the_table_and_audit_rereads_it(ctx):
    nums = speedup_numbers(ctx, "s")[:3] + leadlag_numbers(ctx)[:1]
    for n in nums:          # the run files do not exist here: keep only the table as input
        n.inputs = n.inputs[:1]
    evaluate_all(nums)
    recs = provenance.records(nums, {n.name: str(n.value) for n in nums}, {"rule": "numbers"})
    rec = recs["speedups/s/a/add/grokked_fraction"]
    sha = provenance.sha256("results/tables/speedups.parquet")
    assert rec["source"] == {"table": "results/tables/speedups.parquet", "sha256": sha,
                             "where": {"study": "s", "cell": "a", "operation": "add"}, "position": 0,
                             "column": "grokked_fraction"}
    assert recs["leadlag/0/observable"]["source"]["position"] == 0
    from pathlib import Path

    hashes = {}
    assert all(provenance.check(r, Path("."), hashes) == [] for r in recs.values())
    # the table is rewritten with another value: its SHA-256 no longer matches
    speed = pd.read_parquet("results/tables/speedups.parquet")
    speed.loc[0, "grokked_fraction"] = 0.125
    speed.to_parquet("results/tables/speedups.parquet")
    queries.clear_caches()
    (problem,) = provenance.check(rec, Path("."))
    assert "input results/tables/speedups.parquet changed since the number was made" in problem
    # a record whose hash matches the new table but not its value: the re-read cell is named
    forged = rec | {"inputs": [{"path": rec["source"]["table"], "sha256": provenance.sha256(rec["source"]["table"])}],
                    "source": rec["source"] | {"sha256": provenance.sha256(rec["source"]["table"])}}
    (problem,) = provenance.check(forged, Path("."))
    assert "but re-reading results/tables/speedups.parquet" in problem and "now gives 0.125" in problem


def test_ladder_trend_replicate_and_seed_numbers(ctx):
    from groklab.paper.build import claims_tex, ladder_tex
    from groklab.paper.latex import format_value
    from groklab.paper.numbers import ladder_numbers

    nums = ladder_numbers(ctx) + claim_numbers(ctx, ctx.paper["claims"][0])
    evaluate_all(nums)
    by = {n.name: n for n in nums}
    assert by["ladder/c1/slow/baseline_delay"].value == 900.0 and by["ladder/c1/x1/factor"].value == 1.0
    # a rung's numbers name the rung's copies of the cells, the trend's every rung's
    assert "results/runs/b--slow-0000/metrics.parquet" in by["ladder/c1/slow/ratio"].inputs
    assert "results/runs/b--slow-0000/metrics.parquet" not in by["ladder/c1/x1/ratio"].inputs
    assert {"a", "b", "a--slow", "b--slow"} == {c["name"] for c in by["ladder_trend/c1/predicted"].cells}
    assert by["ladder_trend/c1/consistent"].value == "yes" and by["LadderTargetDelay"].value == 332000.0
    assert by["LadderKey"].value == "optimizer.weight_decay"
    # the seed's numbers are derived from paper.seed_baseline, not typed
    assert by["SeedDelayRatio"].query == "seed_baseline" and by["SeedDelayRatio"].value == pytest.approx(166)
    assert by["SeedMemStep"].value == pytest.approx(2000) and by["SeedGrokStep"].value == pytest.approx(334000)
    # the replicate's cells are behind the claim's numbers, its verdict beside the primary one
    assert "b--replicate" in {c["name"] for c in by["claims/c1/verdict_replicate"].cells}
    assert by["ClaimCOneVerdict"].value.startswith("unstable") and by["claims/c1/verdict_replicate"].value == "no effect"
    text = {n.name: format_value(n.value, n.fmt) for n in nums}
    values = {n.name: n.value for n in nums}
    tex = ladder_tex(ctx, text, values, {"generated/figures/ladder.pdf": "cap"})
    assert "332{,}000 steps predicts 20$\\times$ [10, 40]; the seed's 18$\\times$ is consistent with it." in tex
    assert "c1 & slow & 0.3 & 900 & 18 & 0.60 [1, 3] & no effect" in tex and "generated/figures/ladder.pdf" in tex
    claims = claims_tex(ctx, text)
    assert "unstable (same direction, smaller vs no effect) & no effect & 6 & 166" in claims
    # audit: every number is recomputed (seed), or re-read from its table (the run files are absent here)
    for n in nums:
        n.inputs = [i for i in n.inputs if "/runs/" not in i]
    recs = provenance.records(nums, text, {"rule": "numbers"})
    from pathlib import Path

    assert all(provenance.check(r, Path(".")) == [] for r in recs.values())
