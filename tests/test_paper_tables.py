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
                   "n_seeds": 2, "verdict": "same direction, smaller"}]
                 ).to_parquet(results / "tables" / "claims.parquet")
    pd.DataFrame([{"observable": o, "runs": 3, "median_lead": 40.0 - i, "median_lead_fraction": 0.5,
                   "leads_fraction": 1.0, "sign_consistency": 1.0, "median_effect_size": 2.0, "study": study}
                  for study in ("s", "all studies") for i, o in enumerate(["x", "y"] if study == "s" else ["z", "w"])]
                 ).to_parquet(results / "mechanics" / "leadlag.parquet")
    pd.DataFrame([{"features": f, "target": t, "metric": "m", "value": v, "runs": 4, "cells": 2, "cutoff": c}
                  for c in (0.1, 0.2, 0.3) for f, v in (("observables", 0.25), ("median", 0.5))
                  for t in ("log_grok", "grokked")]).to_parquet(results / "mechanics" / "forecast.parquet")
    paper = {"claims": [{"name": "c1", "study": "s", "variant": "b", "operation": "add", "metric": "grok_examples",
                         "claimed": 18, "description": ""}],
             "reproduced_within": 2, "confidence": 0.95, "bootstrap": 100, "bootstrap_seed": 0, "baseline": None}
    return Context(results="results", cells={"a": cell("a", ["add"]), "b": cell("b", ["add", "sub"])},
                   studies={"s": ("a", ["b"], "a study")}, paper=paper)


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
    assert by["ClaimCOneRatio"].value == 2.5 and by["claims/c1/verdict"].value == "same direction, smaller"
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
