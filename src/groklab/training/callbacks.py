"""What the training loop (groklab.training.loop.PackRun) calls between steps for each cell of
its pack: evaluation (with divergence, the early-stop streak, observables and interventions).

`due(step)` (evaluate after this step?), `__call__(run)` (returns a progress-bar note) and
`finished(step)` (which models leave the pack now). `run` is one cell's view of the pack
(groklab.training.member.Member: its model, optimizer, objective and parts), as minGPT's
trainer callbacks read and change their trainer.
"""

from __future__ import annotations

import torch

from groklab.config.cells import CellConfig
from groklab.training.evaluation import evaluate, metric_rows
from groklab.training.interventions import Triggers, metric_signals
from groklab.training.observables import Probe, make_probe, observe
from groklab.vocabulary import reached


class Probes:
    """Observables of every model on the training set (a fresh gradient: p.grad and RNGs untouched)."""

    def __init__(self, cell: CellConfig, model: torch.nn.Module):
        self.cell = cell
        # the initial parameters (rebuilt from the seeds on resume, so not checkpointed) and those of
        # the previous observation (checkpointed: update ratios need them); name -> (E, ...)
        self.init = {n: w.detach().clone() for n, w in model.named_weights()}
        self.prev, self.prev_step = None, None

    def probe(self, run) -> Probe:
        """The forward with cache and the backward on the whole training set at run.step."""
        d = run.data
        return make_probe(run.model, run.opt, self.cell, run.step, d["train_x"], d["train_y"],
                          self.init, self.prev, self.prev_step)

    def __call__(self, run, probe: Probe) -> dict[str, torch.Tensor]:
        """Observe `probe` (from self.probe(run)); add one observables row per model; column -> (E,) values."""
        cfg = self.cell.training
        n_eval = run.step // cfg.eval_every
        values = observe(probe, expensive=n_eval % cfg.observables.expensive_every == 0)
        run.record("observables", [{"seed": seed, "step": run.step, **{k: v[e].item() for k, v in values.items()}}
                                      for e, seed in enumerate(run.seeds)])
        # a copy: probe.params are the live weights, which the next steps change in place (aliased,
        # every update ratio read 0 before packs)
        self.prev, self.prev_step = {n: w.clone() for n, w in probe.params.items()}, run.step
        return values

    def select(self, idx: torch.Tensor) -> None:
        """Keep only models idx (int64, (E',)): their initial and previously observed parameters."""
        self.init = {n: w[idx.to(w.device)] for n, w in self.init.items()}
        if self.prev is not None:
            self.prev = {n: w[idx.to(w.device)] for n, w in self.prev.items()}


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
        probe = self.probes.probe(run) if self.cell.training.observables.enabled else None
        # the probe's forward is the training set's: its logits are scored, not computed twice
        train = evaluate(run.model, d["train_x"], d["train_y"], d["train_op"], len(ops), kind,
                         logits=None if probe is None else probe.logits)
        test = evaluate(run.model, d["test_x"], d["test_y"], d["test_op"], len(ops), kind)
        # A diverged model stays diverged; its NaN parameters never touch the other models.
        self.diverged |= ~torch.isfinite(train.loss.cpu())
        rows = metric_rows(run.seeds, run.step, train, test, ops, self.diverged)
        values = self.probes(run, probe) if probe is not None else {}
        if self.triggers.rules:
            self._intervene(run, metric_signals(train, test, ops) | values, values)
            for e, row in enumerate(rows):
                row.update(self.triggers.row_columns(e))
        run.record("metrics", rows)
        self.last_eval = run.step
        # every operation must be at/above the threshold for a model to count as generalised
        good = reached(test.op_acc.cpu(), self.cell.training.grok_threshold).all(1)          # (E,)
        self.streak = torch.where(good, self.streak + 1, torch.zeros_like(self.streak))
        return {"best_test_acc": f"{test.acc.max().item():.3f}"}

    def _intervene(self, run, signals: dict[str, torch.Tensor], observables: dict[str, torch.Tensor]) -> None:
        """Fire the rules whose condition holds now (groklab.training.interventions); the new settings
        apply to exactly those models from the next step on."""
        for settings, models in self.triggers.observe(signals, observables, self.diverged):
            optimizer = {k: v for k, v in settings.items() if k != "data_mix"}
            if optimizer:
                run.opt.set_hyperparameters(models, **optimizer)
            if "data_mix" in settings:
                run.objective.set_mix(models, settings["data_mix"])

    def finished(self, step: int) -> torch.Tensor:
        """(E,) bool, the models that leave the pack after this step's eval: their budget is spent,
        they diverged, or (early stop) they stayed generalised for early_stop_evals evals."""
        n = self.cell.training.early_stop_evals
        done = self.diverged | (self.streak >= n) if n > 0 else self.diverged.clone()
        return done | (step >= self.cell.total_steps)

    def select(self, idx: torch.Tensor) -> None:
        """Keep only models idx (int64, (E',)), in that order."""
        self.streak, self.diverged = self.streak[idx.cpu()], self.diverged[idx.cpu()]
        self.probes.select(idx)
        self.triggers.select(idx)
