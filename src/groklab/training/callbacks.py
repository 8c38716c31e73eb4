"""What the training loop (groklab.training.loop.GroupRun) calls between steps: evaluation
(with divergence, the early-stop streak, observables and interventions) and checkpoints.

A callback has `due(step)` (call me after this step?), `__call__(run)` (returns a progress-bar
note or None) and `at_end(run)` (once, after the last step). They read and change the run they
are given (its model, optimizer, objective and parts), as minGPT's trainer callbacks do.
"""

from __future__ import annotations

import torch

from groklab.config.cells import CellConfig
from groklab.training import checkpoint
from groklab.training.evaluation import evaluate, metric_rows
from groklab.training.interventions import Triggers, metric_signals
from groklab.training.observables import make_probe, observe


class Probes:
    """Observables of every model on the training set (a fresh gradient: p.grad and RNGs untouched)."""

    def __init__(self, cell: CellConfig, model: torch.nn.Module):
        self.cell = cell
        # the initial parameters (rebuilt from the seeds on resume, so not checkpointed) and those of
        # the previous observation (checkpointed: update ratios need them); name -> (E, ...)
        self.init = {n: w.detach().clone() for n, w in model.named_weights()}
        self.prev, self.prev_step = None, None

    def __call__(self, run) -> dict[str, torch.Tensor]:
        """Observe at run.step; add one observables row per model; column -> (E,) values."""
        cfg, d = self.cell.training, run.data
        probe = make_probe(run.model, run.opt, self.cell, run.step, d["train_x"], d["train_y"],
                           self.init, self.prev, self.prev_step)
        n_eval = run.step // cfg.eval_every
        values = observe(probe, expensive=n_eval % cfg.observables.expensive_every == 0)
        run.parts.add("observables", [{"seed": seed, "step": run.step, **{k: v[e].item() for k, v in values.items()}}
                                      for e, seed in enumerate(run.seeds)])
        self.prev, self.prev_step = probe.params, run.step
        return values


class Evaluation:
    """Every eval_every steps and at the budget: accuracy and loss of each model on the training and
    test sets (one metrics row per model, in seed order), then observables and interventions."""

    def __init__(self, cell: CellConfig, seeds: list[int], model: torch.nn.Module,
                 hmm_map: dict | None, map_path: str):
        self.cell, E = cell, len(seeds)
        self.last_eval = -1
        self.streak = torch.zeros(E, dtype=torch.long)     # consecutive evals at/above grok_threshold
        self.diverged = torch.zeros(E, dtype=torch.bool)   # loss or logits became NaN/Inf
        self.probes = Probes(cell, model)
        self.triggers = Triggers(cell.training.interventions, E, hmm_map, map_path)

    def due(self, step: int) -> bool:
        return step % self.cell.training.eval_every == 0 or step == self.cell.total_steps

    def __call__(self, run) -> dict:
        d, ops, kind = run.data, self.cell.task.operations, self.cell.training.loss
        train = evaluate(run.model, d["train_x"], d["train_y"], d["train_op"], len(ops), kind)
        test = evaluate(run.model, d["test_x"], d["test_y"], d["test_op"], len(ops), kind)
        # A diverged model stays diverged; its NaN parameters never touch the other models.
        self.diverged |= ~torch.isfinite(train.loss.cpu())
        rows = metric_rows(run.seeds, run.step, train, test, ops, self.diverged)
        values = self.probes(run) if self.cell.training.observables.enabled else {}
        if self.triggers.rules:
            self._intervene(run, metric_signals(train, test, ops) | values, values)
            for e, row in enumerate(rows):
                row.update(self.triggers.row_columns(e))
        run.parts.add("metrics", rows)
        self.last_eval = run.step
        # every operation must be at/above the threshold for a model to count as generalised
        good = (test.op_acc.cpu() >= self.cell.training.grok_threshold).all(1)          # (E,)
        self.streak = torch.where(good, self.streak + 1, torch.zeros_like(self.streak))
        return {"best_test_acc": f"{test.acc.max().item():.3f}"}

    def at_end(self, run) -> None:
        if self.last_eval != run.step:
            self(run)                            # record the last step too

    def _intervene(self, run, signals: dict[str, torch.Tensor], observables: dict[str, torch.Tensor]) -> None:
        """Fire the rules whose condition holds now (groklab.training.interventions); the new settings
        apply to exactly those models from the next step on."""
        for settings, models in self.triggers.observe(signals, observables, self.diverged):
            optimizer = {k: v for k, v in settings.items() if k != "data_mix"}
            if optimizer:
                run.opt.set_hyperparameters(models, **optimizer)
            if "data_mix" in settings:
                run.objective.set_mix(models, settings["data_mix"])

    def stopped(self) -> bool:
        """Early stop: every model stably generalised (or diverged) for early_stop_evals evals."""
        n = self.cell.training.early_stop_evals
        return n > 0 and bool(((self.streak >= n) | self.diverged).all())


class Checkpointing:
    """Every checkpoint_every steps and after the last: flush the parts, then save run.state_dict()."""

    def __init__(self, every: int):
        self.every = every

    def due(self, step: int) -> bool:
        return step % self.every == 0

    def __call__(self, run) -> None:
        run.parts.flush()                        # the parts first: the checkpoint's n_parts counts them
        checkpoint.save(run.ckpt_path, run.cell.hash, run.seeds, run.state_dict())

    def at_end(self, run) -> None:
        self(run)
