"""Per-model optimisation of stacked ensembles: gradient filters, base optimizers, LR schedules.

Every parameter and gradient is a tensor (E, ...) whose row e belongs to model e. Every
operation here is either elementwise or reduces over the non-E dimensions only, so model
e's update never depends on the other rows of the ensemble.

Gradient filters are optax-style `GradientTransform`s: `init(params) -> state` and
`update(grads, state, params) -> (new_grads, state)`. `update` never modifies the grads
or params it is given (it returns new tensors, or the same ones when it leaves them
unchanged), but it owns its state and may update it in place (a Grokfast-MA ring buffer
is window x the model size: copying it every step would cost more than the filter). A
state is nested dicts/lists of tensors and numbers, so `torch.save` stores it as is.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import torch
from torch import Tensor, nn

from groklab.config.cells import OptimizerConfig, ScheduleConfig
from groklab.vocabulary import GROKFAST
from groklab.seeding import generator

State = Any   # nested dicts / lists of tensors, ints and floats


class GradientTransform(NamedTuple):
    init: Callable[[list[Tensor]], State]
    update: Callable[[list[Tensor], State, list[Tensor]], tuple[list[Tensor], State]]


def chain(*transforms: GradientTransform) -> GradientTransform:
    """Apply `transforms` in order; the state is the list of their states. chain() is the identity."""

    def init(params):
        return [t.init(params) for t in transforms]

    def update(grads, state, params):
        new_state = []
        for t, s in zip(transforms, state, strict=True):
            grads, s = t.update(grads, s, params)
            new_state.append(s)
        return grads, new_state

    return GradientTransform(init, update)


def _amplify(grads: list[Tensor], slow: list[Tensor], lamb: float, n: int, state: State) -> list[Tensor]:
    """g + (lamb / n) * slow. An intervention may have set other strengths for some models:
    state["lamb"] (E,); those rows use theirs, every other row is computed exactly as without it."""
    out = torch._foreach_add(grads, slow, alpha=lamb / n)
    per_model = state.get("lamb")
    if per_model is None:
        return out
    changed = per_model != lamb                                          # (E,)
    return [torch.where(_rows(changed, g), g + _rows(per_model / n, g) * s, o)
            for g, s, o in zip(grads, slow, out)]


def _rows(v: Tensor, p: Tensor) -> Tensor:
    return v.view(-1, *([1] * (p.dim() - 1)))                       # (E,) -> (E, 1, ...) against p (E, ...)


def grokfast_ema(alpha: float = 0.98, lamb: float = 2.0) -> GradientTransform:
    """Grokfast-EMA (Lee et al. 2024): mu <- alpha mu + (1 - alpha) g, mu_0 = 0; return g + lamb mu."""

    def init(params):
        return {"mu": [torch.zeros_like(p) for p in params]}         # each (E, ...)

    def update(grads, state, params):
        mu = state["mu"]
        torch._foreach_mul_(mu, alpha)                               # fused over all tensors: few kernels
        torch._foreach_add_(mu, grads, alpha=1 - alpha)
        return _amplify(grads, mu, lamb, 1, state), state

    return GradientTransform(init, update)


def grokfast_ma(window: int = 100, lamb: float = 5.0, filter: str = "mean", warmup: bool = True) -> GradientTransform:
    """Grokfast-MA (Lee et al. 2024): g + lamb * (mean or sum of the last `window` gradients).

    The current gradient is stored first, so the window includes it. With `warmup` the
    gradient passes unchanged until `window` gradients are stored; without it, "mean"
    divides by the number stored so far (as the reference deque implementation does).
    """
    if filter not in ("mean", "sum"):
        raise ValueError(f"grokfast_ma: filter must be 'mean' or 'sum', got {filter!r}")

    def init(params):
        # one ring buffer per parameter, (window, E, ...); slot count % window is the next write
        return {"buf": [torch.zeros((window, *p.shape), dtype=p.dtype, device=p.device) for p in params], "count": 0}

    def update(grads, state, params):
        slot, count = state["count"] % window, state["count"] + 1
        for b, g in zip(state["buf"], grads, strict=True):
            b[slot].copy_(g)
        state["count"] = count
        if warmup and count < window:
            return list(grads), state
        n = 1 if filter == "sum" else min(count, window)
        return _amplify(grads, [b.sum(0) for b in state["buf"]], lamb, n, state), state

    return GradientTransform(init, update)


def orthograd(eps: float = 1e-30) -> GradientTransform:
    """⊥Grad (Prieto et al. 2025): per model and tensor, drop the component of g along w, keep |g|."""

    def init(params):
        return {}

    def update(grads, state, params):
        out = []
        for g, w in zip(grads, params, strict=True):
            E = g.shape[0]
            gf, wf = g.reshape(E, -1), w.detach().reshape(E, -1)          # (E, n): one row per model
            proj = (gf * wf).sum(1, keepdim=True) / ((wf * wf).sum(1, keepdim=True) + eps)   # (E, 1)
            perp = gf - proj * wf
            g_norm, perp_norm = gf.norm(dim=1, keepdim=True), perp.norm(dim=1, keepdim=True)
            # rescale to |g|; a zero gradient gives 0 / (0 + eps) = 0 and stays zero. A g parallel
            # to w (always so for a one-element tensor) leaves only rounding error in perp: that is
            # zero, not a random direction blown up to |g|.
            scale = g_norm / (perp_norm + eps)
            scale = scale.masked_fill(perp_norm <= 16 * torch.finfo(g.dtype).eps * g_norm, 0.0)
            out.append((perp * scale).view_as(g))
        return out, state

    return GradientTransform(init, update)


def gaussian_noise(scale: float, decay: float, seeds: list[int]) -> GradientTransform:
    """Add N(0, std_t^2), std_t = scale / (1 + t)^decay, t = updates already applied.

    Model e draws all its noise for a step as one flat vector (its parameters in order) from
    its own CPU generator `generator(seeds[e], "noise")`, so its noise does not depend on the
    other models of the ensemble; the generator states live in the state (resumable).
    """
    seeds = list(seeds)

    def init(params):
        if params and params[0].shape[0] != len(seeds):
            raise ValueError(f"noise filter: {len(seeds)} seeds for an ensemble of {params[0].shape[0]}")
        return {"t": 0, "rng": [generator(s, "noise").get_state() for s in seeds]}

    def update(grads, state, params):
        std = scale / (1 + state["t"]) ** decay
        sizes = [g[0].numel() for g in grads]                        # per-model numel of each tensor
        rows, rng = [], []
        for s in state["rng"]:
            gen = torch.Generator()
            gen.set_state(s)
            rows.append(torch.randn(sum(sizes), generator=gen) * std)   # (N,) on CPU, float32
            rng.append(gen.get_state())
        noise = torch.stack(rows).to(grads[0].device)                # (E, N): one transfer per step
        out = [g + n.reshape(g.shape).to(g.dtype) for g, n in zip(grads, noise.split(sizes, dim=1))]
        return out, {"t": state["t"] + 1, "rng": rng}

    return GradientTransform(init, update)


def build_filters(cfg: OptimizerConfig, seeds: list[int]) -> GradientTransform:
    """The chain of `cfg.filters` (schema defaults filled), in list order."""
    transforms = []
    for f in cfg.filters:
        kw = {k: v for k, v in f.items() if k != "kind"}
        kind = f["kind"]
        if kind == "grokfast_ema":
            transforms.append(grokfast_ema(**kw))
        elif kind == "grokfast_ma":
            transforms.append(grokfast_ma(**kw))
        elif kind == "orthograd":
            transforms.append(orthograd(**kw))
        elif kind == "noise":
            transforms.append(gaussian_noise(seeds=seeds, **kw))
        else:
            raise ValueError(f"optimizer.filters: unknown kind {kind!r}")
    return chain(*transforms)


def _fused_ok(params: list[Tensor]) -> bool:
    # torch's fused Adam/AdamW kernels exist for floating tensors on CPU and CUDA (torch >= 2.4)
    return all(p.device.type in ("cpu", "cuda") and p.is_floating_point() for p in params)


def build_base_optimizer(params: list[nn.Parameter], cfg: OptimizerConfig) -> torch.optim.Optimizer:
    """torch's optimizer named by cfg.name on the stacked parameters (elementwise, hence per model)."""
    params = list(params)
    fused = True if _fused_ok(params) else None
    if cfg.name == "adamw":
        return torch.optim.AdamW(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                                 weight_decay=cfg.weight_decay, fused=fused)
    if cfg.name == "adam":
        # L2 decay: weight_decay * w is added to the (filtered) gradient inside Adam
        return torch.optim.Adam(params, lr=cfg.lr, betas=tuple(cfg.betas), eps=cfg.eps,
                                weight_decay=cfg.weight_decay, fused=fused)
    if cfg.name == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, nesterov=cfg.nesterov,
                               weight_decay=cfg.weight_decay, foreach=True)
    raise ValueError(f"optimizer.name: unknown optimizer {cfg.name!r}")


def lr_lambda(schedule: ScheduleConfig, total_steps: int) -> Callable[[int], float]:
    """LR multiplier of optimizer step s (0-based), for LambdaLR.

    Warmup: (s + 1) / warmup_steps for s < warmup_steps, so the first step already moves
    (lr / warmup_steps) and step warmup_steps - 1 uses the full lr. Then 1 (constant), or
    cosine from 1 at s = warmup_steps to min_lr_ratio at s = total_steps.
    """
    W, kind, floor = schedule.warmup_steps, schedule.kind, schedule.min_lr_ratio
    if kind not in ("constant", "cosine"):
        raise ValueError(f"optimizer.schedule.kind: unknown schedule {kind!r}")

    def multiplier(s: int) -> float:
        if s < W:
            return (s + 1) / W
        if kind == "constant":
            return 1.0
        progress = min(1.0, (s - W) / max(1, total_steps - W))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    return multiplier


def _to_device(state: State, device: torch.device) -> State:
    """A copy of a filter state: floating tensors on `device`, others (generator states) on CPU."""
    if isinstance(state, Tensor):
        return state.to(device).clone() if state.is_floating_point() else state.cpu().clone()
    if isinstance(state, dict):
        return {k: _to_device(v, device) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_to_device(v, device) for v in state]
    return state


class EnsembleOptimizer:
    """Filters, then torch's base optimizer, then the LR schedule; one object to step and checkpoint."""

    def __init__(self, params: list[nn.Parameter], cfg: OptimizerConfig, seeds: list[int], total_steps: int):
        self.params, self.cfg = list(params), cfg
        self.base = build_base_optimizer(self.params, cfg)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.base, lr_lambda(cfg.schedule, total_steps))
        # a constant schedule without warmup never changes lr: skip the scheduler's per-step Python
        self._static_lr = cfg.schedule.kind == "constant" and cfg.schedule.warmup_steps == 0
        self.filters = build_filters(cfg, seeds) if cfg.filters else None
        with torch.no_grad():
            self.filter_state = self.filters.init(self.params) if self.filters else []
        # Per-model hyperparameters set by interventions (groklab.training.loop): weight decay added to the
        # configured one and a learning-rate multiplier, each (E,); all rows start unchanged.
        device = self.params[0].device if self.params else torch.device("cpu")
        self.extra_decay = torch.zeros(len(seeds), device=device)
        self.lr_scale = torch.ones(len(seeds), device=device)

    def set_hyperparameters(self, models: torch.Tensor, lr: float | None = None,
                            weight_decay: float | None = None, filter_lamb: float | None = None) -> None:
        """From the next step on, models[e] (bool, (E,)) train with this lr / weight decay / Grokfast
        amplification (every grokfast filter of the cell)."""
        models = models.to(self.extra_decay.device)
        if lr is not None:
            self.lr_scale[models] = lr / self.cfg.lr
        if weight_decay is not None:
            self.extra_decay[models] = weight_decay - self.cfg.weight_decay
        if filter_lamb is not None:
            for f, state in zip(self.cfg.filters, self.filter_state):
                if f["kind"] in GROKFAST:
                    if "lamb" not in state:
                        state["lamb"] = torch.full_like(self.lr_scale, float(f["lamb"]))
                    state["lamb"][models] = filter_lamb

    def _decay_before_step(self) -> None:
        """The extra weight decay: decoupled for AdamW (a shrink of lr * extra; differs from a
        larger wd by a term of order lr^2 wd extra), added to the gradient (L2) for Adam and SGD."""
        if self.cfg.name == "adamw":
            lr = self.base.param_groups[0]["lr"]
            for p in self.params:
                p.mul_(1 - lr * _rows(self.extra_decay, p))
        else:
            for p in self.params:
                if p.grad is not None:
                    p.grad.add_(p * _rows(self.extra_decay, p))

    @torch.no_grad()
    def step(self) -> None:
        if self.filters is not None:
            # a parameter without a gradient counts as a zero gradient (filters keep history)
            grads = [p.grad if p.grad is not None else torch.zeros_like(p) for p in self.params]
            grads, self.filter_state = self.filters.update(grads, self.filter_state, self.params)
            for p, g in zip(self.params, grads):
                p.grad = g
        if bool(self.extra_decay.any()):
            self._decay_before_step()
        scaled = bool((self.lr_scale != 1).any())
        before = [p.clone() for p in self.params] if scaled else None
        self.base.step()
        if scaled:   # p = before + scale * (update): the whole step (with AdamW's decay) scaled per model
            for p, b in zip(self.params, before):
                p.copy_(torch.lerp(b, p, _rows(self.lr_scale, p)))
        if not self._static_lr:
            self.scheduler.step()

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.base.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict:
        return {"base": self.base.state_dict(), "scheduler": self.scheduler.state_dict(),
                "filters": self.filter_state, "extra_decay": self.extra_decay, "lr_scale": self.lr_scale}

    def load_state_dict(self, state: dict) -> None:
        self.base.load_state_dict(state["base"])
        self.scheduler.load_state_dict(state["scheduler"])
        device = self.params[0].device if self.params else torch.device("cpu")
        self.filter_state = _to_device(state["filters"], device)
        if "extra_decay" in state:
            self.extra_decay, self.lr_scale = state["extra_decay"].to(device), state["lr_scale"].to(device)
