"""Snakemake adapter: fit one HMM training map (a study's, or the matrix map) and write its tables."""

import logging
import sys
from pathlib import Path

import pandas as pd

from groklab import io
from groklab.analysis.aggregate import summarise_runs
from groklab.analysis.hmm import detour_state, detour_table, fit_study, model_record

sys.stderr = open(snakemake.log[0], "w", buffering=1)
logging.basicConfig(stream=sys.stderr, level=logging.INFO)
cells = snakemake.params.cells                      # cell id -> cell name
frames = []
for path in snakemake.input.observables:
    obs = pd.read_parquet(path)
    frames.append(obs.assign(cell=cells[Path(path).parent.name]))
cfg = snakemake.params.hmm
sm = fit_study(pd.concat(frames, ignore_index=True), cfg, snakemake.params.normalise)
runs = summarise_runs([Path(p).parent for p in snakemake.input.metrics])
grok = (runs.groupby(["cell", "seed"], as_index=False)
        .agg(grok_step=("grok_step", "max"), budget=("budget", "first")))   # multi-task: the last operation to grok
detours = detour_table(sm.paths, grok, sm.K)
io.write_parquet(snakemake.output.selection, sm.selection)
io.write_json(snakemake.output.model, model_record(sm, cfg["features"]) | {
    "dropped": sm.dropped.to_dict("records"), "detour_state": detour_state(detours)})
io.write_parquet(snakemake.output.paths, sm.paths)
io.write_json(snakemake.output.map, {"K": sm.K, "states": sm.states.to_dict("records"), "edges": sm.edges.to_dict("records")})
io.write_parquet(snakemake.output.detours, detours)
print(f"K={sm.K} converged={sm.converged} runs={sm.paths.groupby(['cell', 'seed']).ngroups} dropped={len(sm.dropped)}",
      file=sys.stderr)
