"""Snakemake adapter: compute one figure's data with groklab.analysis.figure_data.<params.module>.compute,
write it as the job's table, and draw the table with groklab.paper.plots.<params.module>.draw."""

import importlib
import sys

import pandas as pd

from groklab import io
from groklab.analysis.figure_data import compute

sys.stderr = open(snakemake.log[0], "w", buffering=1)
p = snakemake.params
io.write_parquet(snakemake.output.table, compute(p.module, snakemake.input, **p.data))
plot = importlib.import_module(f"groklab.paper.plots.{p.module}")
plot.draw(pd.read_parquet(snakemake.output.table), snakemake.output.pdf, **p.draw)   # drawn from the table alone
