"""The queries that produce every number in the paper, by name.

A number is `QUERIES[query](**args)`: the args name the input files (run directories, HMM
outputs, tables) and every setting, so `groklab audit` can recheck it from its provenance record
alone. The speedup, claims, lead-lag and forecast numbers are `table_cell`s: one cell of a table
another rule already wrote (results/tables/{speedups,claims}.parquet,
results/mechanics/{leadlag,forecast}.parquet), read, not recomputed. Readers are cached per
process (the paper has hundreds of numbers over a few files); `clear_caches()` forgets them
(audit calls it first).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from groklab.analysis.aggregate import summarise_runs
from groklab.analysis.phases import locate_phases
from groklab.seeding import derive_seed
from groklab.analysis.speedup import censor, cell_stats


@functools.lru_cache(maxsize=None)
def _cell_runs(run_dir: str) -> pd.DataFrame:
    """Grok events of one cell directory, censored (recomputed from metrics.parquet + config.json)."""
    return censor(summarise_runs([run_dir]))


def _runs(run_dirs) -> pd.DataFrame:
    return pd.concat([_cell_runs(d) for d in run_dirs], ignore_index=True)


@functools.lru_cache(maxsize=None)
def _cell_stats(run_dir: str, operation: str, confidence: float, n_boot: int, seed: int) -> dict:
    runs = _cell_runs(run_dir)
    rng = np.random.default_rng(derive_seed(seed, "bootstrap", "cell", runs["cell"].iloc[0], operation))
    return cell_stats(runs[runs["operation"] == operation], confidence, n_boot, rng)


def cell_stat(run_dir: str, operation: str, column: str, confidence: float, n_boot: int, seed: int):
    """A statistic across the seeds of one cell (e.g. the baseline's mean grok step)."""
    return _cell_stats(run_dir, operation, confidence, n_boot, seed)[column]


def config_value(config_json: str, key: str):
    """A key of a cell's resolved config (dotted, e.g. model.d_model); lists give their length."""
    value = json.loads(Path(config_json).read_text())["config"]
    for part in key.split("."):
        value = value[part]
    return len(value) if isinstance(value, list) else value


def batch_mode(config_json: str) -> str:
    """How a cell's steps are counted, in words: "full-batch" or "minibatch (B examples)"."""
    size = json.loads(Path(config_json).read_text())["config"]["training"]["batch_size"]
    return "full-batch" if size is None else f"minibatch ({size} examples)"


def count(run_dirs: list[str], what: str) -> int:
    """cells, models (cell x seed) or evals over the given run directories."""
    runs = _runs(run_dirs)
    if what == "cells":
        return runs["cell_id"].nunique()
    if what == "models":
        return len(runs[["cell_id", "seed"]].drop_duplicates())
    raise ValueError(f"count: unknown quantity {what!r}")


def hmm_value(model_json: str, key: str):
    """A field of a study's HMM model record (K, number of runs, ...)."""
    return json.loads(Path(model_json).read_text())[key]


def hmm_k(model_json: str) -> str:
    """A map's K as the paper prints it: the number, or, where K is the largest K tried, the number
    with groklab.vocabulary.HMM_BOUNDARY (a boundary K is no finding: the curve may still fall)."""
    from groklab.vocabulary import HMM_BOUNDARY

    record = json.loads(Path(model_json).read_text())
    return f"{record['K']} ({HMM_BOUNDARY})" if record.get("boundary") else str(record["K"])


def observable_count(observables: str) -> int:
    """Distinct observable columns recorded in one cell's observables.parquet."""
    import pyarrow.parquet as pq

    names = pq.read_schema(observables).names
    return sum(1 for n in names if n not in ("seed", "step"))


def phase_step(run_dir: str, seed: int, phase: str, thresholds: dict):
    """Step where one of Nanda et al.'s phases ends in one model (groklab.analysis.phases)."""
    metrics = pd.read_parquet(Path(run_dir) / "metrics.parquet")
    obs = pd.read_parquet(Path(run_dir) / "observables.parquet")
    return locate_phases(metrics[metrics.seed == seed], obs[obs.seed == seed], thresholds)[phase]


@functools.lru_cache(maxsize=None)
def _table(path: str) -> pd.DataFrame:
    return pd.read_parquet(path)


MISSING = {"nan": math.nan, "none": None}


def table_cell(table: str, where: dict, column: str, position: int = 0, missing: str = "error"):
    """One cell of a table another rule wrote: the position-th row whose key columns equal
    `where` (in the table's order), at `column`; no such row -> `missing` (error, nan, none)."""
    t = _table(table)
    hit = t
    for key, value in where.items():   # a table without rows may have no columns either
        hit = hit[hit[key] == value] if key in hit else hit.iloc[:0]
    if position < len(hit):
        return hit[column].iloc[position]
    if missing == "error":
        raise KeyError(f"{table}: no row {position} where {where}")
    return MISSING[missing]


def seed_baseline(delay: float, grok_pct: float, budget: float, quantity: str):
    """A number of the seed paper's baseline (paper.seed_baseline), given or derived from the three."""
    from groklab.analysis.claims import seed_delay_ratio, seed_grok_step, seed_memorisation_step

    seed = {"delay": delay, "grok_pct": grok_pct, "budget": budget}
    derived = {"grok_step": seed_grok_step, "memorisation_step": seed_memorisation_step, "delay_ratio": seed_delay_ratio}
    return derived[quantity](seed) if quantity in derived else seed[quantity]


def constant(value, why: str):
    """A fixed text, e.g. "not run" for a claim the matrix does not measure (why says so)."""
    return value


QUERIES = {f.__name__: f for f in (batch_mode, cell_stat, config_value, count, hmm_value, hmm_k, observable_count, phase_step,
                                   table_cell, seed_baseline, constant)}


def evaluate(query: str, args: dict):
    value = QUERIES[query](**args)
    return value.item() if hasattr(value, "item") else value


def same(a, b) -> bool:
    """Recorded vs recomputed value: NaN equals NaN; floats to 1e-9 relative (JSON round trip)."""
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    if a is None or b is None:
        return a is b
    a, b = float(a), float(b)
    return (math.isnan(a) and math.isnan(b)) or math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def clear_caches() -> None:
    for cached in (_cell_runs, _cell_stats, _table):
        cached.cache_clear()
