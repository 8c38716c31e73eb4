"""The checkpoint file of one ensemble: GroupRun.state_dict() under a header that says whose it is.

    format, cell_hash, seeds    the header, checked on load
    ...                         GroupRun.state_dict()'s keys (groklab.training.loop)
"""

from __future__ import annotations

from pathlib import Path

import torch

from groklab import io
from groklab.config.cells import ConfigError

CHECKPOINT_FORMAT = 1


def save(path: Path, cell_hash: str, seeds: list[int], state: dict) -> None:
    """Atomically (io.save_torch: a kill mid-write leaves the previous checkpoint)."""
    io.save_torch(path, {"format": CHECKPOINT_FORMAT, "cell_hash": cell_hash, "seeds": seeds, **state})


def load(path: Path, cell_hash: str, seeds: list[int], device: torch.device) -> dict:
    """The state saved at `path`, tensors on `device`; ConfigError if it is unreadable or another
    cell's / seed group's."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # a torn or foreign file: say which and what to do
        raise ConfigError(f"{path}: unreadable checkpoint ({type(exc).__name__}); delete it to restart this cell") from None
    if state.get("cell_hash") != cell_hash or state.get("seeds") != seeds:
        raise ConfigError(
            f"{path}: checkpoint belongs to another cell config or seed group; "
            "delete the cell's .partial directory and rerun the cell"
        )
    return state
