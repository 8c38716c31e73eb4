"""Snakemake adapter: draw one study's training map and selection curve."""

import json
import sys

from groklab.plots.hmm_map import draw_map, draw_selection

sys.stderr = open(snakemake.log[0], "w", buffering=1)
draw_map(snakemake.input.map, snakemake.output.map, title=f"training map: {snakemake.wildcards.study}")
draw_selection(snakemake.input.selection, snakemake.output.selection, json.load(open(snakemake.input.map))["K"])
