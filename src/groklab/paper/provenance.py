"""Provenance records of the paper's numbers, and the audit that re-checks them.

A record says where a number came from: its query and arguments (groklab.paper.queries),
its input files with their SHA-256, the cells and seeds behind it with each cell's config
hash and the Slurm job ids that trained them, the git commit of the code, the Snakemake rule
that wrote it and when. A number read from a table another rule wrote (query table_cell) also
has a `source`: the table file, its SHA-256 and the row (key columns, position) and column it
came from. `audit` re-hashes the inputs, then recomputes the number, or for a table number
re-reads that cell of the table.
"""

from __future__ import annotations

import json
import math
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from groklab.paper import queries
from groklab.io import sha256_file as sha256


@dataclass
class Number:
    name: str                  # a LaTeX macro name (letters) or a table-cell key "table/row.../column"
    query: str                 # a key of queries.QUERIES
    args: dict                 # JSON-able keyword arguments of the query
    inputs: list[str]          # files the query reads (hashed into the record)
    cells: list[dict] = field(default_factory=list)   # [{id, name, hash, seeds, slurm_job_ids}]
    fmt: str = "num"           # how numbers.tex prints it (groklab.paper.latex.format_value)
    value: object = None


def git_commit(repo: str | Path) -> str:
    """HEAD of the code's repository, with "+dirty" when tracked files differ; "unknown" outside git."""
    def git(*args):
        return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, check=True).stdout
    try:
        head = git("rev-parse", "HEAD").strip()
        return head + ("+dirty" if git("status", "--porcelain", "--untracked-files=no").strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _json_value(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)               # JSON has no NaN/inf: "nan", "inf"
    return value


def _from_json(value):
    return float(value) if value in ("nan", "inf", "-inf") else value


def record(number: Number, text: str, job: dict, hashes: dict[str, str]) -> dict:
    """The provenance record of one evaluated number (text: as printed in the paper)."""
    doc = (queries.QUERIES[number.query].__doc__ or "").strip().splitlines()[0]
    source = {}
    if number.query == "table_cell":
        a = number.args
        source = {"source": {"table": a["table"], "sha256": hashes[a["table"]], "where": a["where"],
                             "position": a.get("position", 0), "column": a["column"]}}
    return {"name": number.name, "value": _json_value(number.value), "text": text, "query": number.query,
            "query_doc": doc, "args": number.args, **source,
            "inputs": [{"path": p, "sha256": hashes[p]} for p in number.inputs], "cells": number.cells, **job}


def records(numbers: list[Number], texts: dict[str, str], job: dict) -> dict:
    """Records of every number, keyed by name (each input file hashed once)."""
    hashes = {p: sha256(p) for p in sorted({p for n in numbers for p in n.inputs})}
    return {n.name: record(n, texts[n.name], job, hashes) for n in numbers}


def check(rec: dict, root: Path, hashes: dict | None = None) -> list[str]:
    """Problems with one record: changed or missing inputs (a table number: its table's SHA-256
    as well), or a recomputed / re-read value that differs. hashes: a cache path -> sha256 shared
    across the records of one audit (every input is hashed once)."""
    hashes = {} if hashes is None else hashes

    def digest(path: Path) -> str:
        if path not in hashes:
            hashes[path] = sha256(path)
        return hashes[path]
    items = list(rec["inputs"])
    source = rec.get("source")
    if source and source["table"] not in {i["path"] for i in items}:
        items.insert(0, {"path": source["table"], "sha256": source["sha256"]})
    elif source and any(i["path"] == source["table"] and i["sha256"] != source["sha256"] for i in items):
        return [f"{rec['name']}: the record's source table {source['table']} has two different SHA-256s"]
    problems = []
    for item in items:
        path = root / item["path"]
        if not path.exists():
            problems.append(f"{rec['name']}: input {item['path']} is missing (rerun the pipeline)")
        elif digest(path) != item["sha256"]:
            problems.append(f"{rec['name']}: input {item['path']} changed since the number was made "
                            f"(sha256 {item['sha256'][:12]} -> {digest(path)[:12]}); rerun the pipeline")
    if problems:
        return problems
    args = rec["args"]
    if source:   # re-read the cell of the table (relative to root, like every recorded input)
        args = args | {"table": str(root / source["table"])}
        what = f"re-reading {source['table']} (row {source['where']} #{source['position']}, column {source['column']})"
    else:
        what = f"recomputing from {', '.join(i['path'] for i in rec['inputs'])}"
    try:
        value = queries.evaluate(rec["query"], args)
    except Exception as exc:   # a corrupt input: name it instead of a traceback
        return [f"{rec['name']}: {what} failed: {type(exc).__name__}: {exc}"]
    recorded = _from_json(rec["value"])
    if not queries.same(recorded, value):
        return [f"{rec['name']}: recorded {recorded!r} but {what} now gives {value!r}"]
    return []


def load(path: str | Path) -> dict:
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no provenance records (build the paper first: snakemake paper)")
    return json.loads(path.read_text())


def find(records: dict, name: str) -> dict:
    """A record by macro name (with or without the backslash) or table-cell key."""
    key = name.lstrip("\\")
    if key in records:
        return records[key]
    import difflib

    close = difflib.get_close_matches(key, records, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else ""
    raise KeyError(f"no number named {name!r} in the provenance records{hint}")
