"""One training job: a pack of cells (or one cell), trained and written out per cell.

Every cell keeps its own outputs, exactly as if it had trained alone:
    <out>/metrics.parquet      one row per (seed, eval step) until that model left the pack
    <out>/observables.parquet  one row per (seed, eval step), one column per observable
    <out>/final.pt             each model's final parameters and optimizer state, with its step
    <out>/config.json          the resolved config, its hash, and under provenance its pack
All are written atomically once the whole pack has finished. A pack larger than its capacity
(only a cell with more seeds than that) trains in groups one after another.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import torch

from groklab import io
from groklab.config.cells import CellConfig, ConfigError
from groklab.training.checkpoint import CHECKPOINT_FORMAT
from groklab.training.data import make_split
from groklab.training.loop import PackRun
from groklab.training.maploader import load_training_map
from groklab.training.member import Member
from groklab.training.packs import check_trainable, pack_capacity, signature
from groklab.training.resources import resolve_device, tune_allocator
from groklab.training.rundir import RESULTS_FORMAT, file_records


@dataclass(frozen=True)
class CellJob:
    """One cell of a pack job: its config and where its outputs go."""
    cell: CellConfig
    out: Path
    name: str = ""
    id: str = ""
    board: Path | None = None      # its TensorBoard directory (results/tensorboard/<cell id>), None: none


def pack_key(jobs: list[CellJob]) -> str:
    """The identity of a pack's training state: its cells' hashes and seeds, in order."""
    blob = json.dumps([[j.cell.hash, list(j.cell.training.seeds)] for j in jobs])
    return hashlib.sha256(blob.encode()).hexdigest()


def plan_groups(jobs: list[CellJob], cap: int) -> list[list[tuple[CellJob, list[int]]]]:
    """Whole cells in order while they fit `cap` models; a cell larger than `cap` alone, its seeds
    split into groups of ceil(n / groups) (as few groups as the cap allows)."""
    groups, current, size = [], [], 0
    for job in jobs:
        seeds = list(job.cell.training.seeds)
        if len(seeds) > cap:
            if current:
                groups.append(current)
                current, size = [], 0
            n_groups = -(-len(seeds) // cap)
            E = -(-len(seeds) // n_groups)
            groups += [[(job, seeds[i : i + E])] for i in range(0, len(seeds), E)]
            continue
        if current and size + len(seeds) > cap:
            groups.append(current)
            current, size = [], 0
        current.append((job, seeds))
        size += len(seeds)
    return groups + ([current] if current else [])


def check_pack(jobs: list[CellJob]) -> None:
    """One shape signature for the whole pack (groklab.training.packs), else ConfigError."""
    signatures = {signature(j.cell, "cuda" if torch.cuda.is_available() else "cpu") for j in jobs}
    if len(signatures) > 1:
        raise ConfigError(f"pack of {', '.join(j.id or j.name or str(j.out) for j in jobs)}: the cells differ in "
                          "shape (model, data per operation, optimizer family or filter chain, device); "
                          "groklab.training.packs.form_packs puts such cells in different packs")


def train_pack(jobs: list[CellJob], pack_dir: str | Path, progress: bool = True, provenance: dict | None = None,
               hmm_map: str | Path | None = None, pack: dict | None = None) -> dict[str, pd.DataFrame]:
    """Train every model of `jobs` as one ensemble (in groups if it exceeds its capacity); write each
    cell's outputs. `pack` (id, hash, cells) goes into each config.json's provenance. Returns
    out directory -> metrics."""
    for job in jobs:
        check_trainable(job.cell)       # e.g. a trigger naming no observable: refused before any step
    check_pack(jobs)
    maps = {str(j.out): load_training_map(hmm_map, j.cell) for j in jobs}
    tune_allocator()
    device = resolve_device(jobs[0].cell.training.device)
    cap = pack_capacity([j.cell for j in jobs], device.type)
    key, t0 = pack_key(jobs), time.time()
    splits = {str(j.out): make_split(j.cell.task) for j in jobs}
    members: dict[str, list[Member]] = {str(j.out): [] for j in jobs}
    sizes = []
    for g, group in enumerate(plan_groups(jobs, cap)):
        tag = f"{key[:8]}-{g}"
        run_members = [Member(j.cell, seeds, splits[str(j.out)], device, Path(j.out) / ".partial" / tag, j.name, j.id,
                              Path(j.out), maps[str(j.out)][0], str(hmm_map), j.board) for j, seeds in group]
        run = PackRun(run_members, device, Path(pack_dir) / tag, key)
        sizes.append(run.E)
        run.run(progress)
        for m in run_members:
            members[str(m.out)].append(m)
    seconds = round(time.time() - t0, 3)
    results = {}
    for job in jobs:
        record = {"ensemble_size": max(sizes), "device": str(device), "train_seconds": seconds,
                  "provenance": (provenance or {}) | ({"pack": pack} if pack else {})
                  | ({"hmm_map": maps[str(job.out)][1]} if maps[str(job.out)][1] else {})}
        results[str(job.out)] = write_cell(job, members[str(job.out)], record)
    shutil.rmtree(pack_dir, ignore_errors=True)
    return results


def write_cell(job: CellJob, members: list[Member], record: dict) -> pd.DataFrame:
    """metrics.parquet, observables.parquet, final.pt and config.json of one cell, atomically."""
    out, cell = Path(job.out), job.cell
    metrics = pd.concat([m.parts.table("metrics") for m in members], ignore_index=True)
    metrics = metrics.sort_values(["seed", "step"], ignore_index=True)
    finals = sorted((f for m in members for f in m.finals), key=lambda f: f["seed"])
    io.save_torch(out / "final.pt", {"format": CHECKPOINT_FORMAT, "cell_hash": cell.hash, "models": finals})
    io.write_parquet(out / "metrics.parquet", metrics, metadata={"groklab_cell": {"hash": cell.hash, "name": job.name}})
    write_observables(out / "observables.parquet", [m.parts.table("observables") for m in members], cell, job.name)
    # written last, with the checksums of the files above: a complete config.json vouches for them
    io.write_json(out / "config.json", {"name": job.name, "hash": cell.hash, "format": RESULTS_FORMAT,
                                        "config": cell.to_dict(), "files": file_records(out)} | record)
    shutil.rmtree(out / ".partial", ignore_errors=True)
    return metrics


def write_observables(path: Path, frames: list[pd.DataFrame], cell: CellConfig, name: str) -> None:
    """observables.parquet: one row per (seed, step), one column per observable, the registry in the metadata."""
    from groklab.training.observables import REGISTRY

    frames = [f for f in frames if len(f)]
    table = (pd.concat(frames, ignore_index=True).sort_values(["seed", "step"], ignore_index=True)
             if frames else pd.DataFrame({"seed": pd.Series(dtype="int64"), "step": pd.Series(dtype="int64")}))
    registry = {o.name: {"group": o.group, "definition": o.definition, "unit": o.unit, "cost": o.cost, "sites": o.sites}
                for o in REGISTRY.values()}
    io.write_parquet(path, table, metadata={"groklab_cell": {"hash": cell.hash, "name": name},
                                            "groklab_observables": registry})


def train_cell(cell: CellConfig, out_dir: str | Path, progress: bool = True, name: str = "",
               provenance: dict | None = None, hmm_map: str | Path | None = None,
               board: str | Path | None = None) -> pd.DataFrame:
    """Train every seed of one cell (a pack of one cell; parts and checkpoints under <out>/.partial;
    TensorBoard event files under `board`/seed<k> where given)."""
    out = Path(out_dir)
    job = CellJob(cell, out, name, board=Path(board) if board is not None else None)
    return train_pack([job], out / ".partial", progress, provenance, hmm_map)[str(out)]
