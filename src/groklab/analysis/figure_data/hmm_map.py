"""The data of the hmm-map figure (drawn by groklab.paper.plots.hmm_map)."""

from __future__ import annotations

import json

import pandas as pd

from groklab.analysis.figure_data import frame


def compute(inputs) -> pd.DataFrame:
    """(kind, source, target, value): kind "state" one row per state (source = state, value =
    occupancy), "edge" one row per transition that occurs (value = probability)."""
    m = json.load(open(inputs.map))
    rows = [("state", k, -1, float(m["states"][k]["occupancy"])) for k in range(m["K"])]
    rows += [("edge", int(e["source"]), int(e["target"]), float(e["probability"])) for e in m["edges"]]
    return frame(rows, ["kind", "source", "target", "value"])
