"""docs/observables.md, generated from the registry (a test fails when the file is stale)."""

from __future__ import annotations

from groklab.training.observables.registry import GROUPS, REGISTRY

SITES = {
    "matrix": "per weight matrix (or activation site); each counts as a distinct observable",
    "head": "per attention head (instances of one observable)",
    "position": "per input position (instances of one observable)",
    "irrep": "per irreducible representation of S5 (instances of one observable)",
    "global": "one value per model",
}


def default_counts() -> tuple[int, int, int]:
    """(definitions, distinct observables, columns) for the default 1-layer transformer (p = 23 is
    enough: the count depends on the architecture, not on p)."""
    from groklab.config.cells import CellConfig
    from groklab.training.data import make_split
    from groklab.training.models import build_model
    from groklab.training.optimizer import EnsembleOptimizer
    from groklab.training.observables import observe
    from groklab.training.observables.probe import make_probe
    from groklab.training.observables.registry import distinct_count

    cell = CellConfig.from_dict({"task": {"p": 23}})
    split, model = make_split(cell.task), build_model(cell, [0])
    opt = EnsembleOptimizer(list(model.parameters()), cell.optimizer, [0], cell.total_steps)
    init = {n: w.detach().clone() for n, w in model.named_weights()}
    columns = list(observe(make_probe(model, opt, cell, 0, split.train_x, split.train_y, init, None, None), True))
    return (*distinct_count(columns), len(columns))


def render() -> str:
    definitions, distinct, columns = default_counts()
    lines = [
        "# Observables",
        "",
        "Generated from `src/groklab/training/observables` by `groklab observables-doc`; do not edit by hand.",
        "",
        "Every observable is computed per model of the ensemble at each evaluation (`cheap`) or",
        "at every `training.observables.expensive_every`-th evaluation (`expensive`), from the",
        "live model, the optimizer state, a fresh gradient on the training set and the hook",
        "activations; observing never changes training. `results/runs/<cell>/observables.parquet`",
        "has one row per (seed, step) and a column per observable and site: `name` or",
        "`name[site]`, e.g. `weights.spectral_norm[blocks.0.W_in]`. The Fourier measures of a cell",
        "with several operations are per operation, `name/<op>` (e.g. `fourier.key_fraction/div`),",
        "like the per-operation metrics.",
        "",
        f"{definitions} definitions. Sites: " + "; ".join(f"`{k}` {v}" for k, v in SITES.items()) + ".",
        f"For the default 1-layer transformer this is **{distinct} distinct observables** ({columns} columns):",
        "the 9 weight matrices W_E, W_pos, W_Q, W_K, W_V, W_O, W_in, W_out, W_U count once",
        "each per per-matrix statistic; heads and positions count once per definition.",
        "",
    ]
    for group in GROUPS:
        obs = [o for o in REGISTRY.values() if o.group == group]
        lines += [f"## {group}", "", "| name | definition | unit | cost | sites |", "|---|---|---|---|---|"]
        lines += [f"| `{o.name}` | {o.definition.replace('|', '&#124;')} | {o.unit or '–'} | {o.cost} | {o.sites} |"
                  for o in obs]
        lines.append("")
        if group == "fourier":
            lines += basis_section()
    return "\n".join(lines)


def basis_section() -> list[str]:
    """How the fourier group's measures read each operation: its basis, key groups, residue 0."""
    from groklab.training.observables.bases import NO_BASIS
    from groklab.training.observables.fourier import N_KEY

    lines = [
        "### Each operation's basis",
        "",
        "The fourier measures (Nanda et al. 2023) are computed in the basis of the operation's own group",
        "(`groklab.training.observables.bases`); a *group* of basis rows is one frequency (its cos and sin)",
        "or one irreducible representation (its d^2 entries). The constant (frequency 0, the trivial irrep)",
        "is never a key group and is left out of every norm, Gini and key fraction.",
        "",
        "| operations | group | basis over the tokens | the answer depends on | key groups per model |",
        "|---|---|---|---|---|",
        f"| add, sub | Z_p | cos/sin(2 pi k x / p), k = 0..(p-1)/2 | a + b, a - b | top {N_KEY['Z_p']} frequencies |",
        "| mul, div | Z_p^* (order p - 1) | cos/sin(2 pi k log_g x / (p - 1)) over x != 0, g the smallest primitive "
        f"root; the indicator of 0 | g^(log a + log b), g^(log a - log b) | top {N_KEY['Z_p^*']} frequencies |",
        "| s5 | S5 | entries of the 7 irreps (dims 1, 1, 4, 4, 5, 5, 6) in Young's orthogonal form, "
        f"sqrt(d/120) rho(g)_ij | a o b | top {N_KEY['S5']} of the 6 non-trivial irreps |",
        "",
        "**The residue 0 (mul, div).** 0 is outside Z_p^*: it has its own basis vector, the indicator of",
        "0, which is never a key group. The pairs whose answer is 0 (mul: a = 0 or b = 0, 2p - 1 pairs; div:",
        "a = 0, p - 1 pairs) are answered by a lookup, not by the group circuit, so the restricted logits",
        "always keep the direction of those pairs (like the constant) and the excluded logits never remove",
        "it; both losses are over all pairs (restricted) or all training pairs (excluded) including these.",
        "The neuron key fraction is taken over the pairs inside the group (a, b != 0): the character vectors",
        "vanish at 0, so the zero pairs' variance could not be in the key groups whatever the circuit.",
        "Embedding and unembedding Gini, key fraction and top frequency ignore the zero vector's power.",
        "",
        "**Operations without a basis** give NaN for every fourier measure:",
        "",
    ]
    lines += [f"- `{op}`: {why}." for op, why in NO_BASIS.items()]
    lines += ["- `mul`, `div` at a non-prime p: Z_p^* plus 0 is no group (nonzero non-units); `groklab cells` refuses "
              "such cells anyway.", ""]
    return lines
