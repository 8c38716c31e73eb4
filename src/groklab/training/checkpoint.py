"""The checkpoint file of one pack group: PackRun.state_dict() under a header that says whose it is.

    format, owner       the header, checked on load (owner: the pack's key, its cells' hashes and seeds)
    ...                 PackRun.state_dict()'s keys (groklab.training.loop)
"""

from __future__ import annotations

from pathlib import Path

import torch

from groklab import io
from groklab.config.cells import ConfigError

CHECKPOINT_FORMAT = 2


def save(path: Path, owner: str, state: dict) -> None:
    """Atomically (io.save_torch: a kill mid-write leaves the previous checkpoint)."""
    io.save_torch(path, {"format": CHECKPOINT_FORMAT, "owner": owner, **state})


def load(path: Path, owner: str, device: torch.device) -> dict:
    """The state saved at `path`, tensors on `device`; ConfigError if it is unreadable, of an older
    format, or another pack's."""
    try:
        state = torch.load(path, map_location=device, weights_only=False)
    except Exception as exc:  # a torn or foreign file: say which and what to do
        raise ConfigError(f"{path}: unreadable checkpoint ({type(exc).__name__}); delete it to restart this pack") from None
    if state.get("format") != CHECKPOINT_FORMAT or state.get("owner") != owner:
        raise ConfigError(f"{path}: checkpoint of another pack, config or groklab version; "
                          f"delete {path.parent} and rerun")
    return state
