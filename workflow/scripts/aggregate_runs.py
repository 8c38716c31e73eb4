"""Snakemake adapter: collect per-model grok events of every cell into runs.parquet."""

import sys
from pathlib import Path

from groklab import io
from groklab.analysis.aggregate import summarise_runs

sys.stderr = open(snakemake.log[0], "w", buffering=1)
runs = summarise_runs([Path(p).parent for p in snakemake.input.metrics])
io.write_parquet(snakemake.output[0], runs)
print(f"{len(runs)} models from {runs.cell_id.nunique()} cells", file=sys.stderr)
