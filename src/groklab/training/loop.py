"""Train all seeds of one cell as batched ensembles, with evaluation, checkpoints and resume.

Layout of a cell's output directory:
    metrics.parquet   one row per (seed, eval step)                       [final]
    config.json       the resolved cell config, its hash, seeds           [final]
    final.pt          model + optimizer state of every ensemble group     [final]
    .partial/<group>/ checkpoint.pt and metrics-NNNNN.parquet parts while training
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import torch
from tqdm import tqdm

from groklab import io
from groklab.config.cells import CellConfig, ConfigError
from groklab.maps.decode import check_pooled
from groklab.seeding import derive_seed
from groklab.training import checkpoint
from groklab.training.batches import Batches
from groklab.training.callbacks import Checkpointing, Evaluation
from groklab.training.checkpoint import CHECKPOINT_FORMAT
from groklab.training.data import Split, make_split
from groklab.training.models import build_model
from groklab.training.objective import Objective
from groklab.training.observables import check_signals
from groklab.training.optim import EnsembleOptimizer
from groklab.training.parts import Parts
from groklab.training.resources import pick_ensemble_size, resolve_device, tune_allocator
from groklab.training.rundir import RESULTS_FORMAT
from groklab.vocabulary import HMM_STATE


class GroupRun:
    """One ensemble of seeds trained as one batched program, resumable from its checkpoint.

    A plain loop (train_step, then the callbacks that are due) over the pieces it drives: the
    Objective (each model's loss), the Parts (metric/observable Parquet parts), the callbacks
    Evaluation and Checkpointing (groklab.training.callbacks); state_dict() is the checkpoint."""

    def __init__(self, cell: CellConfig, seeds: list[int], split: Split, device: torch.device, workdir: Path,
                 hmm_map: dict | None = None, map_path: str = "map"):
        self.cell, self.seeds, self.device, self.dir = cell, list(seeds), device, workdir
        tr, task = cell.training, cell.task
        self.data = {k: getattr(split, k).to(device) for k in ("train_x", "train_y", "train_op", "test_x", "test_y", "test_op")}
        self.model = build_model(cell, self.seeds).to(device)
        self.opt = EnsembleOptimizer(list(self.model.parameters()), cell.optimizer, self.seeds, cell.total_steps)
        # training examples come in one contiguous block per operation (make_split)
        sizes = torch.bincount(split.train_op, minlength=len(task.operations)).tolist()
        blocks = sizes if task.balanced else [sum(sizes)]
        minibatch = tr.batch_size is not None and tr.batch_size < sum(sizes)
        self.batches = Batches(self.seeds, blocks, tr.batch_size) if minibatch else None
        self.objective = Objective(cell, len(self.seeds), sizes, minibatch, self.data["train_op"], device)
        self.parts = Parts(workdir)
        self.evaluation = Evaluation(cell, self.seeds, self.model, hmm_map, map_path)
        self.callbacks = [self.evaluation, Checkpointing(tr.checkpoint_every)]   # in this order after a step
        self.step = 0

    @property
    def ckpt_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def _values(self) -> dict[str, tuple[object, str]]:
        """Checkpoint key -> (object, attribute) of the plain values a resume restores."""
        ev = self.evaluation
        return {"step": (self, "step"), "n_parts": (self.parts, "n_parts"), "streak": (ev, "streak"),
                "last_eval": (ev, "last_eval"), "diverged": (ev, "diverged"),
                "prev": (ev.probes, "prev"), "prev_step": (ev.probes, "prev_step")}

    def _pieces(self) -> dict[str, object]:
        """Checkpoint key -> the piece with state_dict()/load_state_dict() (None: this cell has none)."""
        return {"model": self.model, "optimizer": self.opt, "batches": self.batches,
                "triggers": self.evaluation.triggers, "loss_weights": self.objective.weights}

    def state_dict(self) -> dict:
        """Everything a resume needs; load_state_dict reads back exactly these keys."""
        values = {k: getattr(obj, attr) for k, (obj, attr) in self._values().items()}
        return values | {k: p.state_dict() if p is not None else None for k, p in self._pieces().items()}

    def load_state_dict(self, state: dict) -> None:
        for k, (obj, attr) in self._values().items():
            setattr(obj, attr, state[k])
        for k, piece in self._pieces().items():
            if piece is not None and state.get(k) is not None:   # "triggers": absent before interventions
                piece.load_state_dict(state[k])

    def resume(self) -> bool:
        """Load the last checkpoint if one exists; drop parts written after it. True if past step 0."""
        if self.ckpt_path.exists():
            self.load_state_dict(checkpoint.load(self.ckpt_path, self.cell.hash, self.seeds, self.device))
        self.parts.drop_unrecorded()
        return self.step > 0

    def train_step(self) -> None:
        d = self.data
        if self.batches is None:
            x, y, ops = d["train_x"], d["train_y"], d["train_op"]      # shared by all models: (B, 4), (B,), (B,)
        else:
            idx = self.batches.next().to(self.device)                 # (E, B)
            x, y, ops = d["train_x"][idx], d["train_y"][idx], d["train_op"][idx]   # (E, B, 4), (E, B), (E, B)
        # Sum of per-model means: each model's gradient is that of its own mean loss.
        loss = self.objective(self.model(x), y, ops).sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1

    def finished(self) -> bool:
        """Budget spent, or (early stop) every model stably generalised or diverged."""
        return self.step >= self.cell.total_steps or self.evaluation.stopped()

    def run(self, progress: bool = True) -> None:
        if not self.resume():
            self.evaluation(self)                # step 0: the initial models
        if self.finished():
            return
        bar = tqdm(total=self.cell.total_steps, initial=self.step, file=sys.stderr, disable=not progress,
                   desc=f"seeds {self.seeds[0]}..{self.seeds[-1]}", unit="step", mininterval=1.0)
        while not self.finished():
            self.train_step()
            bar.update(1)
            for callback in self.callbacks:
                if callback.due(self.step) and (note := callback(self)):
                    bar.set_postfix(note, refresh=False)
        bar.close()
        for callback in self.callbacks:
            callback.at_end(self)                # the last eval (unless just done), the last checkpoint

    def table(self, kind: str) -> pd.DataFrame:
        """All flushed parts of `kind` ("metrics" or "observables") as one frame."""
        return self.parts.table(kind)


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


def group_seeds(seeds: list[int], E: int) -> list[list[int]]:
    return [list(seeds[i : i + E]) for i in range(0, len(seeds), E)]


def load_training_map(path: str | Path | None, cell: CellConfig) -> tuple[dict | None, dict]:
    """The training map an hmm_state rule decodes with, checked before training: (model.json record,
    its provenance {path, sha256}); (None, {}) for a cell without such a rule."""
    if not cell.reads_training_map:
        return None, {}
    if path is None:
        raise ConfigError("training.interventions: a rule reads hmm_state, but no training map was given "
                          "(the workflow passes results/hmm/_matrix/model.json; by hand: groklab train --hmm-map FILE)")
    try:
        record = json.loads(Path(path).read_text())
        check_pooled(record, str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: training map not found") from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: not a usable training map ({exc})") from None
    for i, rule in enumerate(cell.training.interventions):
        if rule["when"] != HMM_STATE:
            continue
        if rule["state"] == "detour" and "detour_state" not in record:
            raise ConfigError(f"training.interventions[{i}].state: detour, but the training map {path} has no "
                              "detour state recorded (refit it: snakemake results/hmm/_matrix/model.json)")
        if rule["state"] == "detour" and record["detour_state"] is None:
            print(f"groklab: training.interventions[{i}]: the training map {path} has no detour state "
                  "(no state's occupancy goes with later grokking at p < 0.05): this rule never fires", file=sys.stderr)
        if rule["state"] != "detour" and rule["state"] >= record["K"]:
            raise ConfigError(f"training.interventions[{i}].state: {rule['state']}, but the training map {path} "
                              f"has {record['K']} states (0..{record['K'] - 1})")
    return record, {"path": str(path), "sha256": io.sha256_file(path), "detour_state": record.get("detour_state")}


def train_cell(cell: CellConfig, out_dir: str | Path, progress: bool = True, name: str = "",
               provenance: dict | None = None, hmm_map: str | Path | None = None) -> pd.DataFrame:
    """Train every seed of `cell` in ensembles; write metrics.parquet, config.json, final.pt atomically.

    `provenance` (e.g. the Snakemake rule and Slurm job id) is stored in config.json; `hmm_map` is
    the model.json of the training map that hmm_state rules decode with (its hash goes there too)."""
    out = Path(out_dir)
    check_signals(cell)             # a trigger naming no observable is refused before any step
    map_record, map_provenance = load_training_map(hmm_map, cell)
    tune_allocator()
    device = resolve_device(cell.training.device)
    split = make_split(cell.task)
    E = cell.training.ensemble_size or pick_ensemble_size(cell, device, len(split.train_y))
    groups, frames, observed, finals = group_seeds(list(cell.training.seeds), E), [], [], []
    t0 = time.time()
    for seeds in groups:
        run = GroupRun(cell, seeds, split, device, out / ".partial" / f"group-{derive_seed(*seeds) % 10**8:08d}",
                       map_record, str(hmm_map))
        run.run(progress)
        frames.append(run.table("metrics"))
        observed.append(run.table("observables"))
        finals.append({"seeds": seeds, "step": run.step, "model": run.model.state_dict(), "optimizer": run.opt.state_dict()})
    metrics = pd.concat(frames, ignore_index=True).sort_values(["seed", "step"], ignore_index=True)
    record = {"name": name, "hash": cell.hash, "format": RESULTS_FORMAT, "config": cell.to_dict(), "ensemble_size": E,
              "device": str(device), "train_seconds": round(time.time() - t0, 3),
              "provenance": (provenance or {}) | ({"hmm_map": map_provenance} if map_provenance else {})}
    io.save_torch(out / "final.pt", {"format": CHECKPOINT_FORMAT, "cell_hash": cell.hash, "groups": finals})
    io.write_parquet(out / "metrics.parquet", metrics, metadata={"groklab_cell": {"hash": cell.hash, "name": name}})
    write_observables(out / "observables.parquet", observed, cell, name)
    io.write_json(out / "config.json", record)
    shutil.rmtree(out / ".partial", ignore_errors=True)
    return metrics
