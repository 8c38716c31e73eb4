"""The data of the speedups figure (drawn by groklab.paper.plots.speedups)."""

from __future__ import annotations

import numpy as np
import pandas as pd


SPEEDUP_COLUMNS = ("speedup_grok_examples", "speedup_delay_examples")   # in examples of the operation seen


def compute(inputs) -> pd.DataFrame:
    """The variants with a speedup: (study, label, then per speedup column its value, _lo and _hi
    with a missing bound replaced by the value, so the error bar is zero on that side)."""
    table = pd.read_parquet(inputs.speedups)
    table = table[(table["role"] == "variant") & table[SPEEDUP_COLUMNS[0]].notna()]
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
