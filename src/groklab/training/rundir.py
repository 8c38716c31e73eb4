"""Checks of finished run directories before any job: a truncated, damaged or foreign file, or a
run written by an older version of the code, is named with what to do instead of failing later
inside pyarrow or torch (or, worse, being read as if it were complete).

config.json records the SHA-256, size and mtime of each run file (`files`) when the run is
written. The pre-flight check compares sizes, and hashes a file in full only where its size or
mtime changed (a copied results tree is rehashed on each check, never refused for it);
`groklab audit --all` hashes every file."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

from groklab import io

# Bump when what a run directory holds changes meaning; older directories are refused.
RESULTS_FORMAT = 2
PARQUET_MAGIC = b"PAR1"     # a Parquet file starts and ends with it; a truncated one does not end with it
CHECKSUMMED = ("final.pt", "metrics.parquet", "observables.parquet")
GENERIC_RERUN = ("Snakemake retrains the pack that cell trained in, `groklab packs` lists it, and what reads "
                 "its runs")


def is_complete_parquet(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(4)
        fh.seek(0, 2)
        if fh.tell() < 12:
            return False
        fh.seek(-4, 2)
        return head == PARQUET_MAGIC and fh.read(4) == PARQUET_MAGIC


def file_records(run_dir: str | Path) -> dict[str, dict]:
    """config.json's `files`: SHA-256, size and mtime (ns) of each checksummed run file."""
    out = {}
    for name in CHECKSUMMED:
        path = Path(run_dir) / name
        stat = path.stat()
        out[name] = {"sha256": io.sha256_file(path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}
    return out


def checksum_problem(run_dir: str | Path, files: dict[str, dict], full: bool = False) -> str | None:
    """The first run file that differs from its record (without the fix), or None. Cheap by
    default: a file is hashed only where its size matches and its mtime changed; full: every file."""
    for name, want in files.items():
        path = Path(run_dir) / name
        try:
            stat = path.stat()
        except FileNotFoundError:
            return f"{path}: missing (config.json records it)"
        if stat.st_size != want["size"]:
            return f"{path}: damaged or truncated ({stat.st_size} bytes, {want['size']} when it was written)"
        if (full or stat.st_mtime_ns != want["mtime_ns"]) and io.sha256_file(path) != want["sha256"]:
            return f"{path}: damaged or changed since training (its SHA-256 differs from the one in config.json)"
    return None


def run_dir_problem(run_dir: str | Path, cell_hash: str, rerun: str = GENERIC_RERUN,
                    full: bool = False) -> str | None:
    """One line naming the file and the fix, or None for a sound (or not yet finished) run.
    rerun: what Snakemake retrains once the directory is deleted (the workflow lists the packs)."""
    run_dir = Path(run_dir)
    fix = f"delete {run_dir} and rerun ({rerun})"
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
    if "files" in record and (problem := checksum_problem(run_dir, record["files"], full)):
        return f"{problem}; {fix}"
    final = run_dir / "final.pt"
    # runs written before checksums: torch.save writes a zip archive whose central directory sits
    # at the end, so damaged or cut bytes fail this cheap check
    if final.exists() and not zipfile.is_zipfile(final):
        return f"{final}: damaged or truncated (not torch's zip format); {fix}"
    return None


RUN_STATUSES = ("done", "partial", "missing", "damaged")   # what run_status says, in `groklab cells`' order


def run_status(run_dir: str | Path, cell_hash: str, rerun: str = GENERIC_RERUN) -> tuple[str, str | None]:
    """(status, problem) of one cell's run directory: done (finished and sound), damaged (with the
    line run_dir_problem names), partial (an interrupted job's checkpoints under .partial, which the
    next run resumes) or missing."""
    run_dir = Path(run_dir)
    if (run_dir / "metrics.parquet").exists():
        problem = run_dir_problem(run_dir, cell_hash, rerun)
        return ("damaged", problem) if problem else ("done", None)
    partial = run_dir / ".partial"
    return ("partial" if partial.is_dir() and any(partial.iterdir()) else "missing"), None
