"""Per-model optimisation of stacked ensembles: gradient filters, base optimizers, LR schedules.

Every parameter and gradient is a tensor (E, ...) whose row e belongs to model e, and every
hyperparameter is a per-model vector (E,): model e of a pack trains with its own lr, weight
decay, betas, momentum, filter strengths and schedule. Every operation here is elementwise
or reduces over the non-E dimensions only, so model e's update never depends on the other
rows of the ensemble.

Bitwise independence of the ensemble. The updates use only single-rounding kernels (mul,
add, sub, div, sqrt) with tensor operands: torch's fused kernels (fused Adam, add with
alpha, addcmul, lerp) round an element of a vectorised body differently from one of the
scalar tail, so a model's numbers there would depend on where its rows fall, i.e. on what
else shares the pack. Per-model factors (1 - lr wd, lr / (1 - beta1^t), ...) are computed
in float64 from the model's own values and rounded once to float32.

Gradient filters are optax-style `GradientTransform`s: `init(params) -> state` and
`update(grads, state, params) -> (new_grads, state)`. `update` never modifies the grads or
params it is given, but owns its state and may update it in place (a Grokfast-MA ring buffer
is window x the model size: copying it every step would cost more than the filter). A state
is nested dicts/lists of tensors and numbers, so `torch.save` stores it as is; its per-model
entries are selected by `select_state` when models leave the pack.
"""

from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Sequence

import torch
from torch import Tensor, nn

from groklab.config.cells import OptimizerConfig, ScheduleConfig
from groklab.vocabulary import GROKFAST
from groklab.seeding import generator

State = Any   # nested dicts / lists of tensors, ints and floats
PerModel = float | Sequence[float] | Tensor


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


def _rows(v: Tensor, p: Tensor) -> Tensor:
    """(E,) -> (E, 1, ...) against p (E, ...), in p's dtype and device (float64 rounded once)."""
    return v.to(device=p.device, dtype=p.dtype).view(-1, *([1] * (p.dim() - 1)))


def per_model(value: PerModel, E: int) -> Tensor:
    """A hyperparameter as an (E,) float64 vector: a number for every model, or one per model."""
    t = torch.as_tensor(value, dtype=torch.float64).flatten().clone()
    if t.numel() == 1:
        return t.expand(E).clone()
    if t.numel() != E:
        raise ValueError(f"a per-model hyperparameter has {t.numel()} values for an ensemble of {E}")
    return t


def _ensemble_size(params: list[Tensor]) -> int:
    return params[0].shape[0] if params else 0


def grokfast_ema(alpha: PerModel = 0.98, lamb: PerModel = 2.0) -> GradientTransform:
    """Grokfast-EMA (Lee et al. 2024): mu <- alpha mu + (1 - alpha) g, mu_0 = 0; return g + lamb mu.
    lamb = 0 is exactly the identity (g + 0 = g), which lets cells without the filter share a pack."""

    def init(params):
        E = _ensemble_size(params)
        return {"mu": [torch.zeros_like(p) for p in params],          # each (E, ...)
                "alpha": per_model(alpha, E), "lamb": per_model(lamb, E)}

    def update(grads, state, params):
        a, one_minus_a, lam = state["alpha"], 1 - state["alpha"], state["lamb"]
        out = []
        for mu, g in zip(state["mu"], grads, strict=True):
            mu.mul_(_rows(a, mu)).add_(g * _rows(one_minus_a, g))
            out.append(g + mu * _rows(lam, mu))
        return out, state

    return GradientTransform(init, update)


def grokfast_ma(window: int = 100, lamb: PerModel = 5.0, filter: str = "mean", warmup: bool = True) -> GradientTransform:
    """Grokfast-MA (Lee et al. 2024): g + lamb * (mean or sum of the last `window` gradients).

    The current gradient is stored first, so the window includes it. With `warmup` the
    gradient passes unchanged until `window` gradients are stored; without it, "mean"
    divides by the number stored so far (as the reference deque implementation does).
    """
    if filter not in ("mean", "sum"):
        raise ValueError(f"grokfast_ma: filter must be 'mean' or 'sum', got {filter!r}")

    def init(params):
        # one ring buffer per parameter, (window, E, ...); slot count % window is the next write
        return {"buf": [torch.zeros((window, *p.shape), dtype=p.dtype, device=p.device) for p in params],
                "count": 0, "lamb": per_model(lamb, _ensemble_size(params))}

    def update(grads, state, params):
        slot, count = state["count"] % window, state["count"] + 1
        for b, g in zip(state["buf"], grads, strict=True):
            b[slot].copy_(g)
        state["count"] = count
        if warmup and count < window:
            return list(grads), state
        n = 1 if filter == "sum" else min(count, window)
        strength = state["lamb"] / n
        return [g + b.sum(0) * _rows(strength, g) for g, b in zip(grads, state["buf"])], state

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


def gaussian_noise(scale: PerModel, decay: PerModel, seeds: list[int]) -> GradientTransform:
    """Add N(0, std_t^2), std_t = scale / (1 + t)^decay, t = updates already applied.

    Model e draws all its noise for a step as one flat vector (its parameters in order) from
    its own CPU generator `generator(seeds[e], "noise")`, so its noise does not depend on the
    other models of the ensemble; the generator states live in the state (resumable).
    """
    seeds = list(seeds)

    def init(params):
        if params and params[0].shape[0] != len(seeds):
            raise ValueError(f"noise filter: {len(seeds)} seeds for an ensemble of {params[0].shape[0]}")
        E = len(seeds)
        return {"t": 0, "rng": [generator(s, "noise").get_state() for s in seeds],
                "scale": per_model(scale, E), "decay": per_model(decay, E)}

    def update(grads, state, params):
        std = (state["scale"] / (1 + state["t"]) ** state["decay"]).float()       # (E,) rounded once
        sizes = [g[0].numel() for g in grads]                        # per-model numel of each tensor
        rows, rng = [], []
        for e, s in enumerate(state["rng"]):
            gen = torch.Generator()
            gen.set_state(s)
            rows.append(torch.randn(sum(sizes), generator=gen) * std[e])   # (N,) on CPU, float32
            rng.append(gen.get_state())
        noise = torch.stack(rows).to(grads[0].device)                # (E, N): one transfer per step
        out = [g + n.reshape(g.shape).to(g.dtype) for g, n in zip(grads, noise.split(sizes, dim=1))]
        return out, state | {"t": state["t"] + 1, "rng": rng}

    return GradientTransform(init, update)


# ---- filter chains of a pack -----------------------------------------------------------------

def filter_kinds(cfg: OptimizerConfig) -> tuple[str, ...]:
    """The structural part of a filter chain, what models of one pack must share: the kinds in
    order (with the MA window and mode, and orthograd's eps), a leading Grokfast-EMA left out
    (a cell without it runs it at lamb = 0, which is exactly the identity)."""
    kinds = []
    for i, f in enumerate(cfg.filters):
        if f["kind"] == "grokfast_ema" and i == 0:
            continue
        extra = {"grokfast_ma": ("window", "filter", "warmup"), "orthograd": ("eps",)}.get(f["kind"], ())
        kinds.append(":".join([f["kind"], *(str(f.get(k)) for k in extra)]))
    return tuple(kinds)


def _aligned_chains(cfgs: list[OptimizerConfig]) -> list[list[dict]]:
    """Each model's chain with the same kinds in the same places (a missing leading EMA added at lamb 0)."""
    if len({filter_kinds(c) for c in cfgs}) > 1:
        raise ValueError("optimizer.filters: models of one pack need the same filter chain "
                         f"(got {sorted({filter_kinds(c) for c in cfgs})})")
    lead = any(c.filters and c.filters[0]["kind"] == "grokfast_ema" for c in cfgs)
    idle = {"kind": "grokfast_ema", "alpha": 0.98, "lamb": 0.0}
    return [([] if not lead or (c.filters and c.filters[0]["kind"] == "grokfast_ema") else [idle]) + list(c.filters)
            for c in cfgs]


def build_filters(cfg: OptimizerConfig | list[OptimizerConfig], seeds: list[int]) -> GradientTransform:
    """The chain of filters (schema defaults filled), in list order; one config for every model,
    or one per model (seeds[e]'s), with per-model strengths."""
    cfgs = cfg if isinstance(cfg, list) else [cfg] * len(seeds)
    chains = _aligned_chains(cfgs)
    transforms = []
    for k, first in enumerate(chains[0]):
        column = [chain_[k] for chain_ in chains]                     # filter k of every model
        kind = first["kind"]
        if kind == "grokfast_ema":
            transforms.append(grokfast_ema([f["alpha"] for f in column], [f["lamb"] for f in column]))
        elif kind == "grokfast_ma":
            transforms.append(grokfast_ma(first["window"], [f["lamb"] for f in column], first["filter"], first["warmup"]))
        elif kind == "orthograd":
            transforms.append(orthograd(**{k: v for k, v in first.items() if k != "kind"}))
        elif kind == "noise":
            transforms.append(gaussian_noise([f["scale"] for f in column], [f["decay"] for f in column], seeds))
        else:
            raise ValueError(f"optimizer.filters: unknown kind {kind!r}")
    return chain(*transforms)


def select_state(state: State, idx: Tensor, E: int) -> State:
    """A filter state with only the models idx (int64, (E',)) left: every tensor whose leading
    dimension is E is indexed by model, a ring buffer (window, E, ...) on its second."""
    if isinstance(state, Tensor):
        if state.dim() >= 1 and state.shape[0] == E:
            return state[idx.to(state.device)].clone()
        return state
    if isinstance(state, dict):
        return {k: (_select_buffers(v, idx) if k == "buf" else
                    [v[i] for i in idx.tolist()] if k == "rng" else select_state(v, idx, E))
                for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [select_state(v, idx, E) for v in state]
    return state


def _select_buffers(bufs: list[Tensor], idx: Tensor) -> list[Tensor]:
    return [b[:, idx.to(b.device)].clone() for b in bufs]            # (window, E', ...)


# ---- schedules -------------------------------------------------------------------------------

def lr_lambda(schedule: ScheduleConfig, total_steps: int) -> Callable[[int], float]:
    """LR multiplier of optimizer step s (0-based).

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
        if state.dtype == torch.float64:                             # per-model hyperparameters stay exact
            return state.cpu().clone()
        return state.to(device).clone() if state.is_floating_point() else state.cpu().clone()
    if isinstance(state, dict):
        return {k: _to_device(v, device) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_to_device(v, device) for v in state]
    return state
