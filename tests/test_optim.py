"""Gradient filters, base optimizers, schedules and losses of groklab.training.optim / groklab.training.losses.

Tensors are tiny: parameters (E, 4, 3), (E, 5) and (E,), a handful of steps per test.
"""

import io
import math

import pytest
import torch
import torch.nn.functional as Fn

from groklab.config.cells import OptimizerConfig, ScheduleConfig
from groklab.training.losses import per_example_loss, per_model_loss
from groklab.training.optim import build_filters, gaussian_noise, grokfast_ema, grokfast_ma, lr_lambda, orthograd
from groklab.training.optimizer import EnsembleOptimizer
from groklab.seeding import generator

SHAPES = [(4, 3), (5,), ()]          # per-model shapes; () is a scalar per model, stacked to (E,)
EMA = {"kind": "grokfast_ema", "alpha": 0.9, "lamb": 2.0}
MA = {"kind": "grokfast_ma", "window": 3, "lamb": 5.0, "filter": "mean", "warmup": True}
ORTHO = {"kind": "orthograd"}
NOISE = {"kind": "noise", "scale": 0.05, "decay": 0.55}
FILTERS = {"none": (), "ema": (EMA,), "ma": (MA,), "orthograd": (ORTHO,), "noise": (NOISE,),
           "all": (EMA, MA, ORTHO, NOISE)}
OPTIMIZERS = {"adamw": {"name": "adamw"}, "adam": {"name": "adam"},
              "sgd_momentum": {"name": "sgd", "momentum": 0.9},
              "sgd_nesterov": {"name": "sgd", "momentum": 0.9, "nesterov": True}}


def opt_cfg(name="adamw", filters=(), schedule=ScheduleConfig(), **kw) -> OptimizerConfig:
    return OptimizerConfig(name=name, lr=0.05, weight_decay=0.1, betas=(0.9, 0.98), eps=1e-8,
                           schedule=schedule, filters=tuple(filters), **kw)


def stacked(seeds, purpose="init") -> list[torch.Tensor]:
    """One tensor (E, *shape) per SHAPES entry; row e drawn from seeds[e] alone."""
    gens = [generator(s, purpose) for s in seeds]
    return [torch.stack([torch.randn(shape, generator=g) for g in gens]) for shape in SHAPES]


def make_params(seeds) -> list[torch.nn.Parameter]:
    return [torch.nn.Parameter(t) for t in stacked(seeds)]


def backward(params) -> None:
    """A nonlinear loss applied to each model's own weights; the sum gives every model its gradient."""
    sum(((w - 0.3) ** 2 * (1 + w.cos())).sum() for w in params).backward()


def train(seeds, cfg, steps, total_steps=20):
    params = make_params(seeds)
    opt = EnsembleOptimizer(params, cfg, seeds, total_steps)
    for _ in range(steps):
        opt.zero_grad()
        backward(params)
        opt.step()
    return params, opt


def run_transform(t, grads_seq, params):
    state, outs = t.init(params), []
    for g in grads_seq:
        out, state = t.update(g, state, params)
        outs.append(out)
    return outs


def one_tensor_grads(values):
    """A sequence of single-tensor gradient lists from per-step tensors."""
    return [[torch.as_tensor(v, dtype=torch.float32)] for v in values]


# ---- filters against closed forms -------------------------------------------------------------

def test_grokfast_ema_starts_from_zero():
    g1, g2 = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.5, 4.0]])
    a, lam = 0.9, 2.0
    out1, out2 = run_transform(grokfast_ema(a, lam), [[g1], [g2]], [torch.ones(1, 2)])
    mu1 = (1 - a) * g1                                  # mu_0 = 0, not g1
    mu2 = a * mu1 + (1 - a) * g2
    torch.testing.assert_close(out1[0], g1 + lam * mu1)
    torch.testing.assert_close(out2[0], g2 + lam * mu2)


def test_grokfast_ma_mean_with_warmup():
    gs = [torch.full((2, 3), float(k)) * torch.tensor([[1.0], [-1.0]]) for k in (1, 2, 3, 4)]
    outs = run_transform(grokfast_ma(window=3, lamb=5.0, filter="mean", warmup=True), [[g] for g in gs], [gs[0]])
    assert torch.equal(outs[0][0], gs[0]) and torch.equal(outs[1][0], gs[1])   # buffer not yet full
    torch.testing.assert_close(outs[2][0], gs[2] + 5.0 * (gs[0] + gs[1] + gs[2]) / 3)
    torch.testing.assert_close(outs[3][0], gs[3] + 5.0 * (gs[1] + gs[2] + gs[3]) / 3)   # g1 left the window


def test_grokfast_ma_sum_and_no_warmup():
    gs = [torch.tensor([[1.0, 2.0]]) * k for k in (1.0, -3.0, 0.5, 2.0)]
    outs = run_transform(grokfast_ma(window=3, lamb=0.5, filter="sum", warmup=False), [[g] for g in gs], [gs[0]])
    sums = [gs[0], gs[0] + gs[1], gs[0] + gs[1] + gs[2], gs[1] + gs[2] + gs[3]]
    for out, g, s in zip(outs, gs, sums):
        torch.testing.assert_close(out[0], g + 0.5 * s)
    # without warmup, "mean" averages the gradients stored so far
    outs = run_transform(grokfast_ma(window=3, lamb=0.5, filter="mean", warmup=False), [[g] for g in gs], [gs[0]])
    for out, g, s, n in zip(outs, gs, sums, (1, 2, 3, 3)):
        torch.testing.assert_close(out[0], g + 0.5 * s / n)


def test_orthograd_orthogonal_with_norm_of_g():
    w, g = stacked([1, 2, 3], "w"), stacked([1, 2, 3], "g")
    g[1][2] = 0.0                                       # model 2's (5,) gradient is zero: stays zero
    g[0][0] = -2.5 * w[0][0]                            # model 0's (4, 3) gradient is parallel to w
    (out,) = run_transform(orthograd(), [g], w)
    assert torch.equal(out[1][2], torch.zeros(5)) and torch.equal(out[0][0], torch.zeros(4, 3))
    # a one-element tensor per model: g is always parallel to w, nothing is left
    assert torch.equal(out[2], torch.zeros(3))
    g[0][0], g[1][2] = stacked([7], "g")[0][0], stacked([7], "g")[1][0]
    (out,) = run_transform(orthograd(), [g], w)
    for gi, wi, oi in zip(g[:2], w[:2], out[:2]):
        E = gi.shape[0]
        gi, wi, oi = gi.reshape(E, -1), wi.reshape(E, -1), oi.reshape(E, -1)
        torch.testing.assert_close((oi * wi).sum(1), torch.zeros(E), atol=1e-5, rtol=0)
        torch.testing.assert_close(oi.norm(dim=1), gi.norm(dim=1))
    # closed form: g = (1, 1), w = (1, 0) -> g_perp = (0, 1), rescaled to |g| = sqrt 2
    (out,) = run_transform(orthograd(), one_tensor_grads([[[1.0, 1.0]]]), [torch.tensor([[1.0, 0.0]])])
    torch.testing.assert_close(out[0], torch.tensor([[0.0, math.sqrt(2)]]))


def test_noise_schedule_and_draws_from_each_models_generator():
    seeds, scale, decay = [4, 9], 0.3, 0.55
    zeros = [torch.zeros((2, *s)) for s in SHAPES]
    outs = run_transform(gaussian_noise(scale, decay, seeds), [zeros] * 3, zeros)
    n = sum(math.prod(s) for s in SHAPES)
    gens = [generator(s, "noise") for s in seeds]
    for t, out in enumerate(outs):
        std = scale / (1 + t) ** decay
        rows = torch.stack([torch.randn(n, generator=g) * std for g in gens])     # (E, n): flat, params in order
        torch.testing.assert_close(torch.cat([o.reshape(2, -1) for o in out], 1), rows, rtol=0, atol=0)


def test_noise_deterministic_given_seeds():
    g = stacked([0, 1, 2], "g")
    a = run_transform(gaussian_noise(0.1, 0.5, [0, 1, 2]), [g], g)[0]
    b = run_transform(gaussian_noise(0.1, 0.5, [0, 1, 2]), [g], g)[0]
    c = run_transform(gaussian_noise(0.1, 0.5, [0, 1, 3]), [g], g)[0]
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert torch.equal(a[0][:2], c[0][:2]) and not torch.equal(a[0][2], c[0][2])
    assert all(torch.equal(x, y) for x, y in zip(g, stacked([0, 1, 2], "g")))   # input grads untouched
    with pytest.raises(ValueError, match="2 seeds for an ensemble of 3"):
        gaussian_noise(0.1, 0.5, [0, 1]).init(g)


def test_build_filters_with_schema_defaults():
    from conftest import tiny_cell
    cell = tiny_cell(training={"steps": 200}, optimizer={"filters": [{"kind": k} for k in ("grokfast_ema", "grokfast_ma", "orthograd", "noise")]})
    assert cell.optimizer.filters[1]["window"] == 100
    t = build_filters(cell.optimizer, [0, 1, 2])
    g = stacked([0, 1, 2], "g")
    out, state = t.update(g, t.init(g), g)
    assert len(out) == len(g) and len(state) == 4 and all(o.shape == x.shape for o, x in zip(out, g))


# ---- per-model independence ------------------------------------------------------------------

@pytest.mark.parametrize("opt", OPTIMIZERS)
@pytest.mark.parametrize("filters", FILTERS)
def test_changing_model_2_gradient_leaves_models_0_and_1(opt, filters):
    sched = ScheduleConfig(kind="cosine", warmup_steps=2, min_lr_ratio=0.1)
    cfg = opt_cfg(filters=FILTERS[filters], schedule=sched, **OPTIMIZERS[opt])
    runs = []
    for perturb in (False, True):
        params = make_params([0, 1, 2])
        opt_ = EnsembleOptimizer(params, cfg, [0, 1, 2], total_steps=10)
        for step in range(5):
            for p, g in zip(params, stacked([0, 1, 2], f"g{step}")):
                if perturb:
                    g[2] = g[2] * -3 + 1                # model 2 only
                p.grad = g
            opt_.step()
        runs.append([p.detach() for p in params])
    for a, b in zip(*runs):
        assert torch.equal(a[:2], b[:2])
    assert any(not torch.equal(a[2], b[2]) for a, b in zip(*runs))


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_model_trajectory_same_in_ensemble_and_alone(opt):
    # bitwise: single-rounding kernels only (a fused kernel rounds a vectorised body and a scalar
    # tail differently, and model 1's entries fall in other lanes at E = 3 than at E = 1)
    sched = ScheduleConfig(kind="cosine", warmup_steps=2, min_lr_ratio=0.1)
    cfg = opt_cfg(filters=FILTERS["all"], schedule=sched, **OPTIMIZERS[opt])
    together, _ = train([5, 6, 7], cfg, steps=6)
    alone, _ = train([6], cfg, steps=6)
    for t, a in zip(together, alone):
        assert torch.equal(t[1], a[0])
    assert not torch.equal(together[0][0], together[0][1])


TORCH = {"adamw": torch.optim.AdamW, "adam": torch.optim.Adam, "sgd": torch.optim.SGD}


def torch_reference(seed, cfg, steps, total_steps=20):
    """One model trained by torch's own optimizer (foreach off), with the same schedule."""
    params = make_params([seed])
    kw = (dict(momentum=cfg.momentum, nesterov=cfg.nesterov) if cfg.name == "sgd"
          else dict(betas=cfg.betas, eps=cfg.eps))
    base = TORCH[cfg.name](params, lr=cfg.lr, weight_decay=cfg.weight_decay, foreach=False, **kw)
    sched = torch.optim.lr_scheduler.LambdaLR(base, lr_lambda(cfg.schedule, total_steps))
    for _ in range(steps):
        base.zero_grad()
        backward(params)
        base.step()
        sched.step()
    return params


@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_each_model_follows_torch_with_its_own_hyperparameters(opt):
    """A pack of three models with different lr, weight decay, betas / momentum and schedules: each
    follows torch's optimizer with its own settings (to float32 rounding: torch's kernels fuse
    multiply-adds), and bitwise what it would alone."""
    from dataclasses import replace
    first = opt_cfg(**OPTIMIZERS[opt])
    cfgs = [first,
            replace(first, lr=0.02, schedule=ScheduleConfig(kind="cosine", warmup_steps=2, min_lr_ratio=0.1)),
            replace(first, weight_decay=0.5, betas=(0.8, 0.9), momentum=0.5 if first.name == "sgd" else 0.0)]
    seeds, steps = [0, 1, 2], 6
    params = make_params(seeds)
    pack = EnsembleOptimizer(params, cfgs, seeds, total_steps=20)
    for _ in range(steps):
        pack.zero_grad()
        backward(params)
        pack.step()
    for e, (seed, cfg) in enumerate(zip(seeds, cfgs)):
        ref = torch_reference(seed, cfg, steps)
        alone, _ = train([seed], cfg, steps)
        for p, r, a in zip(params, ref, alone):
            torch.testing.assert_close(p[e], r[0], rtol=2e-6, atol=2e-6)
            assert torch.equal(p[e], a[0])


def test_interventions_set_each_models_lr_and_decay():
    cfg = opt_cfg()
    seeds = [0, 1, 2]
    params = make_params(seeds)
    opt = EnsembleOptimizer(params, cfg, seeds, total_steps=20)
    opt.set_hyperparameters(torch.tensor([False, True, False]), lr=0.01, weight_decay=0.3)
    assert opt.current_lr().tolist() == [0.05, 0.01, 0.05]
    for _ in range(4):
        opt.zero_grad()
        backward(params)
        opt.step()
    from dataclasses import replace
    changed = replace(cfg, lr=0.01, weight_decay=0.3)
    alone, _ = train([1], changed, steps=4)
    assert all(torch.equal(p[1], a[0]) for p, a in zip(params, alone))


# ---- schedules -------------------------------------------------------------------------------

def test_warmup_is_linear_from_one_over_w():
    f = lr_lambda(ScheduleConfig(kind="constant", warmup_steps=4), total_steps=10)
    assert [f(s) for s in range(6)] == [0.25, 0.5, 0.75, 1.0, 1.0, 1.0]
    assert lr_lambda(ScheduleConfig(), 10)(0) == 1.0


def test_cosine_endpoints():
    f = lr_lambda(ScheduleConfig(kind="cosine", warmup_steps=2, min_lr_ratio=0.1), total_steps=12)
    assert f(1) == 1.0 and f(2) == 1.0
    assert f(7) == pytest.approx(0.55)                  # halfway: (1 + min) / 2
    assert f(12) == pytest.approx(0.1) and f(50) == pytest.approx(0.1)
    assert lr_lambda(ScheduleConfig(kind="cosine"), 10)(10) == pytest.approx(0.0, abs=1e-12)


def test_optimizer_uses_scheduled_lr():
    cfg = opt_cfg(schedule=ScheduleConfig(kind="cosine", warmup_steps=2, min_lr_ratio=0.1))
    f = lr_lambda(cfg.schedule, 6)
    params = make_params([0])
    opt = EnsembleOptimizer(params, cfg, [0], total_steps=6)
    for s in range(6):
        assert opt.current_lr()[0].item() == pytest.approx(cfg.lr * f(s))   # lr of step s
        backward(params)
        opt.step()
        opt.zero_grad()


# ---- checkpoint round trip -------------------------------------------------------------------

@pytest.mark.parametrize("opt", OPTIMIZERS)
def test_state_dict_round_trip_resumes_bitwise(opt):
    sched = ScheduleConfig(kind="cosine", warmup_steps=2, min_lr_ratio=0.1)
    cfg = opt_cfg(filters=FILTERS["all"], schedule=sched, **OPTIMIZERS[opt])
    seeds = [3, 4]
    straight, _ = train(seeds, cfg, steps=8)

    first, opt1 = train(seeds, cfg, steps=4)
    buf = io.BytesIO()
    torch.save({"params": [p.detach() for p in first], "opt": opt1.state_dict()}, buf)
    buf.seek(0)
    saved = torch.load(buf, weights_only=True)             # plain tensors/dicts/lists only
    params = [torch.nn.Parameter(t.clone()) for t in saved["params"]]
    opt2 = EnsembleOptimizer(params, cfg, seeds, total_steps=20)
    opt2.load_state_dict(saved["opt"])
    for _ in range(4):
        opt2.zero_grad()
        backward(params)
        opt2.step()
    assert all(torch.equal(a, b) for a, b in zip(straight, params))


# ---- losses ----------------------------------------------------------------------------------

def test_stablemax_against_float64_formula():
    logits = torch.tensor([[[2.0, -1.0, 0.0], [-3.0, 0.5, 1.5]],
                           [[0.0, 0.0, -0.5], [4.0, -2.0, -8.0]]])       # (E=2, B=2, C=3)
    y = torch.tensor([[0, 2], [2, 0]])
    x = logits.double()
    s = torch.where(x >= 0, x + 1, 1 / (1 - x))
    p = s / s.sum(-1, keepdim=True)
    expected = -torch.log(p.gather(-1, y[..., None])[..., 0]).mean(1)
    loss = per_model_loss(logits, y, kind="stablemax")
    assert loss.dtype == torch.float32
    torch.testing.assert_close(loss.double(), expected, rtol=1e-7, atol=0)
    # model 0 by hand: s(2, -1, 0) = (3, 1/2, 1), y = 0; s(-3, 0.5, 1.5) = (1/4, 3/2, 5/2), y = 2
    by_hand = (-math.log(3 / 4.5) - math.log(2.5 / 4.25)) / 2
    assert loss[0].item() == pytest.approx(by_hand, rel=1e-6)


def test_stablemax_gradient_finite_at_one():
    logits = torch.tensor([[[1.0, -1.0, 1.0]]], requires_grad=True)
    per_model_loss(logits, torch.tensor([0]), kind="stablemax").sum().backward()
    assert torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("shared_y", [True, False])
def test_cross_entropy_per_model(shared_y):
    g = generator(0, "ce")
    logits = torch.randn(3, 5, 7, generator=g)
    y = torch.randint(0, 7, (5,) if shared_y else (3, 5), generator=g)
    loss = per_model_loss(logits, y)
    for e in range(3):
        ye = y if shared_y else y[e]
        assert loss[e] == Fn.cross_entropy(logits[e], ye)
        assert torch.equal(per_example_loss(logits, y)[e], Fn.cross_entropy(logits[e], ye, reduction="none"))
    # the trainer's earlier implementation, number for number
    yy = y.expand(3, 5) if shared_y else y
    old = Fn.cross_entropy(logits.reshape(15, 7), yy.reshape(-1), reduction="none").view(3, 5).mean(1)
    assert torch.equal(loss, old)
    with pytest.raises(ValueError, match="training.loss"):
        per_model_loss(logits, y, kind="hinge")
