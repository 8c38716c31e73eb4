import os
import shutil
import sys

# Which cells train on a GPU, for their job resources. `training.device: auto` means cuda where
# GROKLAB_AUTO_DEVICE=cuda (e.g. on a cluster login node without a GPU: the jobs go to GPU nodes)
# or, when it is unset, where this machine has nvidia-smi (a GPU workstation).
AUTO_DEVICE = os.environ.get("GROKLAB_AUTO_DEVICE") or ("cuda" if shutil.which("nvidia-smi") else "cpu")
if AUTO_DEVICE not in ("cuda", "cpu"):
    sys.exit(f"groklab: GROKLAB_AUTO_DEVICE must be cuda or cpu, not {AUTO_DEVICE!r}")
ON_GPU = {
    cell_id: cell.config.training.device == "cuda" or (cell.config.training.device == "auto" and AUTO_DEVICE == "cuda")
    for cell_id, cell in CELLS.items()
}
# Slurm placement of GPU training jobs (profiles/slurm): a GPU partition and GPU model where the
# site needs them; CPU cells stay on GROKLAB_SLURM_PARTITION (or the cluster's default partition).
CPU_PARTITION = os.environ.get("GROKLAB_SLURM_PARTITION", "")
GPU_PARTITION = os.environ.get("GROKLAB_SLURM_GPU_PARTITION", "") or CPU_PARTITION
GPU_MODEL = os.environ.get("GROKLAB_SLURM_GPU_MODEL", "")


rule train:
    """Train every seed of one cell as batched ensembles (resumes from .partial/ if interrupted)."""
    input:
        unpack(get_train_map),
    output:
        metrics=f"{RESULTS}/runs/{{cell}}/metrics.parquet",
        config=f"{RESULTS}/runs/{{cell}}/config.json",
        checkpoint=f"{RESULTS}/runs/{{cell}}/final.pt",
        observables=f"{RESULTS}/runs/{{cell}}/observables.parquet",
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/train/{{cell}}.log",
    params:
        cell=get_cell_record,
    # A CUDA cell is one job on one GPU with a few CPUs; a CPU cell is one single-threaded job.
    threads: lambda wildcards: 4 if ON_GPU[wildcards.cell] else 1
    resources:
        gpu=lambda wildcards: 1 if ON_GPU[wildcards.cell] else 0,
        # a retried job (profiles: retries) gets twice the memory
        mem_mb=lambda wildcards, attempt: (16000 if ON_GPU[wildcards.cell] else 2048) * attempt,
        gpu_model=lambda wildcards: GPU_MODEL if ON_GPU[wildcards.cell] else "",
        slurm_partition=lambda wildcards: GPU_PARTITION if ON_GPU[wildcards.cell] else CPU_PARTITION,
    script:
        "../scripts/train.py"
