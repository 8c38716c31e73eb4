"""Snakemake adapter: train one cell (progress bar goes to the rule's log)."""

import sys
from pathlib import Path

import torch

from groklab.config import CellConfig
from groklab.train import train_cell

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
record = snakemake.params.cell
train_cell(CellConfig.from_dict(record["config"]), Path(snakemake.output.metrics).parent, name=record["name"])
