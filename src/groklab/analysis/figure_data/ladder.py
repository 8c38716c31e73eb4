"""The data of the delay-ladder figure (drawn by groklab.paper.plots.ladder): per claim with a factor
that the matrix measures, each rung's point, the trend's line and band from the shortest used delay
to the target delay (groklab.analysis.ladder.Trend.at, from the trend table's row), the seed's
factor at the target delay, and a note where there is no trend."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from groklab.analysis.ladder import trend_of

ONE_RUNG = "one rung: run config/delay-ladder.yaml for a trend"
COLUMNS = ["claim", "kind", "rung", "delay", "value", "lo", "hi", "used", "text"]   # kind: point, fit, seed, note
FIT_POINTS = 60


def _row(claim, kind, rung="", delay=math.nan, value=math.nan, lo=math.nan, hi=math.nan, used=False, text=""):
    return (claim, kind, rung, float(delay), float(value), float(lo), float(hi), bool(used), text)


def compute(inputs) -> pd.DataFrame:
    ladder, trends = pd.read_parquet(inputs.ladder), pd.read_parquet(inputs.ladder_trend)
    rows = []
    for t in trends.to_dict("records"):
        if not (t["measured"] and math.isfinite(t["claimed"])):
            continue
        claim, rungs = t["claim"], ladder[ladder["claim"] == t["claim"]]
        points = rungs[np.isfinite(rungs["ratio"].to_numpy(float)) & np.isfinite(rungs["baseline_delay"].to_numpy(float))]
        for p in points.to_dict("records"):
            lo, hi = (p[k] if math.isfinite(p[k]) else p["ratio"] for k in ("ratio_lo", "ratio_hi"))
            rows.append(_row(claim, "point", p["rung"], p["baseline_delay"], p["ratio"], lo, hi, p["used"]))
        trend = trend_of(t)
        if math.isfinite(trend.slope):
            start = points.loc[points["used"], "baseline_delay"].min()
            grid = np.geomspace(min(start, trend.target_delay), max(start, trend.target_delay), FIT_POINTS)
            rows += [_row(claim, "fit", "", d, v, lo, hi) for d, v, lo, hi in zip(grid, *trend.at(grid))]
        else:
            rows.append(_row(claim, "note", text=ONE_RUNG if len(rungs) == 1 else t["consistent"]))
        rows.append(_row(claim, "seed", "", trend.target_delay, t["claimed"]))
    return pd.DataFrame(rows, columns=COLUMNS)
