"""Snakemake adapter: train one cell (progress bar goes to the rule's log)."""

import os
import sys
from pathlib import Path

import torch

from groklab.config.cells import CellConfig
from groklab.training.loop import train_cell

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
record = snakemake.params.cell
# Test hook (tests/test_slurm.py): GROKLAB_FAIL_CELLS="name,..." (cell names or ids) makes those cells fail.
if {record["name"], record["id"]} & set(os.environ.get("GROKLAB_FAIL_CELLS", "").split(",")):
    raise RuntimeError(f"GROKLAB_FAIL_CELLS: injected failure in cell {record['id']}")
# where this job ran: the Slurm job id when it went through Slurm (None on a local run)
provenance = {"rule": snakemake.rule, "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "host": os.uname().nodename}
# the matrix training map, for cells whose interventions react to its states
hmm_map = snakemake.input.get("hmm_map")
train_cell(CellConfig.from_dict(record["config"]), Path(snakemake.output.metrics).parent, name=record["name"],
           provenance=provenance, hmm_map=hmm_map)
