"""What the workflow needs to know about groklab's own code: the source files a step runs.

A rule's code inputs are the import closure of the adapter script it runs (every groklab module
it imports, directly or through other groklab modules, lazily inside functions too, plus the
packages' __init__ files that importing them executes), so editing any module a step depends on
reruns exactly the steps that import it, and no list is kept by hand. Read from the source with
`ast`, nothing is imported. No snakemake here: the Snakefile calls these functions."""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import groklab

PACKAGE = Path(groklab.__file__).parent       # src/groklab of the checkout (editable install)


def _module_file(module: str) -> Path | None:
    """groklab.a.b -> src/groklab/a/b.py or .../a/b/__init__.py; None if not a groklab module."""
    parts = module.split(".")
    if parts[0] != "groklab":
        return None
    base = PACKAGE.joinpath(*parts[1:])
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _with_parents(module: str) -> list[str]:
    """groklab.a.b -> [groklab, groklab.a, groklab.a.b]: importing b runs every __init__ above it."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def _imported(path: Path) -> set[str]:
    """Modules that `path` imports (absolute names; `from m import x` also yields m.x in case x is a module)."""
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            out |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
            out |= {f"{node.module}.{alias.name}" for alias in node.names}
    return out


@lru_cache(maxsize=None)
def _closure(path: Path) -> frozenset[Path]:
    seen: set[Path] = set()
    todo = [path]
    while todo:
        current = todo.pop()
        if current in seen:
            continue
        seen.add(current)
        for module in _imported(current):
            for name in _with_parents(module):
                if (found := _module_file(name)) is not None and found not in seen:
                    todo.append(found)
    return frozenset(seen)


def code_inputs(script: str | Path) -> list[str]:
    """The groklab source files (sorted paths) that running `script` (an adapter under
    workflow/scripts, or a groklab module file) imports, transitively; the script itself is not
    listed (Snakemake already reruns a rule whose script changed)."""
    script = Path(script).resolve()
    return sorted(str(p) for p in _closure(script) if p != script)


def module_inputs(module: str) -> list[str]:
    """A groklab module's own file and its import closure (sorted paths), for a rule that runs it by name."""
    path = _module_file(module)
    if path is None:
        raise ValueError(f"{module}: not a groklab module")
    return sorted(str(p) for p in _closure(path.resolve()))
