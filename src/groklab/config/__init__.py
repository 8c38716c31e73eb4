"""Stage 0, config: what an experiment is. Owns the cell dataclasses and their schema (`cells`,
`schema.yaml`) and the matrix that expands a config into cells and studies (`matrix`).

May import: groklab.seeding, groklab.io and third-party libraries only; nothing of training,
maps, analysis or paper (an import-linter contract in pyproject.toml checks it).
"""

from groklab.config.cells import CellConfig, ConfigError, load_cell_file, load_yaml_file

__all__ = ["CellConfig", "ConfigError", "load_cell_file", "load_yaml_file"]
