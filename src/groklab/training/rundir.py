"""Checks of finished run directories before any job: a truncated or foreign file, or a run
written by an older version of the code, is named with what to do instead of failing later
inside pyarrow or torch (or, worse, being read as if it were complete)."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

# Bump when what a run directory holds changes meaning; older directories are refused.
RESULTS_FORMAT = 2
PARQUET_MAGIC = b"PAR1"     # a Parquet file starts and ends with it; a truncated one does not end with it


def is_complete_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0, 2)
        if fh.tell() < 12:
            return False
        fh.seek(-4, 2)
        return head == PARQUET_MAGIC and fh.read(4) == PARQUET_MAGIC


def run_dir_problem(run_dir: str | Path, cell_hash: str) -> str | None:
    """One line naming the file and the fix, or None for a sound (or not yet finished) run."""
    run_dir = Path(run_dir)
    fix = (f"delete {run_dir} and rerun (Snakemake retrains the pack that cell trained in, `groklab packs` "
           "lists it, and what reads its runs)")
    if not (run_dir / "metrics.parquet").exists():
        return None
    for name in ("metrics.parquet", "observables.parquet"):
        path = run_dir / name
        if path.exists() and not is_complete_parquet(path):
            return f"{path}: truncated or not a Parquet file; {fix}"
    config = run_dir / "config.json"
    try:
        record = json.loads(config.read_text())
    except (OSError, ValueError):
        return f"{config}: missing or not valid JSON; {fix}"
    if record.get("hash") != cell_hash:
        return f"{config}: results of another cell config (hash {str(record.get('hash'))[:8]}, expected {cell_hash[:8]}); {fix}"
    if record.get("format") != RESULTS_FORMAT:
        return (f"{run_dir}: written by an older groklab (results format {record.get('format', 1)}, this code reads "
                f"{RESULTS_FORMAT}); {fix}")
    final = run_dir / "final.pt"
    # torch.save writes a zip archive; its central directory sits at the end, so damaged or cut
    # bytes fail this cheap check (nothing else reads final.pt before a user's notebook would)
    if final.exists() and not zipfile.is_zipfile(final):
        return f"{final}: damaged or truncated (not torch's zip format); {fix}"
    return None
