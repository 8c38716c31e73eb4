"""The leading observables run by run: for the top-ranked observables (results/mechanics/
leadlag.parquet), each grokked run is a row sorted by its steps-to-grok, coloured by the
observable (z-scored within the run) against training step, with the run's grok step marked."""

from __future__ import annotations

import numpy as np
import pandas as pd

from groklab.analysis.collect import grokked_events, observable_definitions
from groklab.analysis.mechanics import ALL
from groklab.paper.plots import style

TOP = 4
BINS = 60


def _panel(ax, obs: pd.DataFrame, events: pd.DataFrame, col: str, edges: np.ndarray) -> None:
    centres = (edges[:-1] + edges[1:]) / 2
    image = np.full((len(events), len(centres)), np.nan)       # (runs, time bins)
    for i, ev in enumerate(events.itertuples()):
        run = obs[(obs["cell"] == ev.cell) & (obs["seed"] == ev.seed)][["step", col]].dropna()
        if len(run) < 2 or run[col].std() == 0:
            continue
        z = ((run[col] - run[col].mean()) / run[col].std()).to_numpy()
        # interpolated between evals; blank beyond the run's last eval (it stopped early)
        image[i] = np.interp(centres, run["step"], z, left=np.nan, right=np.nan)
    ax.imshow(image, aspect="auto", cmap="coolwarm", vmin=-2, vmax=2, origin="lower",
              extent=(edges[0], edges[-1], -0.5, len(events) - 0.5), interpolation="nearest")
    ax.plot(events["grok_step"], np.arange(len(events)), "k|", ms=4)
    ax.set_title(col, fontsize=7)
    ax.set_xlabel("step")


def render(inputs, out_pdf: str, cells: dict[str, str]) -> None:
    ranking = pd.read_parquet(inputs.leadlag)
    top = ranking[ranking["study"] == ALL]["observable"].head(TOP).tolist()
    obs = observable_definitions(inputs.observables, cells)
    events = grokked_events(pd.read_parquet(inputs.runs), list(cells.values())).sort_values("grok_step")
    fig, axes = style.grid(max(len(top), 1), max_cols=4, row_height=0.3)
    if not top or events.empty:
        style.empty_note(axes[0], "no grokked run: no lead-lag ranking")
    else:
        edges = np.linspace(0, min(obs["step"].max(), 2 * events["grok_step"].max()), BINS + 1)
        for ax, col in zip(axes, top):
            _panel(ax, obs, events.reset_index(drop=True), col, edges)
        axes[0].set_ylabel("runs, sorted by steps to grok")
    style.save(fig, out_pdf)
