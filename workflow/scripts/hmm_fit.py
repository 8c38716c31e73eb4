"""Snakemake adapter: fit one HMM training map (a study's, or the matrix map) and write its tables."""

import logging
import sys
from pathlib import Path

from groklab import io
from groklab.analysis.aggregate import summarise_runs
from groklab.analysis.collect import cell_table
from groklab.analysis.hmm import detour_state, fit_study, model_record, run_detours

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
cells = snakemake.params.cells                      # cell id -> cell name
cfg = snakemake.params.hmm
sm = fit_study(cell_table(snakemake.input.observables, cells), cfg, snakemake.params.normalise)
runs = summarise_runs([Path(p).parent for p in snakemake.input.metrics])
detours = run_detours(sm.paths, runs, sm.K, cfg["seed"])   # multi-task: censored unless every operation grokked
io.write_parquet(snakemake.output.selection, sm.selection)
io.write_json(snakemake.output.model, model_record(sm, cfg["features"]) | {
    "dropped": sm.dropped.to_dict("records"), "detour_state": detour_state(detours)})
io.write_parquet(snakemake.output.paths, sm.paths)
io.write_json(snakemake.output.map, {"K": sm.K, "states": sm.states.to_dict("records"), "edges": sm.edges.to_dict("records")})
io.write_parquet(snakemake.output.detours, detours)
print(f"K={sm.K} boundary={bool(sm.selection['boundary'].any())} converged={sm.converged} runs={sm.paths.groupby(['cell', 'seed']).ngroups} dropped={len(sm.dropped)}",
      file=sys.stderr)
