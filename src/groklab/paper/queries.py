"""The queries that produce every number in the paper, by name.

A number is `QUERIES[query](**args)`: the args name the input files (run directories, HMM
outputs) and every setting, so `groklab audit` can recompute it from its provenance record
alone. Readers are cached per process (the paper has hundreds of numbers over a few files);
`clear_caches()` forgets them (audit calls it first).
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from groklab.analysis.aggregate import summarise_runs
from groklab.analysis.claims import claim_row
from groklab.analysis.phases import locate_phases
from groklab.seeding import derive_seed
from groklab.analysis.speedup import censor, cell_stats, speedup_row


@functools.lru_cache(maxsize=None)
def _cell_runs(run_dir: str) -> pd.DataFrame:
    """Grok events of one cell directory, censored (recomputed from metrics.parquet + config.json)."""
    return censor(summarise_runs([run_dir]))


def _runs(run_dirs) -> pd.DataFrame:
    return pd.concat([_cell_runs(d) for d in run_dirs], ignore_index=True)


@functools.lru_cache(maxsize=None)
def _speedup(base_dir: str, variant_dir: str, study: str, operation: str, confidence: float,
             n_boot: int, seed: int) -> dict:
    base, var = _cell_runs(base_dir), _cell_runs(variant_dir)
    base, var = base[base["operation"] == operation], var[var["operation"] == operation]
    if var.empty:
        raise ValueError(f"{variant_dir}: no runs of operation {operation!r}")
    return speedup_row(base, var, (study, var["cell"].iloc[0], operation), confidence, n_boot, seed)


def speedup(base_dir: str, variant_dir: str, study: str, operation: str, column: str, confidence: float,
            n_boot: int, seed: int):
    """One cell of a study's speedup table (the baseline's own row: base_dir == variant_dir)."""
    return _speedup(base_dir, variant_dir, study, operation, confidence, n_boot, seed)[column]


def claim(base_dir: str, variant_dir: str, claim: dict, column: str, confidence: float, n_boot: int,
          seed: int, within: float):
    """One cell of the claims table."""
    rows = [{"study": claim["study"], "role": "baseline", "cell": "baseline", "operation": claim["operation"],
             **_speedup(base_dir, base_dir, claim["study"], claim["operation"], confidence, n_boot, seed)},
            {"study": claim["study"], "role": "variant", "cell": claim["variant"], "operation": claim["operation"],
             **_speedup(base_dir, variant_dir, claim["study"], claim["operation"], confidence, n_boot, seed)}]
    return claim_row(claim, pd.DataFrame(rows), within)[column]


def cell_stat(run_dir: str, operation: str, column: str, confidence: float, n_boot: int, seed: int):
    """A statistic across the seeds of one cell (e.g. the baseline's mean grok step)."""
    runs = _cell_runs(run_dir)
    rng = np.random.default_rng(derive_seed(seed, "bootstrap", "cell", runs["cell"].iloc[0], operation))
    return cell_stats(runs[runs["operation"] == operation], confidence, n_boot, rng)[column]


def config_value(config_json: str, key: str):
    """A key of a cell's resolved config (dotted, e.g. model.d_model); lists give their length."""
    value = json.loads(Path(config_json).read_text())["config"]
    for part in key.split("."):
        value = value[part]
    return len(value) if isinstance(value, list) else value


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


def _cell_names(run_dirs) -> dict[str, str]:
    """Run directory name (cell id) -> cell name."""
    return {Path(d).name: _cell_runs(d)["cell"].iloc[0] for d in run_dirs}


@functools.lru_cache(maxsize=None)
def _mechanics_inputs(run_dirs: tuple[str, ...]):
    from groklab.analysis.mechanics import load_inputs

    cells = _cell_names(run_dirs)
    obs, metrics = load_inputs([f"{d}/observables.parquet" for d in run_dirs], [f"{d}/metrics.parquet" for d in run_dirs],
                               cells)
    return obs, metrics, _runs(run_dirs)


@functools.lru_cache(maxsize=None)
def _ranking(run_dirs: tuple[str, ...]) -> pd.DataFrame:
    from groklab.analysis.mechanics import ALL, leadlag_tables

    obs, _, runs = _mechanics_inputs(run_dirs)
    ranking = leadlag_tables(obs, runs, {}, all_cells=sorted(runs["cell"].unique()))[1]
    return ranking[ranking["study"] == ALL].reset_index(drop=True)


def leadlag(run_dirs: list[str], rank: int, column: str):
    """One cell of the lead-lag ranking over the given cells (rank 0 = the best leader)."""
    table = _ranking(tuple(run_dirs))
    return table[column].iloc[rank] if rank < len(table) else (None if column == "observable" else math.nan)


@functools.lru_cache(maxsize=None)
def _forecast(run_dirs: tuple[str, ...], memorise_threshold: float, hmm_json: str | None,
              matrix_map: str | None) -> pd.DataFrame:
    from groklab.analysis.mechanics import forecast_tables, hmm_inputs

    obs, metrics, runs = _mechanics_inputs(run_dirs)
    if hmm_json is None:
        return forecast_tables(obs, metrics, runs, memorise_threshold)[0]
    hmm = json.loads(hmm_json) | {"K": json.loads(Path(matrix_map).read_text())["K"]}
    hmm_obs = hmm_inputs([f"{d}/observables.parquet" for d in run_dirs], _cell_names(run_dirs), hmm["features"])
    return forecast_tables(obs, metrics, runs, memorise_threshold, hmm, hmm_obs)[0]


def forecast(run_dirs: list[str], memorise_threshold: float, cutoff: float, features: str, target: str,
             hmm: dict | None = None, matrix_map: str | None = None):
    """Cross-validated error of one forecast (feature set, target) at one cut-off; the HMM
    occupancy set refits the matrix map's K states (hmm: the hmm config) in every fold."""
    hmm_json = json.dumps(hmm, sort_keys=True) if hmm is not None else None
    t = _forecast(tuple(run_dirs), memorise_threshold, hmm_json, matrix_map)
    hit = t[(t["cutoff"] == cutoff) & (t["features"] == features) & (t["target"] == target)] if len(t) else t
    return float(hit["value"].iloc[0]) if len(hit) else math.nan


def constant(value, why: str):
    """A fixed text, e.g. "not run" for a claim the matrix does not measure (why says so)."""
    return value


QUERIES = {f.__name__: f for f in (speedup, claim, cell_stat, config_value, count, hmm_value,
                                   observable_count, phase_step, leadlag, forecast, constant)}


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
    for cached in (_cell_runs, _speedup, _mechanics_inputs, _ranking, _forecast):
        cached.cache_clear()
