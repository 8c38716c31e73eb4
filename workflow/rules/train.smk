import os
import shutil
import sys
from pathlib import Path

from groklab.training.packs import form_packs, train_sizes

# Which cells train on a GPU, for their job resources. `training.device: auto` means cuda where
# GROKLAB_AUTO_DEVICE=cuda (e.g. on a cluster login node without a GPU: the jobs go to GPU nodes)
# or, when it is unset, where this machine has nvidia-smi (a GPU workstation).
AUTO_DEVICE = os.environ.get("GROKLAB_AUTO_DEVICE") or ("cuda" if shutil.which("nvidia-smi") else "cpu")
if AUTO_DEVICE not in ("cuda", "cpu"):
    sys.exit(f"groklab: GROKLAB_AUTO_DEVICE must be cuda or cpu, not {AUTO_DEVICE!r}")
# Packs (groklab.training.packs): cells whose tensors have the same shapes train as one ensemble in
# one job. Each pack is one rule below, train_pack_<hash>, whose outputs are its cells' run files.
PACKS = form_packs({cell_id: cell.config for cell_id, cell in CELLS.items()}, AUTO_DEVICE)
# Finished runs that cannot be trusted (truncated or damaged file, another cell's results, older
# code) stop the workflow here, before any job, naming the file and what a rerun redoes.
RUN_PROBLEMS = [p for _, p in MATRIX.run_states(PACKS, Path(RESULTS) / "runs").values() if p]
if RUN_PROBLEMS:
    sys.exit("\n".join(f"groklab: results error: {p}" for p in RUN_PROBLEMS))
# Slurm placement of GPU training jobs (profiles/slurm): a GPU partition and GPU model where the
# site needs them; CPU cells stay on GROKLAB_SLURM_PARTITION (or the cluster's default partition).
CPU_PARTITION = os.environ.get("GROKLAB_SLURM_PARTITION", "")
GPU_PARTITION = os.environ.get("GROKLAB_SLURM_GPU_PARTITION", "") or CPU_PARTITION
GPU_MODEL = os.environ.get("GROKLAB_SLURM_GPU_MODEL", "")


def pack_resources(pack):
    """A GPU pack is one job on one GPU with a few CPUs; a CPU pack is one single-threaded job."""
    gpu = pack.device == "cuda"
    return {
        "gpu": 1 if gpu else 0,
        # a retried job (profiles: retries) gets twice the memory
        "mem_mb": lambda wildcards, attempt: (16000 if gpu else 2048) * attempt,
        "gpu_model": GPU_MODEL if gpu else "",
        "slurm_partition": GPU_PARTITION if gpu else CPU_PARTITION,
    }


def pack_work(pack):
    """Model-steps times training examples per model, in millions: a pack's rough cost."""
    return sum(CELLS[c].config.total_steps * len(CELLS[c].config.training.seeds) * sum(train_sizes(CELLS[c].config))
               for c in pack.cells) // 10**6


def pack_outputs(pack):
    runs = [f"{RESULTS}/runs/{cell_id}" for cell_id in pack.cells]
    return {name: [f"{run}/{file}" for run in runs] for name, file in
            (("metrics", "metrics.parquet"), ("config", "config.json"), ("checkpoint", "final.pt"),
             ("observables", "observables.parquet"))}


for pack in PACKS:

    rule:
        """Train every model of one pack as one batched ensemble, writing each cell's run files
        (resumes from its checkpoint if interrupted)."""
        name:
            f"train_{pack.id.replace('-', '_')}"
        input:
            **({"hmm_map": f"{MATRIX_MAP}/model.json"} if MAP_READERS & set(pack.cells) else {}),
        output:
            **pack_outputs(pack),
        conda:
            "../envs/groklab.yaml"
        log:
            f"{RESULTS}/logs/train/{pack.id}.log",
        params:
            pack=pack.record(),
            cells=[cell_record(CELLS[cell_id]) for cell_id in pack.cells],
            pack_dir=f"{RESULTS}/packs/{pack.id}",
        threads: 4 if pack.device == "cuda" else 1
        # the most work first (model-steps x training examples): the long poles start at once
        priority: pack_work(pack)
        resources:
            **pack_resources(pack),
        script:
            "../scripts/train_pack.py"
