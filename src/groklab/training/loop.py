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
from groklab.training.batches import Batches
from groklab.config.cells import CellConfig, ConfigError
from groklab.training.data import Split, make_split
from groklab.training.evaluation import evaluate, metric_rows
from groklab.maps.decode import check_pooled
from groklab.training.interventions import LossWeights, Triggers, metric_signals
from groklab.training.losses import per_example_loss, per_model_loss
from groklab.training.models import build_model
from groklab.training.observables import check_signals, make_probe, observe
from groklab.training.optim import EnsembleOptimizer
from groklab.training.resources import pick_ensemble_size, resolve_device, tune_allocator
from groklab.training.rundir import RESULTS_FORMAT
from groklab.seeding import derive_seed
from groklab.vocabulary import HMM_STATE

CHECKPOINT_FORMAT = 1


class GroupRun:
    """One ensemble of seeds trained as one batched program, resumable from its checkpoint."""

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
        # Balanced full batch: the loss is the mean over operations of each operation's mean loss.
        starts = [sum(sizes[:k]) for k in range(len(sizes))]
        self.op_slices = [slice(a, a + n) for a, n in zip(starts, sizes)] if len(blocks) > 1 and not minibatch else None
        self.step, self.n_parts, self.rows, self.last_eval = 0, 0, [], -1
        self.streak = torch.zeros(len(seeds), dtype=torch.long)   # consecutive evals at/above grok_threshold
        self.diverged = torch.zeros(len(seeds), dtype=torch.bool)  # loss or logits became NaN/Inf
        # observables: the initial parameters (rebuilt from the seeds on resume, so not stored)
        # and those of the previous observation (stored: update ratios need them)
        self.init = {n: w.detach().clone() for n, w in self.model.named_weights()}
        self.prev, self.prev_step, self.obs_rows = None, None, []
        self._setup_interventions(sizes, hmm_map, map_path)

    def _setup_interventions(self, sizes: list[int], hmm_map: dict | None, map_path: str) -> None:
        """Which rules fired for which model, and per-operation loss weights when a rule changes the
        data mix (None otherwise: the plain loss, bit for bit)."""
        rules, ops, E = self.cell.training.interventions, self.cell.task.operations, len(self.seeds)
        self.triggers = Triggers(rules, E, hmm_map, map_path)
        mix = any("data_mix" in r["set"] for r in rules)
        self.loss_weights = LossWeights(ops, E, self.device) if mix else None
        # balanced full batch: each example weighs 1 / (its operation's count) in a data-mix loss
        per_op = 1.0 / torch.tensor(sizes, dtype=torch.float32, device=self.device)              # (n_ops,)
        self.example_base = per_op[self.data["train_op"]] if self.op_slices is not None else None  # (N,)

    @property
    def ckpt_path(self) -> Path:
        return self.dir / "checkpoint.pt"

    def resume(self) -> bool:
        """Load the last checkpoint if one exists; drop metric parts written after it."""
        if self.ckpt_path.exists():
            state = self._load_checkpoint()
            self.model.load_state_dict(state["model"])
            self.opt.load_state_dict(state["optimizer"])
            if self.batches is not None:
                self.batches.load_state_dict(state["batches"])
            self.step, self.n_parts, self.streak, self.last_eval, self.diverged, self.prev, self.prev_step = (
                state[k] for k in ("step", "n_parts", "streak", "last_eval", "diverged", "prev", "prev_step"))
            if state.get("triggers") is not None:
                self.triggers.load_state_dict(state["triggers"])
            if self.loss_weights is not None:
                self.loss_weights.load_state_dict(state["loss_weights"])
        for part in [*self.dir.glob("metrics-*.parquet"), *self.dir.glob("observables-*.parquet")]:
            if int(part.stem.split("-")[1]) >= self.n_parts:
                part.unlink()
        return self.step > 0

    def _load_checkpoint(self) -> dict:
        try:
            state = torch.load(self.ckpt_path, map_location=self.device, weights_only=False)
        except Exception as exc:  # a torn or foreign file: say which and what to do
            raise ConfigError(f"{self.ckpt_path}: unreadable checkpoint ({type(exc).__name__}); delete it to restart this cell") from None
        if state.get("cell_hash") != self.cell.hash or state.get("seeds") != self.seeds:
            raise ConfigError(
                f"{self.ckpt_path}: checkpoint belongs to another cell config or seed group; "
                "delete the cell's .partial directory and rerun the cell"
            )
        return state

    def checkpoint(self) -> None:
        self.flush_metrics()
        io.save_torch(self.ckpt_path, {
            "format": CHECKPOINT_FORMAT, "cell_hash": self.cell.hash, "seeds": self.seeds, "step": self.step,
            "model": self.model.state_dict(), "optimizer": self.opt.state_dict(),
            "batches": self.batches.state_dict() if self.batches else None,
            "n_parts": self.n_parts, "streak": self.streak, "last_eval": self.last_eval, "diverged": self.diverged,
            "prev": self.prev, "prev_step": self.prev_step, "triggers": self.triggers.state_dict(),
            "loss_weights": self.loss_weights.state_dict() if self.loss_weights is not None else None,
        })

    def flush_metrics(self) -> None:
        """Write the rows gathered since the last flush as the next part (metrics never pile up in memory)."""
        if self.rows:
            io.write_parquet(self.dir / f"metrics-{self.n_parts:05d}.parquet", pd.DataFrame(self.rows))
            if self.obs_rows:
                io.write_parquet(self.dir / f"observables-{self.n_parts:05d}.parquet", pd.DataFrame(self.obs_rows))
            self.n_parts, self.rows, self.obs_rows = self.n_parts + 1, [], []

    def eval_now(self) -> float:
        d, ops, kind = self.data, self.cell.task.operations, self.cell.training.loss
        train = evaluate(self.model, d["train_x"], d["train_y"], d["train_op"], len(ops), kind)
        test = evaluate(self.model, d["test_x"], d["test_y"], d["test_op"], len(ops), kind)
        # A diverged model stays diverged; its NaN parameters never touch the other models.
        self.diverged |= ~torch.isfinite(train.loss.cpu())
        rows = metric_rows(self.seeds, self.step, train, test, ops, self.diverged)
        values = self.observe() if self.cell.training.observables.enabled else {}
        if self.triggers.rules:
            self.intervene(metric_signals(train, test, ops) | values, values)
            for e, row in enumerate(rows):          # one row per model, in seed order
                row.update(self.triggers.row_columns(e))
        self.rows += rows
        self.last_eval = self.step
        # every operation must be at/above the threshold for a model to count as generalised
        good = (test.op_acc.cpu() >= self.cell.training.grok_threshold).all(1)
        self.streak = torch.where(good, self.streak + 1, torch.zeros_like(self.streak))
        return test.acc.max().item()

    def observe(self) -> None:
        """Observables of every model on the training set (fresh gradient; p.grad and RNGs untouched)."""
        cfg, d = self.cell.training, self.data
        n_eval = self.step // cfg.eval_every
        probe = make_probe(self.model, self.opt, self.cell, self.step, d["train_x"], d["train_y"],
                           self.init, self.prev, self.prev_step)
        values = observe(probe, expensive=n_eval % cfg.observables.expensive_every == 0)
        for e, seed in enumerate(self.seeds):
            self.obs_rows.append({"seed": seed, "step": self.step, **{k: v[e].item() for k, v in values.items()}})
        self.prev, self.prev_step = probe.params, self.step
        return values

    def intervene(self, signals: dict[str, torch.Tensor], observables: dict[str, torch.Tensor]) -> None:
        """Fire the rules whose condition holds now (groklab.training.interventions); the new settings
        apply to exactly those models from the next step on."""
        for settings, models in self.triggers.observe(signals, observables, self.diverged):
            optimizer = {k: v for k, v in settings.items() if k != "data_mix"}
            if optimizer:
                self.opt.set_hyperparameters(models, **optimizer)
            if "data_mix" in settings:
                self.loss_weights.set(models, settings["data_mix"])

    def train_step(self) -> None:
        d = self.data
        if self.batches is None:
            x, y, ops = d["train_x"], d["train_y"], d["train_op"]      # shared by all models: (B, 4), (B,), (B,)
        else:
            idx = self.batches.next().to(self.device)                 # (E, B)
            x, y, ops = d["train_x"][idx], d["train_y"][idx], d["train_op"][idx]   # (E, B, 4), (E, B), (E, B)
        # Sum of per-model means: each model's gradient is that of its own mean loss.
        loss = self.cell_loss(self.model(x), y, ops).sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1

    def cell_loss(self, logits: torch.Tensor, y: torch.Tensor, ops: torch.Tensor) -> torch.Tensor:
        """Each model's loss (E,): the mean over examples, or over operations' means (balanced full
        batch); with a data-mix rule, weighted per model and operation (LossWeights)."""
        kind = self.cell.training.loss
        if self.loss_weights is not None:
            return self.loss_weights.loss(per_example_loss(logits, y, kind), ops, self.example_base)
        if self.op_slices is None:
            return per_model_loss(logits, y, kind)
        return torch.stack([per_model_loss(logits[:, s], y[s], kind) for s in self.op_slices]).mean(0)

    def finished(self) -> bool:
        """Budget spent, or (early stop) every model stably generalised (or diverged) for early_stop_evals evals."""
        n = self.cell.training.early_stop_evals
        done = (self.streak >= n) | self.diverged
        return self.step >= self.cell.total_steps or (n > 0 and bool(done.all()))

    def run(self, progress: bool = True) -> None:
        tr, budget = self.cell.training, self.cell.total_steps
        if not self.resume():
            self.eval_now()                      # step 0: the initial models
        if self.finished():
            return
        bar = tqdm(total=budget, initial=self.step, file=sys.stderr, disable=not progress,
                   desc=f"seeds {self.seeds[0]}..{self.seeds[-1]}", unit="step", mininterval=1.0)
        while not self.finished():
            self.train_step()
            bar.update(1)
            if self.step % tr.eval_every == 0 or self.step == budget:
                bar.set_postfix(best_test_acc=f"{self.eval_now():.3f}", refresh=False)
            if self.step % tr.checkpoint_every == 0:
                self.checkpoint()
        bar.close()
        if self.last_eval != self.step:
            self.eval_now()                      # record the last step too
        self.checkpoint()

    def table(self, kind: str) -> pd.DataFrame:
        """All flushed parts of `kind` ("metrics" or "observables") as one frame."""
        parts = sorted(self.dir.glob(f"{kind}-*.parquet"))
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()


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
