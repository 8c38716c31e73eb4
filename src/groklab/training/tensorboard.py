"""Live curves in TensorBoard: one event-file directory per model, <cell dir>/seed<k>/ (the workflow's
cell dir is results/tensorboard/<cell id>/), written as training goes.

A view of the rows training writes to Parquet (the source of truth), with the same names as tags:
every metrics column (train_loss, test_acc/div, ...), the configured observables' columns
(training.tensorboard.observables), the events of groklab.vocabulary's rule as they happen
(events/memorisation_step{/op}, events/grok_step{/op}: the step, logged at that step), and each
model's hyperparameters through the hparams plugin (its flattened cell config, its seed).

Cost: one Summary protobuf per model and kind of row, handed to the writer's own thread (add_scalar
per value costs far more), and a flush at the first eval training.tensorboard.flush_seconds after
the last one (and at every checkpoint and the end), so a point is in TensorBoard within seconds;
benchmarks/tensorboard_overhead.py measures the whole.

Resume: a fresh start deletes the models' old event files; a resumed one opens its writers with
purge_step = the checkpoint's step + 1, so TensorBoard hides the points logged after that
checkpoint by the killed job, and no step is shown twice.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

from groklab.config.cells import VIEW_KEYS, CellConfig
from groklab.training.observables import check_registered, definition_of
from groklab.vocabulary import EVENTS, reached

EVENT_TAG = "events/{event}{suffix}"


def op_suffixes(ops: tuple[str, ...]) -> list[str]:
    """The column suffixes of a cell's metrics: "" for the whole, and /<op> per operation when
    there are several (groklab.training.evaluation.metric_rows)."""
    return [""] + [f"/{op}" for op in ops] * (len(ops) > 1)
HPARAM_METRICS = ("test_acc", "train_acc", "test_loss")   # the hparams table's metric columns (+ grok step)


def check_board(cell: CellConfig, prefix: str = "training.tensorboard") -> None:
    """Every name in training.tensorboard.observables is a registered observable (or one site of one)."""
    for i, name in enumerate(cell.training.tensorboard.observables):
        check_registered(name, f"{prefix}.observables[{i}]")


def plotted(column: str, names: tuple[str, ...]) -> bool:
    """Is observables column `column` one of the configured names: the observable itself (every
    operation and site of it) or one site of it, with or without its operation?"""
    return any(column == n or column.startswith(n + "/") or (n == definition_of(n) == definition_of(column))
               for n in names)


def hyperparameters(cell: CellConfig, name: str, seed: int) -> dict:
    """The hparams plugin's row of one model: every leaf of its cell config (lists as JSON) + seed."""
    flat: dict = {"cell": name, "seed": seed}

    def walk(prefix: str, value) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        elif prefix != "training.seeds":
            flat[prefix] = value if isinstance(value, (int, float, str, bool)) else json.dumps(value)

    walk("", cell.to_dict(without=VIEW_KEYS))
    return flat


class CellBoard:
    """The event files of one cell's models. add(kind, rows) takes the rows given to Parts."""

    def __init__(self, directory: Path | None, cell: CellConfig, name: str):
        cfg = cell.training.tensorboard
        self.dir = Path(directory) if directory is not None and cfg.enabled else None
        self.cell, self.name, self.names = cell, name, cfg.observables
        self.writers: dict = {}              # seed -> SummaryWriter, opened at its first row
        self.seen: dict[int, list[str]] = {} # seed -> event tags already logged (checkpointed)
        self.purge_step: int | None = None
        self.columns: dict[str, bool] = {}  # observables column -> plotted?
        self.flushed = time.monotonic()      # when the files were last flushed

    def start(self, seeds: list[int], resumed_step: int | None) -> None:
        """Before the first row: a fresh run removes these models' earlier event files; a resumed
        one hides what was logged after its checkpoint."""
        if self.dir is None:
            return
        if resumed_step is None:
            for seed in seeds:
                shutil.rmtree(self.dir / f"seed{seed}", ignore_errors=True)
        else:
            self.purge_step = resumed_step + 1

    def _writer(self, seed: int):
        if seed not in self.writers:
            from torch.utils.tensorboard import SummaryWriter
            from torch.utils.tensorboard.summary import hparams

            fresh = self.purge_step is None
            writer = SummaryWriter(str(self.dir / f"seed{seed}"), purge_step=self.purge_step, flush_secs=600)
            if fresh:
                suffixes = op_suffixes(self.cell.task.operations)
                metrics = {f"{m}{s}": 0.0 for m in HPARAM_METRICS for s in suffixes}
                metrics |= {EVENT_TAG.format(event="grok_step", suffix=s): 0.0 for s in suffixes}
                for summary in hparams(hyperparameters(self.cell, self.name, seed), metrics)[:2]:
                    writer.file_writer.add_summary(summary)
            self.writers[seed] = writer
        return self.writers[seed]

    def add(self, kind: str, rows: list[dict]) -> None:
        if self.dir is None:
            return
        from tensorboard.compat.proto.summary_pb2 import Summary

        for row in rows:
            if kind == "metrics":
                values = {k: v for k, v in row.items() if k not in ("seed", "step") and isinstance(v, (int, float))}
                values |= self._events(row)
            else:
                values = {k: v for k, v in row.items() if self._plotted(k)}
            summary = Summary(value=[Summary.Value(tag=k, simple_value=float(v)) for k, v in values.items()])
            self._writer(row["seed"]).file_writer.add_summary(summary, row["step"])
        # the eval's last rows: on disk now if flush_seconds have passed, so the curves are live
        if kind == "metrics" and time.monotonic() - self.flushed >= self.cell.training.tensorboard.flush_seconds:
            self.flush()

    def _plotted(self, column: str) -> bool:
        """plotted(), decided once per column: the columns repeat at every eval (E x ~100 of them)."""
        if column not in self.columns:
            self.columns[column] = column not in ("seed", "step") and plotted(column, self.names)
        return self.columns[column]

    def _events(self, row: dict) -> dict[str, float]:
        """The memorisation and grok events that happen at this row (first time at the threshold)."""
        tr, ops = self.cell.training, self.cell.task.operations
        seen, out = self.seen.setdefault(row["seed"], []), {}
        for suffix in op_suffixes(ops):
            for event, acc, threshold in zip(EVENTS, (f"train_acc{suffix}", f"test_acc{suffix}"),
                                             (tr.memorise_threshold, tr.grok_threshold)):
                tag = EVENT_TAG.format(event=event, suffix=suffix)
                if tag not in seen and reached(row[acc], threshold):
                    seen.append(tag)
                    out[tag] = row["step"]
        return out

    def flush(self) -> None:
        for writer in self.writers.values():
            writer.flush()
        self.flushed = time.monotonic()

    def close(self) -> None:
        """At the end of training: mark each model's hparams session finished, close its files."""
        if not self.writers:
            return
        from torch.utils.tensorboard.summary import hparams

        end = hparams({"seed": 0}, {})[2]
        for writer in self.writers.values():
            writer.file_writer.add_summary(end)
            writer.close()
        self.writers = {}

    def state_dict(self) -> dict:
        return {"seen": self.seen}

    def load_state_dict(self, state: dict | None) -> None:
        self.seen = {int(k): list(v) for k, v in ((state or {}).get("seen") or {}).items()}
