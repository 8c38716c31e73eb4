"""Snakemake adapter: lead-lag ranking and grok-step forecast over every run."""

import sys

import pandas as pd

from groklab import io
from groklab.mechanics import forecast_tables, leadlag_tables, load_inputs

sys.stderr = open(snakemake.log[0], "w", buffering=1)
obs, metrics = load_inputs(snakemake.input.observables, snakemake.input.metrics, snakemake.params.cells)
runs = pd.read_parquet(snakemake.input.runs)
changes, ranking = leadlag_tables(obs, runs, snakemake.params.studies)
io.write_parquet(snakemake.output.changes, changes)
io.write_parquet(snakemake.output.leadlag, ranking)
errors, weights = forecast_tables(obs, metrics, runs, snakemake.params.memorise_threshold)
io.write_parquet(snakemake.output.forecast, errors)
io.write_parquet(snakemake.output.weights, weights)
print(f"{len(changes)} (run, observable) change points; forecast rows: {len(errors)}", file=sys.stderr)
