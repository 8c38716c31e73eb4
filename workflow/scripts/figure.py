"""Snakemake adapter: draw one figure with groklab.paper.plots.<params.module>.render."""

import importlib
import sys

sys.stderr = open(snakemake.log[0], "w", buffering=1)
module = importlib.import_module(f"groklab.paper.plots.{snakemake.params.module}")
module.render(snakemake.input, snakemake.output[0], **snakemake.params.options)
