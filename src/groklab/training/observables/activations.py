"""Observables of activations on the probe examples: representations, attention, outputs."""

from __future__ import annotations

import torch

from groklab.training.observables.registry import gram_eigenvalues, observable, per_model_finite

REPR_ROWS = 512   # examples used for covariance spectra (a fixed prefix of the probe set)


def _representations(probe) -> dict[str, torch.Tensor]:
    """Final residual stream at = and the last MLP's hidden activations, each (E, B, width)."""
    c, out = probe.cache, {}
    posts = sorted(k for k in c if k.endswith("hook_resid_post"))
    if posts:
        out["resid_final"] = c[posts[-1]][-1]                          # (Tq, E, B, d) -> (E, B, d)
    mlps = sorted(k for k in c if k.endswith("mlp.hook_post"))
    if mlps:
        h = c[mlps[-1]]
        out["mlp_hidden"] = h[-1] if h.dim() == 4 else h
    return out


def _spectrum(a: torch.Tensor) -> torch.Tensor:
    """Eigenvalues of the activation covariance, (E, width), from at most REPR_ROWS examples."""
    a = a[:, :REPR_ROWS].double()
    a = a - a.mean(1, keepdim=True)
    return per_model_finite(gram_eigenvalues, a) / a.shape[1]          # squared singular values / n


def _site_spectrum(probe, site: str, a: torch.Tensor) -> torch.Tensor:
    """_spectrum of one site, once per observation (participation ratio and effective rank share it)."""
    memo = probe.__dict__.setdefault("_spectra", {})
    if site not in memo:
        memo[site] = _spectrum(a)
    return memo[site]


@observable("representations.participation_ratio", "(sum lambda)^2 / sum lambda^2 of the activation covariance",
            cost="expensive", sites="matrix")
def participation_ratio(probe):
    out = {}
    for site, a in _representations(probe).items():
        lam = _site_spectrum(probe, site, a)
        out[site] = (lam.sum(1) ** 2 / (lam**2).sum(1).clamp_min(1e-300)).float()
    return out


@observable("representations.effective_rank", "exp(entropy of the normalised singular values) of the activations",
            cost="expensive", sites="matrix")
def effective_rank(probe):
    out = {}
    for site, a in _representations(probe).items():
        s = _site_spectrum(probe, site, a).clamp_min(0).sqrt()
        q = s / s.sum(1, keepdim=True).clamp_min(1e-300)
        out[site] = torch.exp(-(q * q.clamp_min(1e-300).log()).sum(1)).float()
    return out


def _active_counts(probe) -> torch.Tensor:
    """(E, d_mlp) int64: probe examples on which each last-MLP neuron is > 0; one pass over the
    (E, B, d_mlp) activations per observation (sparsity and dead neurons share it)."""
    if "_active" not in probe.__dict__:
        probe._active = (_representations(probe)["mlp_hidden"] > 0).sum(1)
    return probe._active


@observable("representations.activation_sparsity", "fraction of MLP hidden activations <= 0")
def activation_sparsity(probe):
    h = _representations(probe)["mlp_hidden"]
    # "<= 0" read as "not > 0": they differ only at NaN entries, which only a diverged model has
    return {"": 1 - _active_counts(probe).sum(1).double() / (h.shape[1] * h.shape[2])}


@observable("representations.dead_neurons", "fraction of MLP neurons never active on the probe set")
def dead_neurons(probe):
    return {"": (_active_counts(probe) == 0).float().mean(1)}


def _last_query_patterns(probe):
    """{layer: (E, B, H, T)} attention of the = query."""
    return {int(k.split(".")[1]): v[..., -1, :] for k, v in probe.cache.items() if k.endswith("attn.hook_pattern")}


@observable("attention.entropy", "entropy (nats) of the = query's attention, mean over examples", sites="head")
def attention_entropy(probe):
    out = {}
    for l, p in _last_query_patterns(probe).items():
        ent = -(p * p.clamp_min(1e-30).log()).sum(-1).mean(1)          # (E, H)
        out |= {f"L{l}.H{h}": ent[:, h] for h in range(ent.shape[1])}
    return out


@observable("attention.position_mass", "attention mass of the = query on each input position (mean over heads)",
            sites="position")
def attention_mass(probe):
    out = {}
    for l, p in _last_query_patterns(probe).items():
        mass = p.mean((1, 2))                                           # (E, T)
        out |= {f"L{l}.P{t}": mass[:, t] for t in range(mass.shape[1])}
    return out


def _correct_and_rest(probe):
    logits, y = probe.logits, probe.y
    correct = logits.gather(2, y.view(1, -1, 1).expand(logits.shape[0], -1, 1)).squeeze(2)   # (E, B)
    rest = logits.scatter(2, y.view(1, -1, 1).expand(logits.shape[0], -1, 1), float("-inf"))
    return correct, rest


@observable("outputs.logit_norm", "L2 norm of the logit vector, mean over examples")
def logit_norm(probe):
    return {"": probe.logits.norm(dim=2).mean(1)}


@observable("outputs.margin", "correct logit minus the largest other logit, mean over examples")
def margin(probe):
    correct, rest = _correct_and_rest(probe)
    return {"": (correct - rest.max(2).values).mean(1)}


@observable("outputs.zero_loss_fraction", "fraction of examples whose float32 cross-entropy is exactly 0")
def zero_loss(probe):
    lp = torch.log_softmax(probe.logits.float(), dim=2)
    correct = lp.gather(2, probe.y.view(1, -1, 1).expand(lp.shape[0], -1, 1)).squeeze(2)
    return {"": (correct == 0).float().mean(1)}


@observable("outputs.softmax_collapse", "fraction of examples whose float32 softmax gives the correct class "
            "probability exactly 1 (gradient vanishes; Prieto et al. 2025)")
def softmax_collapse(probe):
    p = torch.softmax(probe.logits.float(), dim=2)
    correct = p.gather(2, probe.y.view(1, -1, 1).expand(p.shape[0], -1, 1)).squeeze(2)
    return {"": (correct == 1.0).float().mean(1)}
