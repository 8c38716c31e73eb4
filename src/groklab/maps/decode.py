"""Using a fitted training map on runs it has not seen, causally (no step after the current one).

A study map z-scores each run within itself (Hu et al.), which needs the whole run. A map that
is applied while a run trains (an "HMM enters state k" intervention) or to the first part of a
run (the forecast's state occupancy up to a cut-off) is fitted with *pooled* normalisation
instead: `Scaler`, fitted once on all the map's observations and stored in its model.json,
so any prefix of any run is put on the map's scale by the same fixed transform.

`ForwardFilter` decodes online: after each observation, the most probable current state given
the observations so far (the forward algorithm's filtered posterior), one ensemble row per model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from groklab.maps.features import MIN_STD

if TYPE_CHECKING:       # hmmlearn and scipy load only where a map is decoded, not in every training job
    from hmmlearn.hmm import GaussianHMM

LOG_FLOOR = 1e-30


@dataclass(frozen=True)
class Scaler:
    """Per feature: log10 first where every fitted value was positive (norms and variances span
    orders of magnitude across cells), then z-score with the pooled mean and std."""

    log: tuple[bool, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @classmethod
    def fit(cls, values: np.ndarray) -> "Scaler":
        """values (N, F): every observation of every run the map is fitted on."""
        log = (values > 0).all(0)
        v = np.where(log, np.log10(np.maximum(values, LOG_FLOOR)), values)
        std = v.std(0)
        # a feature constant over the whole map carries no information: it z-scores to 0, not NaN
        return cls(tuple(bool(b) for b in log), tuple(v.mean(0).tolist()),
                   tuple(np.where(std < MIN_STD, 1.0, std).tolist()))

    def transform(self, values: np.ndarray) -> np.ndarray:
        """(..., F) raw feature values -> (..., F) on the map's scale."""
        log = np.asarray(self.log)
        v = np.where(log, np.log10(np.maximum(values, LOG_FLOOR)), values)
        return (v - np.asarray(self.mean)) / np.asarray(self.std)

    def to_dict(self) -> dict:
        return {"log": list(self.log), "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> "Scaler":
        return cls(tuple(d["log"]), tuple(d["mean"]), tuple(d["std"]))


def model_from_record(record: dict) -> "GaussianHMM":
    """The GaussianHMM of a model.json record (groklab.analysis.hmm.model_record), ready to decode."""
    from hmmlearn.hmm import GaussianHMM

    K = record["K"]
    model = GaussianHMM(n_components=K, covariance_type="diag")
    model.n_features = len(record["features"])
    model.startprob_ = np.asarray(record["startprob"], float)
    model.transmat_ = np.asarray(record["transmat"], float)
    model.means_ = np.asarray(record["means"], float)
    model.covars_ = np.asarray(record["covars"], float)     # (K, F): diagonal variances
    return model


def check_pooled(record: dict, path: str) -> Scaler:
    """The scaler of a map fitted with pooled normalisation; ValueError naming `path` otherwise."""
    if record.get("normalise") != "pooled" or "scaler" not in record:
        raise ValueError(f"{path}: this training map z-scores each run within itself, so it cannot decode a run "
                         "while it trains; use the matrix map (results/hmm/_matrix/model.json)")
    return Scaler.from_dict(record["scaler"])


class ForwardFilter:
    """Online decoding of E runs at once. State: log alpha (E, K), the log filtered posterior up
    to the last observation of each run (None rows before a run's first observation)."""

    def __init__(self, record: dict, n_models: int, path: str = "map"):
        self.scaler = check_pooled(record, path)
        self.features = list(record["features"])
        self.log_start = np.log(np.maximum(np.asarray(record["startprob"], float), 1e-300))    # (K,)
        self.log_trans = np.log(np.maximum(np.asarray(record["transmat"], float), 1e-300))     # (K, K)
        self.means = np.asarray(record["means"], float)                                        # (K, F)
        self.vars = np.asarray(record["covars"], float)                                        # (K, F)
        self.log_alpha = np.full((n_models, len(self.log_start)), np.nan)                      # (E, K)

    def _log_emission(self, z: np.ndarray) -> np.ndarray:
        """z (E, F) on the map's scale -> log density of each state (E, K), diagonal Gaussians."""
        d = z[:, None, :] - self.means[None]                                                  # (E, K, F)
        return -0.5 * (np.log(2 * np.pi * self.vars)[None] + d**2 / self.vars[None]).sum(-1)

    def update(self, values: np.ndarray) -> np.ndarray:
        """values (E, F) raw features at this eval (rows with a non-finite value are skipped) ->
        the current most probable state of each run (E,), -1 where a run has no observation yet."""
        from scipy.special import logsumexp

        ok = np.isfinite(values).all(1)
        if ok.any():
            z = self.scaler.transform(np.where(ok[:, None], values, 1.0))
            emit = self._log_emission(z)                                                      # (E, K)
            first = ok & np.isnan(self.log_alpha).any(1)
            prior = logsumexp(np.nan_to_num(self.log_alpha)[:, :, None] + self.log_trans[None], axis=1)  # (E, K)
            prior = np.where(first[:, None], self.log_start[None], prior)
            new = prior + emit
            new -= logsumexp(new, axis=1, keepdims=True)                  # normalise: log posterior
            self.log_alpha = np.where(ok[:, None], new, self.log_alpha)
        return self.current()

    def current(self) -> np.ndarray:
        seen = ~np.isnan(self.log_alpha).any(1)
        return np.where(seen, np.nan_to_num(self.log_alpha, nan=-np.inf).argmax(1), -1)

    def select(self, idx: np.ndarray) -> None:
        """Keep only runs idx (their filtered posteriors), in that order."""
        self.log_alpha = self.log_alpha[idx]

    def state_dict(self) -> dict:
        return {"log_alpha": self.log_alpha.copy()}

    def load_state_dict(self, state: dict) -> None:
        self.log_alpha = np.asarray(state["log_alpha"], float).copy()


def prefix_occupancy(model: "GaussianHMM", z: np.ndarray) -> np.ndarray:
    """Fraction of a prefix (T, F), already on the map's scale, spent in each state (K,), by the
    Viterbi path of the prefix alone; then one-hot of the state at the prefix's last step (K,)."""
    K = model.n_components
    if len(z) == 0:
        return np.full(2 * K, np.nan)
    path = model.predict(z)
    return np.concatenate([np.bincount(path, minlength=K) / len(path), np.eye(K)[path[-1]]])
