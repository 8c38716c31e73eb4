"""Snakemake adapter: train one pack of cells as one ensemble (progress bar goes to the rule's log)."""

import copy
import os
import sys
from pathlib import Path

import torch

from groklab.checks import check_config
from groklab.config.cells import CellConfig
from groklab.training import compiled
from groklab.training.job import CellJob, train_pack

sys.stderr = open(snakemake.log[0], "w", buffering=1)
torch.set_num_threads(snakemake.threads)
# compiled steps (training.compile): every job of a run shares one cache of inductor's artefacts,
# so a shape compiles once per run, not once per job
compiled.configure(Path(snakemake.config["results_dir"]).resolve() / ".compile-cache")
records = snakemake.params.cells
# Test hook (tests/test_slurm.py): GROKLAB_FAIL_CELLS="name,..." (cell names or ids) makes a pack with those cells fail.
failing = set(os.environ.get("GROKLAB_FAIL_CELLS", "").split(","))
if any({r["name"], r["id"]} & failing for r in records):
    raise RuntimeError(f"GROKLAB_FAIL_CELLS: injected failure in pack {snakemake.params.pack['id']}")
# where this job ran: the Slurm job id when it went through Slurm (None on a local run)
provenance = {"rule": snakemake.rule, "slurm_job_id": os.environ.get("SLURM_JOB_ID"), "host": os.uname().nodename}
# live curves in <results_dir>/tensorboard/<cell id>/seed<k>/: a view, not an output. Its settings
# come from the workflow config, not from the rule's params (cell_record leaves them out), so that
# changing them reruns no training.
board = Path(snakemake.config["results_dir"]) / "tensorboard"
views = {c.id: c.config.training.tensorboard for c in check_config(copy.deepcopy(snakemake.config)).cells.values()}
jobs = [CellJob(CellConfig.from_dict(r["config"]).replace_training(tensorboard=views[r["id"]]), Path(out).parent,
                r["name"], r["id"], board / r["id"])
        for r, out in zip(records, snakemake.output.metrics)]
# the matrix training map, for cells whose interventions react to its states
train_pack(jobs, snakemake.params.pack_dir, provenance=provenance, hmm_map=snakemake.input.get("hmm_map"),
           pack=snakemake.params.pack)
