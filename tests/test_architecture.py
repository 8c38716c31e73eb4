"""The stage architecture as tests: import-linter's contracts (pyproject.toml) and no import
cycle between any two groklab modules (a cycle that works only because one import is lazy is
still a cycle: grimp sees imports inside functions too)."""

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parents[1]


def test_import_linter_contracts():
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_no_module_import_cycle():
    graph = grimp.build_graph("groklab")
    cycles = []
    for importer in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(importer):
            # a package's __init__ re-exporting its children is not a cycle of logic
            if imported.startswith(importer + ".") or importer.startswith(imported + "."):
                continue
            back = graph.find_shortest_chain(importer=imported, imported=importer)
            if back:
                cycles.append(" -> ".join((importer, *back)))
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
