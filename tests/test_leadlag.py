"""Lead-lag analysis on synthetic trajectories whose leading observable and lead time are known."""

import numpy as np
import pandas as pd
import pytest

from groklab.analysis.leadlag import change_point, half_time, normalised_progress, rank_observables, run_changes


def test_change_point_finds_a_step_and_its_size():
    steps = np.arange(0, 1000, 10)
    values = np.where(steps < 420, 1.0, 3.0) + np.random.default_rng(0).normal(0, 0.05, len(steps))
    step, shift, effect = change_point(steps, values)
    assert step == 420 and shift == pytest.approx(2.0, abs=0.05) and effect > 10


def test_ranking_puts_the_known_leader_first_with_its_lead_time():
    rng = np.random.default_rng(1)
    steps = np.arange(0, 2000, 20)
    obs, events = [], []
    for seed, grok in enumerate([800, 1000, 1200]):
        obs.append(pd.DataFrame({
            "cell": "c", "seed": seed, "step": steps,
            "leader": np.where(steps < grok - 300, 0.0, -1.0) + rng.normal(0, 0.02, len(steps)),   # moves 300 before
            "follower": np.where(steps < grok + 200, 5.0, 9.0) + rng.normal(0, 0.02, len(steps)),  # 200 after
            "noise": rng.normal(0, 1, len(steps))}))
        events.append({"cell": "c", "seed": seed, "memorisation_step": 100, "grok_step": grok})
    changes = run_changes(pd.concat(obs), pd.DataFrame(events), ["leader", "follower", "noise"])
    ranked = rank_observables(changes).set_index("observable")
    assert ranked.index[0] == "leader"
    assert ranked.loc["leader", "median_lead"] == 300 and ranked.loc["leader", "leads_fraction"] == 1
    assert ranked.loc["leader", "sign_consistency"] == 1
    assert ranked.loc["follower", "median_lead"] == -200 and ranked.loc["follower", "leads_fraction"] == 0


def test_normalised_progress_and_half_time():
    steps = np.arange(0, 1100, 100)
    tau, prog = normalised_progress(steps, steps.astype(float) ** 1, mem=100, grok=1100 - 100)
    assert half_time(tau, prog) == pytest.approx(0.5, abs=0.13)
