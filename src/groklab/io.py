"""Atomic file output: write to a temporary file in the same directory, fsync, then rename.

A job killed at any instant leaves either the old complete file or the new complete
file, never a half-written one under the final name.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import torch


_TEST_WRITE_DELAY = float(os.environ.get("GROKLAB_TEST_WRITE_DELAY", "0"))


@contextmanager
def atomic_path(path: str | os.PathLike):
    """Yield a temporary path next to `path`; on success fsync it and rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        if _TEST_WRITE_DELAY:   # test hook (tests/test_faults.py): widen the window a kill can hit
            time.sleep(_TEST_WRITE_DELAY)
        with open(tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True) + "\n")


def csv_copy(path) -> str:
    """Where write_table puts the CSV copy of the Parquet table at `path`."""
    return str(Path(path).with_suffix(".csv"))


def write_table(path, df: pd.DataFrame) -> None:
    """A table as Parquet (what the pipeline reads) and, beside it, as CSV (what the HTML report
    shows: a browser cannot display Parquet)."""
    write_parquet(path, df)
    with atomic_path(csv_copy(path)) as tmp:
        df.to_csv(tmp, index=False)


def write_parquet(path, df: pd.DataFrame, metadata: dict | None = None) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df, preserve_index=False)
    if metadata:
        meta = dict(table.schema.metadata or {})
        meta.update({k.encode(): json.dumps(v).encode() for k, v in metadata.items()})
        table = table.replace_schema_metadata(meta)
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def save_torch(path, obj) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)
