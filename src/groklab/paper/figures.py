"""The paper's figures: which plotting module draws each, for which scope, and its caption
(used by the LaTeX figure environments and by the Snakemake report)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Figure:
    module: str      # groklab.paper.plots.<module>.render draws it
    scope: str       # "study": one PDF per study; "global": one PDF
    caption: str


TRAJECTORY_OBSERVABLES = ["weights.sum_sq", "weights.trace_norm", "weights.stable_rank", "fourier.embed_gini",
                          "fourier.key_fraction", "outputs.margin", "gradients.total_norm",
                          "representations.effective_rank"]

FIGURES = {
    "accuracy": Figure("accuracy", "study",
                       "Train (dashed) and test (solid) accuracy of every cell of the study: seeds thin, mean bold; "
                       "triangles mark each seed's grok step."),
    "hmm-map": Figure("hmm_map", "study",
                      "HMM training map of the study (Hu et al.): hidden states (size = occupancy) and the "
                      "transitions that occur, with their probabilities."),
    "hmm-selection": Figure("hmm_selection", "study",
                            "HMM model selection: BIC and AIC (left) and held-out log-likelihood per observation "
                            "(right) against the number of states; the dashed line is the chosen K."),
    "matrix-map": Figure("hmm_map", "global",
                         "The matrix training map: one HMM over every run of the matrix on one pooled scale (states "
                         "numbered by first visit, the numbers \\texttt{hmm\\_state} interventions refer to; size = "
                         "occupancy) and the transitions that occur, with their probabilities."),
    "speedups": Figure("speedups", "global",
                       "Speedup of each variant over its study's baseline (baseline / variant, log scale) for the "
                       "grok step in \\% of budget and for the delay, with bootstrap intervals over seeds."),
    "progress": Figure("progress", "global",
                       "Nanda et al.'s progress measures for one addition model, with the phases located from the "
                       "data: memorisation (train accuracy reached), circuit formation (until the test loss has "
                       "fallen 10\\% of the way to its final value) and cleanup (until the weight norm has "
                       "completed 90\\% of its fall)."),
    "per-operation": Figure("per_operation", "global",
                            "Multi-task cells: test accuracy per operation (mean over seeds); dotted lines mark "
                            "each operation's mean grok step."),
    "trajectories": Figure("trajectories", "global",
                           "Observables of grokked runs on a normalised clock (0 = memorisation, 1 = grok step), "
                           "each rescaled to 0 at memorisation and 1 at the grok step: runs thin, median bold."),
    "lead-heatmap": Figure("lead_heatmap", "global",
                           "Which observables change first: median normalised change of every observable across "
                           "grokked runs, rows sorted by the median time at which half the change is done."),
    "leadlag-runs": Figure("leadlag_runs", "global",
                           "The observables that lead grokking most consistently (lead-lag table), run by run: each "
                           "row one grokked run, sorted by its steps to grok, coloured by the observable z-scored "
                           "within the run; ticks mark each run's grok step."),
    "phase-diagram": Figure("phase_diagram", "global",
                            "Steps to grok (mean over seeds, never-grokked seeds counted at the budget) over the "
                            "learning-rate x weight-decay grid; x marks grid cells where no seed grokked."),
}


def progress_cell(paper: dict, operations: dict[str, list[str]]) -> str | None:
    """The cell of the progress-measures figure: paper.progress_cell, else the first cell that
    trains addition alone (Nanda et al.'s task; cell name -> its operations)."""
    return paper["progress_cell"] or next((name for name, ops in operations.items() if list(ops) == ["add"]), None)


def pdf_name(figure: str, study: str | None = None) -> str:
    return f"{figure}-{study}.pdf" if study else f"{figure}.pdf"
