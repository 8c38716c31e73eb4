"""EnsembleOptimizer: filters, then a per-model AdamW / Adam / SGD, then each model's LR schedule.

Model e of a pack has its own hyperparameters (E,) vectors: lr, weight decay, betas, eps,
momentum, and its own schedule and budget. The family (adamw, adam, sgd) and nesterov are
the pack's (groklab.training.packs puts cells that differ in them in different packs). The
maths is torch's (AdamW: decoupled decay p <- p (1 - lr wd); Adam and SGD: L2, g <- g + wd p;
SGD momentum with dampening 0, buf_1 = g), written with single-rounding kernels so that a
model's numbers do not depend on its neighbours (see groklab.training.optim).
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor, nn

from groklab.config.cells import OptimizerConfig
from groklab.training.optim import _to_device, build_filters, lr_lambda, per_model, select_state
from groklab.vocabulary import GROKFAST

FAMILIES = ("adamw", "adam", "sgd")


class EnsembleOptimizer:
    """One object to step, intervene on, select models of, and checkpoint."""

    def __init__(self, params: list[nn.Parameter], cfg: OptimizerConfig | list[OptimizerConfig],
                 seeds: list[int], total_steps: int | list[int]):
        self.params = list(params)
        E = len(seeds)
        cfgs = cfg if isinstance(cfg, list) else [cfg] * E
        budgets = total_steps if isinstance(total_steps, list) else [total_steps] * E
        if len({(c.name, c.nesterov) for c in cfgs}) > 1:
            raise ValueError("optimizer.name: models of one pack need the same optimizer family")
        if cfgs[0].name not in FAMILIES:
            raise ValueError(f"optimizer.name: unknown optimizer {cfgs[0].name!r}")
        self.name, self.nesterov, self.cfgs = cfgs[0].name, cfgs[0].nesterov, cfgs
        # per-model hyperparameters (E,) float64; interventions change lr and wd rows
        self.hp = {"lr": per_model([c.lr for c in cfgs], E), "wd": per_model([c.weight_decay for c in cfgs], E),
                   "beta1": per_model([c.betas[0] for c in cfgs], E), "beta2": per_model([c.betas[1] for c in cfgs], E),
                   "eps": per_model([c.eps for c in cfgs], E), "momentum": per_model([c.momentum for c in cfgs], E)}
        # one multiplier function per distinct (schedule, budget); model e uses schedules[group[e]]
        keys = [(c.schedule, b) for c, b in zip(cfgs, budgets)]
        distinct = list(dict.fromkeys(keys))
        self.schedules = [lr_lambda(s, b) for s, b in distinct]
        self.group = torch.tensor([distinct.index(k) for k in keys], dtype=torch.long)
        self._static = all(s.kind == "constant" and s.warmup_steps == 0 for s, _ in distinct)
        self.t = 0                                              # steps taken (every model of a pack alike)
        self.filters = build_filters(cfgs, seeds) if any(c.filters for c in cfgs) else None
        with torch.no_grad():
            self.filter_state = self.filters.init(self.params) if self.filters else []
        adam = self.name != "sgd"
        self.m = [torch.zeros_like(p) for p in self.params] if adam else None    # exp_avg, each (E, ...)
        self.v = [torch.zeros_like(p) for p in self.params] if adam else None    # exp_avg_sq
        self.buf: list[Tensor] | None = None                                      # SGD momentum, from step 1

    # ---- the lr of the next step ------------------------------------------------------------

    def current_lr(self) -> Tensor:
        """(E,) float64: each model's lr for its next step (its schedule at step t, interventions applied)."""
        if self._static:
            return self.hp["lr"].clone()
        mult = torch.tensor([f(self.t) for f in self.schedules], dtype=torch.float64)
        return self.hp["lr"] * mult[self.group]

    def set_hyperparameters(self, models: Tensor, lr: float | None = None,
                            weight_decay: float | None = None, filter_lamb: float | None = None) -> None:
        """From the next step on, models[e] (bool, (E,)) train with this lr / weight decay / Grokfast
        amplification (every grokfast filter of the model's chain)."""
        models = models.cpu()
        if lr is not None:
            self.hp["lr"][models] = lr
        if weight_decay is not None:
            self.hp["wd"][models] = weight_decay
        if filter_lamb is not None:
            for f, state in zip(self._chain_kinds(), self.filter_state):
                if f in GROKFAST:
                    state["lamb"][models] = filter_lamb

    def _chain_kinds(self) -> list[str]:
        from groklab.training.optim import _aligned_chains
        return [f["kind"] for f in _aligned_chains(self.cfgs)[0]] if self.filters else []

    # ---- the step ---------------------------------------------------------------------------

    def _rows_of(self, v: Tensor) -> list[Tensor]:
        """An (E,) float64 factor as float32 rows (E, 1, ...) against every parameter (rounded once)."""
        v = v.to(device=self.params[0].device, dtype=self.params[0].dtype)
        return [v.view(-1, *([1] * (p.dim() - 1))) for p in self.params]

    def use_update(self, update: "Callable") -> None:
        """Step with `update` (groklab.training.compiled: the compiled UPDATES[name]) instead of eager."""
        self._update = update

    @torch.no_grad()
    def step(self) -> None:
        grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
        if self.filters is not None:
            grads, self.filter_state = self.filters.update(grads, self.filter_state, self.params)
        lr = self.current_lr()                                  # (E,) float64
        self.t += 1
        # The per-model factors of this step, each (E,) float64 rounded once to float32 rows
        # (E, 1, ...): everything that changes with the step is a tensor here, so a compiled
        # update sees one graph for every step.
        wd = self.hp["wd"]
        decay = bool(wd.any())
        f = {"decay": self._rows_of(1 - lr * wd if self.name == "adamw" else wd) if decay else None}
        if self.name == "sgd":
            mom = self.hp["momentum"]
            if bool(mom.any()) and self.buf is None:
                self.buf = [torch.zeros_like(p) for p in self.params]
                f["first"] = True
            f |= {"lr": self._rows_of(lr), "momentum": self._rows_of(mom) if self.buf is not None else None}
            self._update(self.name, self.params, grads, self.buf, None, f, self.nesterov)
        else:
            b1, b2 = self.hp["beta1"], self.hp["beta2"]
            f |= {"b1": self._rows_of(b1), "1-b1": self._rows_of(1 - b1), "b2": self._rows_of(b2),
                  "1-b2": self._rows_of(1 - b2), "bc2_sqrt": self._rows_of((1 - b2**self.t).sqrt()),
                  "eps": self._rows_of(self.hp["eps"]), "step_size": self._rows_of(lr / (1 - b1**self.t))}
            self._update(self.name, self.params, grads, self.m, self.v, f, self.nesterov)

    @staticmethod
    def _update(name, params, grads, m_or_buf, v, f, nesterov) -> None:
        """The eager update (groklab.training.compiled.update compiles the same function)."""
        update(name, params, grads, m_or_buf, v, f, nesterov)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            p.grad = None

    # ---- what observables read ------------------------------------------------------------

    def state_of(self, i: int) -> dict:
        """torch-style state of parameter i: exp_avg / exp_avg_sq (Adam) or momentum_buffer (SGD), step."""
        if self.m is not None:
            return {"exp_avg": self.m[i], "exp_avg_sq": self.v[i], "step": torch.tensor(float(self.t))} if self.t else {}
        return {"momentum_buffer": self.buf[i], "step": torch.tensor(float(self.t))} if self.buf is not None else {}

    # ---- models leaving the pack, checkpoints -----------------------------------------------

    def model_state(self, row: int) -> dict:
        """Model `row`'s own optimizer state (CPU copies), for its final record."""
        take = lambda ts: None if ts is None else [t[row].detach().cpu().clone() for t in ts]  # noqa: E731
        return {"name": self.name, "t": self.t, "hp": {k: float(v[row]) for k, v in self.hp.items()},
                "exp_avg": take(self.m), "exp_avg_sq": take(self.v), "momentum_buffer": take(self.buf)}

    def select(self, idx: Tensor, params: list[nn.Parameter]) -> None:
        """Keep only models idx (int64, (E',)); `params` are the model's new (E', ...) parameters."""
        E = len(self.hp["lr"])
        self.params = list(params)
        pick = lambda ts: None if ts is None else [t[idx.to(t.device)].clone() for t in ts]  # noqa: E731
        self.m, self.v, self.buf = pick(self.m), pick(self.v), pick(self.buf)
        self.hp = {k: v[idx.cpu()].clone() for k, v in self.hp.items()}
        self.group = self.group[idx.cpu()]
        self.cfgs = [self.cfgs[i] for i in idx.tolist()]
        self.filter_state = select_state(self.filter_state, idx, E)

    def state_dict(self) -> dict:
        return {"t": self.t, "hp": self.hp, "m": self.m, "v": self.v, "buf": self.buf, "filters": self.filter_state}

    def load_state_dict(self, state: dict) -> None:
        device = self.params[0].device if self.params else torch.device("cpu")
        on = lambda ts: None if ts is None else [t.to(device).clone() for t in ts]  # noqa: E731
        self.t, self.hp = state["t"], {k: v.cpu().clone() for k, v in state["hp"].items()}
        self.m, self.v, self.buf = on(state["m"]), on(state["v"]), on(state["buf"])
        self.filter_state = _to_device(state["filters"], device)


# ---- the update itself: a pure function of tensor lists, so torch.compile can fuse it -------

def update(name: str, params: list[Tensor], grads: list[Tensor], m_or_buf: list[Tensor] | None,
           v: list[Tensor] | None, f: dict, nesterov: bool) -> None:
    """One step of `name` in place on params and state. f: the step's factors (float32 rows
    (E, 1, ...) per parameter, from EnsembleOptimizer.step). Every operation is a single-rounding
    elementwise kernel (torch._foreach_*: one call per operation, eager), so a model's update never
    depends on its neighbours; compiled, the same graph fuses into one loop per parameter."""
    if name == "adamw" and f["decay"] is not None:
        torch._foreach_mul_(params, f["decay"])
    if name != "adamw" and f["decay"] is not None:      # L2: the decay joins the gradient
        grads = torch._foreach_add(grads, torch._foreach_mul(params, f["decay"]))
    if name == "sgd":
        _sgd(params, grads, m_or_buf, f, nesterov)
    else:
        _adam(params, grads, m_or_buf, v, f)


def _adam(params, grads, m, v, f) -> None:
    torch._foreach_mul_(m, f["b1"])
    torch._foreach_add_(m, torch._foreach_mul(grads, f["1-b1"]))
    torch._foreach_mul_(v, f["b2"])
    torch._foreach_add_(v, torch._foreach_mul(torch._foreach_mul(grads, grads), f["1-b2"]))
    denom = torch._foreach_sqrt(v)
    torch._foreach_div_(denom, f["bc2_sqrt"])
    torch._foreach_add_(denom, f["eps"])
    step = torch._foreach_div(m, denom)
    torch._foreach_mul_(step, f["step_size"])
    torch._foreach_sub_(params, step)


def _sgd(params, grads, buf, f, nesterov) -> None:
    if buf is not None:
        if f.get("first"):                                  # buf_1 = g (dampening 0)
            torch._foreach_copy_(buf, grads)
        else:
            torch._foreach_mul_(buf, f["momentum"])
            torch._foreach_add_(buf, grads)
        grads = torch._foreach_add(grads, torch._foreach_mul(buf, f["momentum"])) if nesterov else buf
    torch._foreach_sub_(params, torch._foreach_mul(grads, f["lr"]))
