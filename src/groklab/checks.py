"""The one validation path for a whole config: `groklab cells` and the Snakefile both call
`check_config`, so a config is refused (or accepted) the same way by both, before any job.

It sits above every stage because its checks span them: the schema and matrix (config), the
observables registry (training), the HMM settings (maps) and the paper's claims (analysis)."""

from __future__ import annotations

from dataclasses import dataclass

from groklab.analysis.claims import check_paper
from groklab.config.matrix import Cell, Study, check_hmm, check_map_states, expand, map_cells, studies
from groklab.training.observables import check_signals


@dataclass(frozen=True)
class Matrix:
    """A validated config: its cells by id, studies by name, and the cells the matrix map is fitted on."""
    config: dict
    cells: dict[str, Cell]
    studies: dict[str, Study]
    map_cells: list[Cell]


def check_config(config: dict) -> Matrix:
    """Expand and check `config` (defaults filled in place); ConfigError naming the key."""
    cells = {cell.id: cell for cell in expand(config, check_cell=check_signals)}
    found = {s.name: s for s in studies(config, list(cells.values()))}
    # The matrix training map is fitted on every cell except those whose interventions react to it
    # (hmm_state rules), which train after it.
    fitted = map_cells(list(cells.values()))
    check_hmm(config, list(found.values()), fitted)
    check_map_states(config, list(cells.values()))
    check_paper(config["paper"], {s.name: [v.name for v in s.variants] for s in found.values()},
                {c.name for c in cells.values()}, list(config["matrix"]["axes"]))
    return Matrix(config, cells, found, fitted)
