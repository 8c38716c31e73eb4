"""Snakemake adapter: runs.parquet -> speedups.parquet (every study), claims.parquet (with the
robustness replicate), ladder.parquet (each claim at every rung) and ladder_trend.parquet."""

import sys

import pandas as pd

from groklab import io
from groklab.analysis.claims import claims_table
from groklab.analysis.ladder import ladder_table, target_delay, trend_table
from groklab.analysis.speedup import speedup_tables
from groklab.config.matrix import REPLICATE, rungs_of

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params
paper, claims, within = p.paper, p.paper["claims"], p.paper["reproduced_within"]
speedups = speedup_tables(pd.read_parquet(snakemake.input.runs), p.studies, paper)
io.write_table(snakemake.output.speedups, speedups)
io.write_table(snakemake.output.claims, claims_table(claims, speedups, within, REPLICATE if p.robustness else None,
                                                     paper["seed_baseline"]))
ladder = ladder_table(claims, speedups, rungs_of(p.ladder), within)
io.write_table(snakemake.output.ladder, ladder)
io.write_table(snakemake.output.ladder_trend, trend_table(ladder, claims, target_delay(p.ladder, paper), paper["confidence"]))
print(f"{len(speedups)} speedup rows, {len(claims)} claims, {len(ladder)} ladder rows", file=sys.stderr)
