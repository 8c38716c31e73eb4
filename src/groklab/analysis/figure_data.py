"""The compute half of every figure: read the result files a figure needs (groklab.paper.figures:
FIGURES[...].inputs) and return the plotted data as one table. The workflow writes it next to the
figure as results/figures/<pdf stem>.parquet and groklab.paper.plots.<module>.draw draws it.

One function per plotting module, named like it; `inputs` has the figure's files as attributes
(a Snakemake input list or a SimpleNamespace: metrics/observables are lists of per-cell files,
the others one path). Every table is long and plain (numbers and strings, one type per column),
so it round-trips through Parquet unchanged."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from groklab.analysis.collect import cell_frames, grok_steps, grokked_events, observable_definitions
from groklab.analysis.leadlag import progress_table
from groklab.analysis.mechanics import ALL
from groklab.analysis.phases import locate_phases
from groklab.analysis.speedup import censor

ACCURACY_CURVES = ("train_acc", "test_acc")
TRAJECTORY_BINS = np.linspace(-0.5, 2.0, 51)
LEAD_HEATMAP_BINS = np.linspace(0.0, 1.5, 31)
LEADLAG_TOP = 4          # observables drawn
LEADLAG_BINS = 60        # time bins per run
PROGRESS_COLUMNS = ("train_loss", "test_loss", "fourier.restricted_loss", "fourier.excluded_loss", "weights.sum_sq",
                    "fourier.embed_gini")
SPEEDUP_COLUMNS = ("speedup_grok_pct", "speedup_delay")


def _frame(rows: list[tuple], columns: list[str]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns)


def accuracy(inputs, cells: dict[str, str]) -> pd.DataFrame:
    """(cell, kind, curve, seed, step, value): kind "seed" one row per eval of each seed, "mean"
    the mean over seeds (seed NaN), "grok" each seed's grok step (curve "grok_step", value NaN)."""
    runs = pd.read_parquet(inputs.runs)
    rows = []
    for cell, m in cell_frames(inputs.metrics, cells).items():
        for col in ACCURACY_CURVES:
            rows += [(cell, "seed", col, float(s), float(t), float(v)) for s, t, v in zip(m["seed"], m["step"], m[col])]
            mean = m.groupby("step")[col].mean()
            rows += [(cell, "mean", col, math.nan, float(t), float(v)) for t, v in mean.items()]
        rows += [(cell, "grok", "grok_step", float(s), float(g), math.nan) for s, g in grok_steps(runs, cell).dropna().items()]
    return _frame(rows, ["cell", "kind", "curve", "seed", "step", "value"])


def hmm_map(inputs) -> pd.DataFrame:
    """(kind, source, target, value): kind "state" one row per state (source = state, value =
    occupancy), "edge" one row per transition that occurs (value = probability)."""
    m = json.load(open(inputs.map))
    rows = [("state", k, -1, float(m["states"][k]["occupancy"])) for k in range(m["K"])]
    rows += [("edge", int(e["source"]), int(e["target"]), float(e["probability"])) for e in m["edges"]]
    return _frame(rows, ["kind", "source", "target", "value"])


def hmm_selection(inputs) -> pd.DataFrame:
    """The model-selection curve (K, bic, aic, heldout_ll_per_obs) with the chosen K (chosen_k)."""
    sel = pd.read_parquet(inputs.selection)
    chosen_k = json.load(open(inputs.map))["K"]
    return sel[["K", "bic", "aic", "heldout_ll_per_obs"]].assign(chosen_k=chosen_k).reset_index(drop=True)


def speedups(inputs) -> pd.DataFrame:
    """The variants with a speedup: (study, label, then per speedup column its value, _lo and _hi
    with a missing bound replaced by the value, so the error bar is zero on that side)."""
    table = pd.read_parquet(inputs.speedups)
    table = table[(table["role"] == "variant") & table["speedup_grok_pct"].notna()]
    out = []
    for study in dict.fromkeys(table["study"]):
        rows = table[table["study"] == study]
        labels = [f"{c}\n({o})" if (rows["cell"] == c).sum() > 1 else c for c, o in zip(rows["cell"], rows["operation"])]
        frame = pd.DataFrame({"study": study, "label": labels})
        for col in SPEEDUP_COLUMNS:
            val = rows[col].to_numpy(float)
            frame[col] = val
            frame[f"{col}_lo"] = np.where(np.isnan(rows[f"{col}_lo"].to_numpy(float)), val, rows[f"{col}_lo"].to_numpy(float))
            frame[f"{col}_hi"] = np.where(np.isnan(rows[f"{col}_hi"].to_numpy(float)), val, rows[f"{col}_hi"].to_numpy(float))
        out.append(frame)
    columns = ["study", "label", *(f"{c}{s}" for c in SPEEDUP_COLUMNS for s in ("", "_lo", "_hi"))]
    return pd.concat(out, ignore_index=True)[columns] if out else pd.DataFrame(columns=columns)


def progress(inputs, seed: int, thresholds: dict) -> pd.DataFrame:
    """One seed of the progress cell: (kind, name, step, value); kind "curve" the progress measures
    (name = column, NaNs dropped), "phase" the step each phase ends (name = phase, step NaN if not reached)."""
    m, obs = pd.read_parquet(inputs.metrics[0]), pd.read_parquet(inputs.observables[0])
    m, obs = m[m.seed == seed].sort_values("step"), obs[obs.seed == seed].sort_values("step")
    data = m.merge(obs, on=["seed", "step"], how="outer").sort_values("step")
    rows = [("phase", key, float(end), math.nan) for key, end in locate_phases(m, obs, thresholds).items()]
    for col in PROGRESS_COLUMNS:
        if col in data:
            s = data[["step", col]].dropna()
            rows += [("curve", col, float(t), float(v)) for t, v in zip(s["step"], s[col])]
    return _frame(rows, ["kind", "name", "step", "value"])


def per_operation(inputs, cells: dict[str, str]) -> pd.DataFrame:
    """(cell, operation, kind, step, value): kind "mean" the test accuracy per operation (mean over
    seeds), "grok" the operation's mean grok step (step; value NaN), absent if no seed grokked."""
    runs = pd.read_parquet(inputs.runs)
    rows = []
    for cell, m in cell_frames(inputs.metrics, cells).items():
        for op in [c.split("/", 1)[1] for c in m.columns if c.startswith("test_acc/")]:
            mean = m.groupby("step")[f"test_acc/{op}"].mean()
            rows += [(cell, op, "mean", float(t), float(v)) for t, v in mean.items()]
            grok = runs[(runs["cell"] == cell) & (runs["operation"] == op)]["grok_step"].mean()
            if pd.notna(grok):
                rows.append((cell, op, "grok", float(grok), math.nan))
    return _frame(rows, ["cell", "operation", "kind", "step", "value"])


def trajectories(inputs, cells: dict[str, str], observables: list[str]) -> pd.DataFrame:
    """(observable, kind, cell, seed, bin, progress): kind "panel" one row per drawn observable
    (the ones recorded), "run" each grokked run's normalised progress per bin, "median" the median."""
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values()))
    cols = [c for c in observables if c in obs.columns]
    table = progress_table(obs, events, cols, TRAJECTORY_BINS)
    parts = [pd.DataFrame({"observable": cols, "kind": "panel", "cell": "", "seed": math.nan, "bin": math.nan,
                           "progress": math.nan})]
    if not table.empty:
        parts.append(table.assign(kind="run", seed=table["seed"].astype(float))[
            ["observable", "kind", "cell", "seed", "bin", "progress"]])
        med = table.groupby(["observable", "bin"], sort=False)["progress"].median().reset_index()
        parts.append(med.assign(kind="median", cell="", seed=math.nan))
    out = pd.concat(parts, ignore_index=True)[["observable", "kind", "cell", "seed", "bin", "progress"]]
    return out.astype({"observable": str, "kind": str, "cell": str, "seed": float, "bin": float, "progress": float})


def lead_heatmap(inputs, cells: dict[str, str], max_rows: int = 40) -> pd.DataFrame:
    """(observable, rank, bin, progress): the median normalised progress per bin of the `max_rows`
    observables that change first (rank 0 = smallest median half time). Empty: no grokked run."""
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values()))
    cols = [c for c in obs.columns if c not in ("cell", "seed", "step")]
    table = progress_table(obs, events, cols, LEAD_HEATMAP_BINS)
    if table.empty:
        return pd.DataFrame({"observable": pd.Series(dtype=str), "rank": pd.Series(dtype=int),
                             "bin": pd.Series(dtype=float), "progress": pd.Series(dtype=float)})
    order = table.groupby("observable")["half_time"].median().sort_values().index[:max_rows]
    heat = table.groupby(["observable", "bin"])["progress"].median().reset_index()
    rank = {name: i for i, name in enumerate(order)}
    heat = heat[heat["observable"].isin(rank)].assign(rank=lambda d: d["observable"].map(rank))
    return heat.sort_values(["rank", "bin"])[["observable", "rank", "bin", "progress"]].reset_index(drop=True)


def leadlag_runs(inputs, cells: dict[str, str]) -> pd.DataFrame:
    """The top lead-lag observables run by run: (kind, observable, row, x, value); kind "panel" one
    row per observable drawn, "edge" the time-bin edges (x), "grok" each grokked run's row (sorted
    by grok step) and grok step (x), "z" the observable z-scored within the run at each bin centre
    (NaN beyond the run's last eval or where it is constant). Without a grokked run only the panels."""
    ranking = pd.read_parquet(inputs.leadlag)
    top = ranking[ranking["study"] == ALL]["observable"].head(LEADLAG_TOP).tolist()
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values())).sort_values("grok_step")
    events = events.reset_index(drop=True)
    rows = [("panel", col, -1, math.nan, math.nan) for col in top]
    if top and not events.empty:
        edges = np.linspace(0, min(obs["step"].max(), 2 * events["grok_step"].max()), LEADLAG_BINS + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        rows += [("edge", "", -1, float(e), math.nan) for e in edges]
        rows += [("grok", "", i, float(g), math.nan) for i, g in enumerate(events["grok_step"])]
        for col in top:
            for i, ev in enumerate(events.itertuples()):
                run = obs[(obs["cell"] == ev.cell) & (obs["seed"] == ev.seed)][["step", col]].dropna()
                z = np.full(len(centres), np.nan)
                if len(run) >= 2 and run[col].std() != 0:
                    zs = ((run[col] - run[col].mean()) / run[col].std()).to_numpy()
                    # interpolated between evals; blank beyond the run's last eval (it stopped early)
                    z = np.interp(centres, run["step"], zs, left=np.nan, right=np.nan)
                rows += [("z", col, i, float(x), float(v)) for x, v in zip(centres, z)]
    return _frame(rows, ["kind", "observable", "row", "x", "value"])


def phase_diagram(inputs, axes: dict, labels: dict[str, dict[str, str]]) -> pd.DataFrame:
    """Per cell: (cell, grok, grokked, x, y, facet): mean steps to grok over seeds with never-grokked
    seeds censored at the budget, whether any seed grokked, and the cell's value label on each axis
    of paper.phase_diagram (`labels`: cell name -> Cell.labels; facet "" without a facet axis)."""
    runs = censor(pd.read_parquet(inputs.runs))
    per_cell = runs.groupby("cell").agg(grok=("grok_step_c", "mean"), grokked=("grokked", "any")).reset_index()
    for key in ("x", "y", "facet"):
        axis = axes.get(key)
        per_cell[key] = per_cell["cell"].map(lambda c: labels[c][axis]) if axis else ""
    per_cell["grokked"] = per_cell["grokked"].astype(bool)
    return per_cell[["cell", "grok", "grokked", "x", "y", "facet"]]
