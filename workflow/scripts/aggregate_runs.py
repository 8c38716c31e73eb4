"""Snakemake adapter: collect per-model grok events of every cell into runs.parquet, and the cells'
axes, configs and studies into cells.parquet."""

import sys
from pathlib import Path

from groklab import io
from groklab.analysis.aggregate import cells_table, summarise_runs

sys.stderr = open(snakemake.log[0], "w", buffering=1)
run_dirs = [Path(p).parent for p in snakemake.input.metrics]
runs = summarise_runs(run_dirs)
io.write_parquet(snakemake.output.runs, runs)
io.write_parquet(snakemake.output.cells, cells_table(run_dirs, snakemake.params.axes, snakemake.params.studies))
print(f"{len(runs)} models from {runs.cell_id.nunique()} cells", file=sys.stderr)
