"""The training map an hmm_state intervention decodes with: read and checked before any step."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from groklab import io
from groklab.config.cells import CellConfig, ConfigError
from groklab.maps.decode import check_pooled
from groklab.vocabulary import HMM_STATE


def load_training_map(path: str | Path | None, cell: CellConfig) -> tuple[dict | None, dict]:
    """The training map an hmm_state rule decodes with, checked before training: (model.json record,
    its provenance {path, sha256}); (None, {}) for a cell without such a rule."""
    if not cell.reads_training_map:
        return None, {}
    if path is None:
        raise ConfigError("training.interventions: a rule reads hmm_state, but no training map was given "
                          "(the workflow passes results/hmm/_matrix/model.json; by hand: groklab train --hmm-map FILE)")
    try:
        record = json.loads(Path(path).read_text())
        check_pooled(record, str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: training map not found") from None
    except (ValueError, KeyError) as exc:
        raise ConfigError(f"{path}: not a usable training map ({exc})") from None
    for i, rule in enumerate(cell.training.interventions):
        if rule["when"] != HMM_STATE:
            continue
        if rule["state"] == "detour" and "detour_state" not in record:
            raise ConfigError(f"training.interventions[{i}].state: detour, but the training map {path} has no "
                              "detour state recorded (refit it: snakemake results/hmm/_matrix/model.json)")
        if rule["state"] == "detour" and record["detour_state"] is None:
            print(f"groklab: training.interventions[{i}]: the training map {path} has no detour state "
                  "(no state's occupancy goes with later grokking at p < 0.05): this rule never fires", file=sys.stderr)
        if rule["state"] != "detour" and rule["state"] >= record["K"]:
            raise ConfigError(f"training.interventions[{i}].state: {rule['state']}, but the training map {path} "
                              f"has {record['K']} states (0..{record['K'] - 1})")
    return record, {"path": str(path), "sha256": io.sha256_file(path), "detour_state": record.get("detour_state")}
