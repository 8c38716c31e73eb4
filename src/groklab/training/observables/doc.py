"""docs/observables.md, generated from the registry (a test fails when the file is stale)."""

from __future__ import annotations

from groklab.training.observables.registry import GROUPS, REGISTRY

SITES = {
    "matrix": "per weight matrix (or activation site); each counts as a distinct observable",
    "head": "per attention head (instances of one observable)",
    "position": "per input position (instances of one observable)",
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
        "`name[site]`, e.g. `weights.spectral_norm[blocks.0.W_in]`.",
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
    return "\n".join(lines)
