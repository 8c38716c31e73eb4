import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM

from groklab.config.cells import validate
from groklab.analysis.hmm import build_sequences, detour_state, detour_table, fit_study, run_detours

CFG = {**validate({})["hmm"], "features": ["f0", "f1"], "k_max": 5, "restarts": 3}


TRANSMAT = np.array([[0.60, 0.25, 0.15], [0.20, 0.60, 0.20], [0.15, 0.25, 0.60]])


def sample_runs(n_runs=8, length=1000, seed=0):
    """Runs from a known, fast-mixing 3-state Gaussian HMM. Long runs visit every state in
    about its stationary share, so z-scoring within each run (Hu et al.) maps a state to
    about the same point in every run; with slow mixing the per-run shifts would look like
    extra states to BIC."""
    true = GaussianHMM(n_components=3, covariance_type="diag", random_state=seed)
    true.startprob_ = np.array([1.0, 0.0, 0.0])
    true.transmat_ = TRANSMAT
    true.means_ = np.array([[-4.0, 0.0], [0.0, 4.0], [4.0, -4.0]])
    true.covars_ = np.full((3, 2), 1.0)
    rows = []
    for r in range(n_runs):
        X, _ = true.sample(length, random_state=seed + r)
        rows.append(pd.DataFrame({"cell": "c", "seed": r, "step": np.arange(length) * 10, "f0": X[:, 0], "f1": X[:, 1]}))
    return true, pd.concat(rows, ignore_index=True)


def test_recovers_three_states_and_the_transition_matrix():
    true, obs = sample_runs()
    sm = fit_study(obs, {**CFG, "order_by": "f0"})          # states ordered by f0's mean: -4, 0, 4 as in truth
    assert sm.K == 3 and sm.selection.bic.idxmin() == 2 and sm.converged
    # stated tolerance: every transition probability within 0.03 of the truth
    np.testing.assert_allclose(sm.model.transmat_, true.transmat_, atol=0.03)
    assert len(sm.edges) == 6 and (sm.edges["count"] > 0).all()


def test_deterministic():
    _, obs = sample_runs(n_runs=6, length=100)
    a, b = fit_study(obs, CFG), fit_study(obs, CFG)
    assert a.K == b.K
    pd.testing.assert_frame_equal(a.paths, b.paths)
    pd.testing.assert_frame_equal(a.selection, b.selection)


def test_degenerate_inputs_are_reported_not_crashes():
    _, obs = sample_runs(n_runs=4, length=40)
    obs["const"] = 1.0                                          # zero-variance feature
    short = pd.DataFrame({"cell": "c", "seed": [99], "step": [0], "f0": [0.0], "f1": [0.0], "const": [1.0]})
    nan = obs[obs.seed == 0].assign(seed=98)
    nan.loc[nan.index[5], "f0"] = np.nan                        # a NaN row is skipped (expensive-only schedule)
    inf = obs[obs.seed == 1].assign(seed=97)
    inf.loc[inf.index[3], "f1"] = np.inf                        # diverged run
    data = pd.concat([obs, short, nan, inf], ignore_index=True)
    seq = build_sequences(data, ["f0", "f1", "const"])
    assert dict(zip(seq.dropped.seed, seq.dropped.reason)) == {
        97: "non-finite feature values (diverged run)", 99: "only 1 observation(s)"}
    assert all(np.isfinite(x).all() for x in seq.X) and len(seq.X) == 5
    sm = fit_study(data, {**CFG, "features": ["f0", "f1", "const"]})
    assert 1 <= sm.K <= 5
    single = fit_study(obs[obs.seed == 0], {**CFG, "k_max": 3})        # a single run
    assert single.K >= 1 and len(single.paths) == 40


def detour_path(cell: str, r: int) -> pd.DataFrame:
    """Run r's Viterbi path: the odd runs (half of them) take a detour through state 2."""
    path = [0] * 10 + ([2] * 15 if r % 2 == 1 else []) + [1] * 10
    return pd.DataFrame({"cell": cell, "seed": r, "step": np.arange(len(path)), "state": path})


def test_detour_table_finds_a_slow_state():
    rng = np.random.default_rng(0)
    rows, grok = [], []
    for r in range(20):
        detour = r % 2 == 1                                    # half the runs visit state 2
        rows.append(detour_path("c", r))
        grok.append({"cell": "c", "seed": r, "grok_step": 100 + (300 if detour else 0) + rng.normal(0, 10), "budget": 1000})
    table = detour_table(pd.concat(rows), pd.DataFrame(grok), 3).set_index("state")
    assert table.loc[2, "r_visit"] > 0.9 and table.loc[2, "p_visit"] < 1e-6
    assert table.loc[2, "slope"] > 0 and table.loc[0, "runs_visiting"] == 20
    assert detour_state(table.reset_index()) == 2 and table.loc[2, "r_lo"] > 0.8
    assert table["detour"].tolist() == [False, False, True]      # state 0: every run visits it
    # no effect: the same paths with grok steps unrelated to the visit
    noise = pd.DataFrame(grok).assign(grok_step=lambda g: 200 + rng.normal(0, 50, len(g)))
    assert detour_state(detour_table(pd.concat(rows), noise, 3)) is None


def test_detour_needs_the_corrected_test_and_the_interval_to_agree():
    """Three states tested: a visit p of 0.03 alone passes 0.05, but not after Benjamini-Hochberg."""
    from groklab.analysis.hmm import detour_table
    rng = np.random.default_rng(3)
    rows, grok = [], []
    for r in range(16):
        rows.append(detour_path("c", r) if r % 2 else detour_path("c", r)[:-1])
        grok.append({"cell": "c", "seed": r, "grok_step": 100 + (40 if r % 2 else 0) + rng.normal(0, 60), "budget": 1000})
    table = detour_table(pd.concat(rows), pd.DataFrame(grok), 3)
    assert (table["p_adj_visit"].dropna() >= table["p_visit"].dropna()).all()
    assert not table.loc[table["p_adj_visit"] >= 0.05, "detour"].any()
    assert table["detour"].equals((table["runs_visiting"] < table["runs"]) & (table["p_adj_visit"] < 0.05)
                                  & (table["r_lo"] > 0) & (table["r_visit"] > 0))


def test_a_state_no_run_ever_leaves_is_absorbing():
    """Runs that end in a state of their own give EM a zero transition row: that state becomes
    absorbing instead of an invalid model (hmmlearn refuses rows that do not sum to 1)."""
    from groklab.analysis.hmm import fit_one

    rng = np.random.default_rng(0)
    X = [np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(50, 1, (1, 2))]) for _ in range(4)]
    model = fit_one(X, 2, seed=0, n_iter=100, tol=1e-4)
    np.testing.assert_allclose(model.transmat_.sum(1), 1.0)
    last = model.predict(X[0])[-1]
    assert model.transmat_[last, last] == 1.0
    assert np.isfinite(model.score(np.concatenate(X), [len(x) for x in X]))


def test_detour_table_censors_a_multi_task_run_in_which_one_operation_never_grokked():
    """hmm_fit's detour table from runs.parquet rows (one per operation): a run whose add grokked
    early but whose div never grokked is not grokked, so it enters at its budget, not at add's step."""
    rng = np.random.default_rng(0)
    paths, runs = [], []
    for r in range(20):
        detour = r % 2 == 1                                    # half the runs visit state 2 ...
        paths.append(detour_path("m", r))
        add = 100 + rng.normal(0, 10)
        div = float("nan") if detour else 150 + rng.normal(0, 10)      # ... and never grok div
        for op, g in (("add", add), ("div", div)):
            runs.append({"cell": "m", "seed": r, "operation": op, "grok_step": g, "grokked": bool(np.isfinite(g)),
                         "memorisation_step": 50.0, "budget": 1000})
    paths, runs = pd.concat(paths), pd.DataFrame(runs)
    table = run_detours(paths, runs, 3)
    per_run = runs.groupby("seed").agg(grok_step=("grok_step", lambda s: s.max() if s.notna().all() else np.nan))
    expected = detour_table(paths, per_run.reset_index().assign(cell="m", budget=1000), 3)
    pd.testing.assert_frame_equal(table, expected)
    t = table.set_index("state")
    assert t.loc[2, "runs"] == 20 and t.loc[2, "r_visit"] > 0.99          # the never-grokked runs: at 1000
    assert detour_state(table) == 2
