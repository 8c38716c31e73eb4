"""Snakemake adapter: runs.parquet -> speedups.parquet (every study) and claims.parquet."""

import sys

import pandas as pd

from groklab import io
from groklab.analysis.claims import claims_table
from groklab.analysis.speedup import speedup_tables

sys.stderr = open(snakemake.log[0], "w", buffering=1)
paper = snakemake.params.paper
speedups = speedup_tables(pd.read_parquet(snakemake.input.runs), snakemake.params.studies, paper)
io.write_table(snakemake.output.speedups, speedups)
io.write_table(snakemake.output.claims, claims_table(paper["claims"], speedups, paper["reproduced_within"]))
print(f"{len(speedups)} speedup rows, {len(paper['claims'])} claims", file=sys.stderr)
