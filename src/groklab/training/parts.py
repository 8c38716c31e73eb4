"""The Parquet parts of one ensemble's metrics and observables, written as training goes.

Rows gather in memory between checkpoints and are flushed as the next numbered part
(metrics-NNNNN.parquet, observables-NNNNN.parquet), so they never pile up in memory. A
checkpoint records how many parts it covers (n_parts); on resume the parts written after it
are dropped, so every row is written exactly once.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from groklab import io

KINDS = ("metrics", "observables")


class Parts:
    def __init__(self, directory: Path):
        self.dir, self.n_parts = directory, 0
        self.rows: dict[str, list[dict]] = {kind: [] for kind in KINDS}   # kind -> rows since the last flush

    def add(self, kind: str, rows: list[dict]) -> None:
        self.rows[kind] += rows

    def flush(self) -> None:
        """Write the gathered rows as part n_parts (observables only alongside metrics: both come
        from the same evals)."""
        if not self.rows["metrics"]:
            return
        for kind in KINDS:
            if self.rows[kind]:
                io.write_parquet(self.dir / f"{kind}-{self.n_parts:05d}.parquet", pd.DataFrame(self.rows[kind]))
        self.n_parts += 1
        self.rows = {kind: [] for kind in KINDS}

    def drop_unrecorded(self) -> None:
        """Delete the parts numbered n_parts or later: written after the checkpoint resumed from."""
        for kind in KINDS:
            for part in self.dir.glob(f"{kind}-*.parquet"):
                if int(part.stem.split("-")[1]) >= self.n_parts:
                    part.unlink()

    def table(self, kind: str) -> pd.DataFrame:
        """All flushed parts of `kind` as one frame."""
        parts = sorted(self.dir.glob(f"{kind}-*.parquet"))
        return pd.concat([pd.read_parquet(p) for p in parts], ignore_index=True) if parts else pd.DataFrame()
