"""Decoding runs with a fitted training map: the pooled scale, the online forward filter against
hmmlearn's posteriors, prefix occupancy, and a matrix map's record."""

import numpy as np
import pandas as pd
import pytest
from hmmlearn.hmm import GaussianHMM

from groklab.config.cells import validate
from groklab.analysis.hmm import build_sequences, fit_study, model_record
from groklab.maps.decode import ForwardFilter, Scaler, model_from_record, prefix_occupancy

CFG = {**validate({})["hmm"], "features": ["f0", "f1"], "k_max": 4, "restarts": 2}


def record(seed=0, K=3, F=2) -> dict:
    rng = np.random.default_rng(seed)
    trans = rng.uniform(0.1, 1, (K, K)) + 3 * np.eye(K)
    return {"K": K, "features": [f"f{i}" for i in range(F)], "normalise": "pooled",
            "scaler": {"log": [False] * F, "mean": [0.0] * F, "std": [1.0] * F},
            "startprob": (np.arange(K, 0, -1) / np.arange(K, 0, -1).sum()).tolist(),
            "transmat": (trans / trans.sum(1, keepdims=True)).tolist(),
            "means": rng.normal(0, 2, (K, F)).tolist(), "covars": rng.uniform(0.5, 2, (K, F)).tolist()}


def test_scaler_logs_positive_features_and_z_scores_pooled():
    values = np.array([[1.0, -1.0, 5.0], [10.0, 1.0, 5.0], [100.0, 3.0, 5.0]])
    s = Scaler.fit(values)
    assert s.log == (True, False, True)
    z = s.transform(values)
    np.testing.assert_allclose(z[:, 0], [-1.2247449, 0, 1.2247449], rtol=1e-6)   # log10: 0, 1, 2 z-scored
    np.testing.assert_allclose(z[:, 2], 0.0)                                     # constant: 0, not NaN
    assert Scaler.from_dict(s.to_dict()) == s


def test_forward_filter_matches_hmmlearn_posteriors_at_every_prefix():
    rec = record()
    model = model_from_record(rec)
    X, _ = model.sample(40, random_state=1)
    X2, _ = model.sample(40, random_state=2)
    f = ForwardFilter(rec, 2)
    for t in range(40):
        state = f.update(np.stack([X[t], X2[t]]))
        for e, seq in enumerate((X, X2)):
            post = model.predict_proba(seq[: t + 1])[-1]                  # filtered = smoothed at the last step
            np.testing.assert_allclose(np.exp(f.log_alpha[e]), post, atol=1e-9)
            assert state[e] == post.argmax()


def test_forward_filter_skips_unobserved_rows_per_model():
    rec = record()
    model = model_from_record(rec)
    X, _ = model.sample(10, random_state=3)
    f = ForwardFilter(rec, 2)
    for t in range(10):
        other = X[t] if t % 3 == 0 else np.full(2, np.nan)               # model 1 observed every 3rd eval
        state = f.update(np.stack([X[t], other]))
    np.testing.assert_allclose(np.exp(f.log_alpha[1]), model.predict_proba(X[::3])[-1], atol=1e-9)
    fresh = ForwardFilter(rec, 1)
    assert fresh.update(np.full((1, 2), np.nan))[0] == -1 and state[0] == model.predict_proba(X)[-1].argmax()


def test_prefix_occupancy_uses_the_prefix_alone():
    model = model_from_record(record())
    X, _ = model.sample(30, random_state=4)
    occ = prefix_occupancy(model, X[:12])
    path = model.predict(X[:12])
    np.testing.assert_allclose(occ[:3], np.bincount(path, minlength=3) / 12)
    assert occ[3:].tolist() == np.eye(3)[path[-1]].tolist()
    assert np.isnan(prefix_occupancy(model, X[:0])).all()


def test_matrix_map_record_decodes_its_own_runs_like_viterbi():
    """A pooled map refits to a record whose forward filter agrees with the map's own paths on
    clearly separated states; per-run maps are refused by the decoder."""
    true = GaussianHMM(n_components=2, covariance_type="diag", random_state=0)
    true.startprob_, true.transmat_ = np.array([1.0, 0.0]), np.array([[0.95, 0.05], [0.0, 1.0]])
    true.means_, true.covars_ = np.array([[0.0, 0.0], [8.0, -8.0]]), np.full((2, 2), 1.0)
    rows = []
    for r in range(6):
        X, _ = true.sample(60, random_state=r)
        rows.append(pd.DataFrame({"cell": f"c{r % 2}", "seed": r, "step": np.arange(60) * 10,
                                  "f0": 100 + X[:, 0], "f1": X[:, 1]}))
    obs = pd.concat(rows, ignore_index=True)
    sm = fit_study(obs, {**CFG, "k_max": 3}, normalise="pooled")
    rec = model_record(sm, CFG["features"])
    assert rec["normalise"] == "pooled" and sm.K >= 2
    f = ForwardFilter(rec, 1)
    run = obs[obs.seed == 0]
    online = [f.update(v[None])[0] for v in run[["f0", "f1"]].to_numpy()]
    viterbi = sm.paths[sm.paths.seed == 0]["state"].to_numpy()
    assert (np.asarray(online) == viterbi).mean() > 0.95
    seq = build_sequences(obs[obs.seed == 0], CFG["features"], "pooled", sm.scaler)   # a run on the map's scale
    np.testing.assert_allclose(seq.X[0], Scaler.from_dict(rec["scaler"]).transform(run[["f0", "f1"]].to_numpy()))
    with pytest.raises(ValueError, match="within itself"):
        ForwardFilter(model_record(fit_study(obs, {**CFG, "k_max": 2}, normalise="run"), CFG["features"]), 1, "study.json")
