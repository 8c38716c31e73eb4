"""Train all seeds of one cell as batched ensembles, with evaluation, checkpoints and resume.

Layout of a cell's output directory:
    metrics.parquet   one row per (seed, eval step)                       [final]
    config.json       the resolved cell config, its hash, seeds           [final]
    final.pt          model + optimizer state of every ensemble group     [final]
    .partial/<group>/ checkpoint.pt and metrics-NNNNN.parquet parts while training
"""

from __future__ import annotations

import shutil
import sys
import time
from pathlib import Path

import pandas as pd
import torch
import torch.nn.functional as Fn
from tqdm import tqdm

from . import io
from .batches import Batches
from .config import CellConfig, ConfigError
from .data import Split, make_split
from .models import build_model
from .resources import pick_ensemble_size, resolve_device, tune_allocator
from .seeding import derive_seed

CHECKPOINT_FORMAT = 1
METRIC_COLUMNS = ["seed", "step", "train_loss", "train_acc", "test_loss", "test_acc"]


def per_model_loss(logits: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """logits (E, B, C), y (B,) or (E, B) -> each model's mean cross-entropy (E,)."""
    E, B, C = logits.shape
    y = y.expand(E, B) if y.dim() == 1 else y
    return Fn.cross_entropy(logits.reshape(E * B, C), y.reshape(-1), reduction="none").view(E, B).mean(1)


@torch.no_grad()
def evaluate(model, x: torch.Tensor, y: torch.Tensor, rows: int = 16384) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean loss and accuracy per model (E,) over the whole set, in chunks of about `rows` / E examples
    (bounds the (E, chunk, d_mlp) activations whatever the ensemble size)."""
    chunk = max(64, rows // model.E)
    loss_sum = torch.zeros(model.E, dtype=torch.float64, device=x.device)
    hits = torch.zeros(model.E, dtype=torch.float64, device=x.device)
    for i in range(0, len(y), chunk):
        logits = model(x[i : i + chunk])                                   # (E, b, C)
        yb = y[i : i + chunk]
        loss_sum += per_model_loss(logits, yb).double() * len(yb)
        hits += (logits.argmax(-1) == yb).sum(1).double()
    return loss_sum / len(y), hits / len(y)


class GroupRun:
    """One ensemble of seeds trained as one batched program, resumable from its checkpoint."""

    def __init__(self, cell: CellConfig, seeds: list[int], split: Split, device: torch.device, workdir: Path):
        self.cell, self.seeds, self.device, self.dir = cell, list(seeds), device, workdir
        tr = cell.training
        self.data = {k: getattr(split, k).to(device) for k in ("train_x", "train_y", "test_x", "test_y")}
        self.model = build_model(cell, self.seeds).to(device)
        opt = cell.optimizer
        self.opt = torch.optim.AdamW(
            self.model.parameters(), lr=opt.lr, betas=opt.betas, eps=opt.eps, weight_decay=opt.weight_decay,
            # fused runs one elementwise kernel over each stacked (E, ...) tensor: still per model.
            fused=True,
        )
        n_train = len(split.train_y)
        self.batches = Batches(self.seeds, n_train, tr.batch_size) if tr.batch_size and tr.batch_size < n_train else None
        self.step, self.n_parts, self.rows, self.last_eval = 0, 0, [], -1
        self.streak = torch.zeros(len(seeds), dtype=torch.long)   # consecutive evals at/above grok_threshold

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
            self.step, self.n_parts, self.streak, self.last_eval = (state[k] for k in ("step", "n_parts", "streak", "last_eval"))
        for part in self.dir.glob("metrics-*.parquet"):
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
            "n_parts": self.n_parts, "streak": self.streak, "last_eval": self.last_eval,
        })

    def flush_metrics(self) -> None:
        """Write the rows gathered since the last flush as the next part (metrics never pile up in memory)."""
        if self.rows:
            io.write_parquet(self.dir / f"metrics-{self.n_parts:05d}.parquet", pd.DataFrame(self.rows, columns=METRIC_COLUMNS))
            self.n_parts, self.rows = self.n_parts + 1, []

    def eval_now(self) -> float:
        d = self.data
        tr_loss, tr_acc = evaluate(self.model, d["train_x"], d["train_y"])
        te_loss, te_acc = evaluate(self.model, d["test_x"], d["test_y"])
        for e, seed in enumerate(self.seeds):
            self.rows.append((seed, self.step, tr_loss[e].item(), tr_acc[e].item(), te_loss[e].item(), te_acc[e].item()))
        self.last_eval = self.step
        good = te_acc.cpu() >= self.cell.training.grok_threshold
        self.streak = torch.where(good, self.streak + 1, torch.zeros_like(self.streak))
        return te_acc.max().item()

    def train_step(self) -> None:
        d = self.data
        if self.batches is None:
            x, y = d["train_x"], d["train_y"]                          # shared by all models: (B, 4), (B,)
        else:
            idx = self.batches.next().to(self.device)                 # (E, B)
            x, y = d["train_x"][idx], d["train_y"][idx]                # (E, B, 4), (E, B)
        # Sum of per-model means: each model's gradient is that of its own mean loss.
        loss = per_model_loss(self.model(x), y).sum()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.step += 1

    def finished(self) -> bool:
        """Budget spent, or (early stop) every model stably generalised for early_stop_evals evals."""
        n = self.cell.training.early_stop_evals
        return self.step >= self.cell.training.steps or (n > 0 and bool((self.streak >= n).all()))

    def run(self, progress: bool = True) -> None:
        tr = self.cell.training
        if not self.resume():
            self.eval_now()                      # step 0: the initial models
        if self.finished():
            return
        bar = tqdm(total=tr.steps, initial=self.step, file=sys.stderr, disable=not progress,
                   desc=f"seeds {self.seeds[0]}..{self.seeds[-1]}", unit="step", mininterval=1.0)
        while not self.finished():
            self.train_step()
            bar.update(1)
            if self.step % tr.eval_every == 0 or self.step == tr.steps:
                bar.set_postfix(best_test_acc=f"{self.eval_now():.3f}", refresh=False)
            if self.step % tr.checkpoint_every == 0:
                self.checkpoint()
        bar.close()
        if self.last_eval != self.step:
            self.eval_now()                      # record the last step too
        self.checkpoint()

    def metrics(self) -> pd.DataFrame:
        parts = sorted(self.dir.glob("metrics-*.parquet"))
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True)


def group_seeds(seeds: list[int], E: int) -> list[list[int]]:
    return [list(seeds[i : i + E]) for i in range(0, len(seeds), E)]


def train_cell(cell: CellConfig, out_dir: str | Path, progress: bool = True, name: str = "") -> pd.DataFrame:
    """Train every seed of `cell` in ensembles; write metrics.parquet, config.json, final.pt atomically."""
    out = Path(out_dir)
    tune_allocator()
    device = resolve_device(cell.training.device)
    split = make_split(cell.task)
    E = cell.training.ensemble_size or pick_ensemble_size(cell, device, len(split.train_y))
    groups, frames, finals = group_seeds(list(cell.training.seeds), E), [], []
    t0 = time.time()
    for seeds in groups:
        run = GroupRun(cell, seeds, split, device, out / ".partial" / f"group-{derive_seed(*seeds) % 10**8:08d}")
        run.run(progress)
        frames.append(run.metrics())
        finals.append({"seeds": seeds, "step": run.step, "model": run.model.state_dict(), "optimizer": run.opt.state_dict()})
    metrics = pd.concat(frames, ignore_index=True).sort_values(["seed", "step"], ignore_index=True)
    record = {"name": name, "hash": cell.hash, "config": cell.to_dict(), "ensemble_size": E,
              "device": str(device), "train_seconds": round(time.time() - t0, 3)}
    io.save_torch(out / "final.pt", {"format": CHECKPOINT_FORMAT, "cell_hash": cell.hash, "groups": finals})
    io.write_parquet(out / "metrics.parquet", metrics, metadata={"groklab_cell": {"hash": cell.hash, "name": name}})
    io.write_json(out / "config.json", record)
    shutil.rmtree(out / ".partial", ignore_errors=True)
    return metrics
