import os
import sys
from pathlib import Path


def _auto_device() -> str:
    """What `training.device: auto` means for a job's resources: GROKLAB_AUTO_DEVICE (cuda or cpu)
    where set (e.g. on a cluster login node without a GPU), else whether this machine has an
    NVIDIA GPU (cheap: no torch import while building the DAG)."""
    forced = os.environ.get("GROKLAB_AUTO_DEVICE")
    if forced:
        if forced not in ("cuda", "cpu"):
            sys.exit(f"groklab: GROKLAB_AUTO_DEVICE must be cuda or cpu, not {forced!r}")
        return forced
    gpus = Path("/proc/driver/nvidia/gpus")
    return "cuda" if gpus.is_dir() and any(gpus.iterdir()) else "cpu"


AUTO_DEVICE = _auto_device()


def train_on_gpu(wildcards) -> bool:
    device = CELLS[wildcards.cell].config.training.device
    return device == "cuda" or (device == "auto" and AUTO_DEVICE == "cuda")


# Slurm placement of GPU training jobs (profiles/slurm): a GPU partition and model where the
# site needs them; CPU cells stay on GROKLAB_SLURM_PARTITION (or the cluster's default).
_CPU_PARTITION = os.environ.get("GROKLAB_SLURM_PARTITION", "")
_GPU_PARTITION = os.environ.get("GROKLAB_SLURM_GPU_PARTITION", "") or _CPU_PARTITION
_GPU_MODEL = os.environ.get("GROKLAB_SLURM_GPU_MODEL", "")


rule train:
    """Train every seed of one cell as batched ensembles (resumes from .partial/ if interrupted)."""
    output:
        metrics=f"{RESULTS}/runs/{{cell}}/metrics.parquet",
        config=f"{RESULTS}/runs/{{cell}}/config.json",
        checkpoint=f"{RESULTS}/runs/{{cell}}/final.pt",
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/train/{{cell}}.log",
    params:
        cell=get_cell_record,
    # A CUDA cell is one job on one GPU with a few CPUs; a CPU cell is one single-threaded job.
    threads: lambda wildcards: 4 if train_on_gpu(wildcards) else 1
    resources:
        gpu=lambda wildcards: 1 if train_on_gpu(wildcards) else 0,
        # a retried job (profiles: retries) gets twice the memory
        mem_mb=lambda wildcards, attempt: (16000 if train_on_gpu(wildcards) else 2048) * attempt,
        gpu_model=lambda wildcards: _GPU_MODEL if train_on_gpu(wildcards) else "",
        slurm_partition=lambda wildcards: _GPU_PARTITION if train_on_gpu(wildcards) else _CPU_PARTITION,
    script:
        "../scripts/train.py"
