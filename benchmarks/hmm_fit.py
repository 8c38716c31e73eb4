"""Fitting time of a study's HMM training map: 200 runs x 200 checkpoints x 11 features.

The runs are sampled from a known 4-state Gaussian HMM (left-to-right with a detour state),
fitted with config.yaml's default `hmm` settings (K = 1..k_max, seeded restarts, BIC).
Usage: python benchmarks/hmm_fit.py [--runs 200] [--length 200]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from hmmlearn.hmm import GaussianHMM

from groklab.config.cells import validate
from groklab.analysis.hmm import fit_study


def synthetic(runs: int, length: int, features: list[str], seed: int = 0) -> pd.DataFrame:
    D = len(features)
    rng = np.random.default_rng(seed)
    true = GaussianHMM(n_components=4, covariance_type="diag")
    true.startprob_ = np.array([1.0, 0, 0, 0])
    true.transmat_ = np.array([[0.96, 0.02, 0.02, 0], [0, 0.97, 0, 0.03], [0, 0, 0.97, 0.03], [0, 0, 0, 1.0]])
    true.means_ = rng.normal(0, 3, (4, D))
    true.covars_ = np.full((4, D), 0.5)
    frames = []
    for r in range(runs):
        X, _ = true.sample(length, random_state=seed + r)
        frames.append(pd.DataFrame(X, columns=features).assign(cell="c", seed=r, step=np.arange(length)))
    return pd.concat(frames, ignore_index=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=200)
    ap.add_argument("--length", type=int, default=200)
    args = ap.parse_args()
    cfg = validate({})["hmm"]
    obs = synthetic(args.runs, args.length, cfg["features"])
    t = time.perf_counter()
    sm = fit_study(obs, cfg, cfg["normalise"])
    seconds = time.perf_counter() - t
    print(f"# HMM fit: {args.runs} runs x {args.length} checkpoints x {len(cfg['features'])} features, "
          f"K = 1..{cfg['k_max']}, {cfg['restarts']} restarts, criterion {cfg['criterion']}, "
          f"normalise {cfg['normalise']}\n")
    print("| chosen K | boundary | converged | EM iterations (chosen K, selection) | seconds |\n|---|---|---|---|---|")
    it = int(sm.selection.loc[sm.selection.K == sm.K, "em_iterations"].iloc[0])
    print(f"| {sm.K} | {bool(sm.selection.boundary.any())} | {sm.converged} | {it} | {seconds:.1f} |")
    print("\n" + sm.selection.to_markdown(index=False) if hasattr(sm.selection, "to_markdown") else sm.selection)


if __name__ == "__main__":
    main()
