"""Expand config.yaml's matrix (named axes over cell keys) into cells with stable ids."""

from __future__ import annotations

import copy
import itertools
import json
import re
from dataclasses import dataclass

from .config import CellConfig, ConfigError, validate


@dataclass(frozen=True)
class Cell:
    name: str            # readable: "op~div__lr~0.003", or "base" for a matrix without axes
    config: CellConfig

    @property
    def id(self) -> str:
        """Directory name under results/runs/: readable name + 8 hex digits of the config hash."""
        return f"{self.name}-{self.config.hash[:8]}"


def _slug(value) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(_slug(v) for v in value)
    if isinstance(value, float):
        value = f"{value:g}"
    return re.sub(r"[^A-Za-z0-9.+-]", "-", str(value))


def _axis_items(axis: dict) -> list[tuple[str, object]]:
    values = axis["values"]
    if isinstance(values, dict):
        return [(_slug(label), v) for label, v in values.items()]
    return [(_slug(v), v) for v in values]


def _deep_set(d: dict, dotted: str, value) -> None:
    *parents, leaf = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
    d[leaf] = copy.deepcopy(value)


def expand(config: dict) -> list[Cell]:
    """Validate the whole config and return its cells in a deterministic order.

    Raises ConfigError (one line, naming the key) for any bad key, value or combination.
    """
    config = validate(config)
    axes = config["matrix"]["axes"]
    names = list(axes)
    choices = [_axis_items(axes[n]) for n in names]
    cells, seen = [], {}
    for combo in itertools.product(*choices):
        raw = copy.deepcopy(config["cell"])
        for axis_name, (label, value) in zip(names, combo):
            _deep_set(raw, axes[axis_name]["key"], value)
        name = "__".join(f"{a}~{label}" for a, (label, _) in zip(names, combo)) or "base"
        try:
            cell = Cell(name=name, config=CellConfig.from_dict(raw))
        except ConfigError as exc:
            raise ConfigError(f"{exc} [matrix cell {name}]" if names else str(exc)) from None
        if cell.config.hash in seen:
            raise ConfigError(
                f"matrix.axes: cells {seen[cell.config.hash]} and {name} resolve to the same config "
                "(duplicate axis values)"
            )
        seen[cell.config.hash] = name
        cells.append(cell)
    return cells


def cell_record(cell: Cell) -> dict:
    """What train jobs read: identity plus the resolved config."""
    return {"name": cell.name, "id": cell.id, "hash": cell.config.hash, "config": cell.config.to_dict()}


def dumps_record(cell: Cell) -> str:
    return json.dumps(cell_record(cell), indent=2, sort_keys=True)
