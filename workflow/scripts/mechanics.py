"""Snakemake adapter: lead-lag ranking and grok-step forecast over every run."""

import json
import sys

import pandas as pd

from groklab import io
from groklab.analysis.mechanics import forecast_tables, hmm_inputs, leadlag_tables, load_inputs

sys.stderr = open(snakemake.log[0], "w", buffering=1)
cells = snakemake.params.cells
obs, metrics = load_inputs(snakemake.input.observables, snakemake.input.metrics, cells)
runs = pd.read_parquet(snakemake.input.runs)
changes, ranking = leadlag_tables(obs, runs, snakemake.params.studies)
io.write_parquet(snakemake.output.changes, changes)
io.write_table(snakemake.output.leadlag, ranking)
# the state-occupancy forecast refits the matrix map's K states in every fold (groklab.analysis.forecast);
# without a matrix map (no cell records observables) that feature set is left out
hmm, hmm_obs = snakemake.params.hmm, None
if hmm is not None:
    hmm = hmm | {"K": json.load(open(snakemake.input.matrix_map))["K"]}
    hmm_obs = hmm_inputs(snakemake.input.observables, cells, hmm["features"])
errors, weights = forecast_tables(obs, metrics, runs, snakemake.params.memorise_threshold, hmm, hmm_obs)
io.write_table(snakemake.output.forecast, errors)
io.write_parquet(snakemake.output.weights, weights)
print(f"{len(changes)} (run, observable) change points; forecast rows: {len(errors)}", file=sys.stderr)
