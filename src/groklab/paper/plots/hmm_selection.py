"""The HMM model-selection curve of one study: BIC/AIC and held-out log-likelihood against K
(data: groklab.analysis.figure_data.hmm_selection)."""

from __future__ import annotations

import pandas as pd

from groklab.vocabulary import HMM_BOUNDARY
from groklab.paper.plots import style


def draw(sel: pd.DataFrame, out_pdf: str) -> None:
    fig, (a, b) = style.figure(0.3, ncols=2)
    a.plot(sel.K, sel.bic, marker="o", label="BIC")
    a.plot(sel.K, sel.aic, marker="s", label="AIC")
    a.set_xlabel("states K")
    a.legend(frameon=False)
    b.plot(sel.K, sel.heldout_ll_per_obs, marker="o", color=style.PALETTE[2])
    for ax in (a, b):
        for chosen_k in sel.chosen_k.unique():
            ax.axvline(chosen_k, color="0.5", ls="--", lw=0.8)
    if sel.boundary.any():     # K = k_max: the curve may still be falling, so K is not a finding
        a.set_title(HMM_BOUNDARY, fontsize=7, color=style.PALETTE[3])
    b.set_xlabel("states K")
    b.set_ylabel("held-out log-lik. / obs.")
    style.save(fig, out_pdf)
