"""The paper's figures: which plotting module draws each, for which scope, what it reads, and its
caption (used by the LaTeX figure environments and by the Snakemake report).

Each figure is drawn in two halves: groklab.analysis.figure_data.<module> reads the result files
named by `inputs` and returns the plotted data as one table (written next to the PDF as Parquet);
groklab.paper.plots.<module>.draw draws that table. groklab.paper.targets resolves `inputs` and
`cells` into the files of one matrix."""

from __future__ import annotations

from dataclasses import dataclass


# What a figure may read (Figure.inputs): per-cell run files of the figure's cells, the runs summary,
# the speedups table, the delay ladder's tables (each claim per rung, each claim's trend), the lead-lag
# ranking, an HMM map and its model selection (the study's map for a study figure, the matrix map for a
# global one).
INPUT_KINDS = ("metrics", "observables", "runs", "speedups", "ladder", "ladder_trend", "leadlag", "map", "selection")
# Whose run files (Figure.cells): the study's cells, every study's cells, the multi-task cells, the
# progress-measures cells (one per PROGRESS_OPERATIONS).
CELL_SETS = ("study", "studies", "multi_task", "progress", "progress_division")
# progress-measures figure -> (the operation its cell trains alone, the paper key that names the cell)
PROGRESS_OPERATIONS = {"progress": ("add", "progress_cell"), "progress-division": ("div", "progress_division_cell")}


@dataclass(frozen=True)
class Figure:
    module: str      # groklab.analysis.figure_data.<module> computes it, groklab.paper.plots.<module>.draw draws it
    scope: str       # "study": one PDF per study; "global": one PDF
    caption: str
    inputs: tuple[str, ...] = ()     # of INPUT_KINDS
    cells: str | None = None         # of CELL_SETS: whose metrics/observables files


TRAJECTORY_OBSERVABLES = ["weights.sum_sq", "weights.trace_norm", "weights.stable_rank", "fourier.embed_gini",
                          "fourier.key_fraction", "outputs.margin", "gradients.total_norm",
                          "representations.effective_rank"]

FIGURES = {
    "accuracy": Figure("accuracy", "study",
                       "Train (dashed) and test (solid) accuracy of every cell of the study: seeds thin, mean bold; "
                       "triangles mark each seed's grok step.", inputs=("metrics", "runs"), cells="study"),
    "hmm-map": Figure("hmm_map", "study",
                      "HMM training map of the study (Hu et al.): hidden states (size = occupancy) and the "
                      "transitions that occur, with their probabilities.", inputs=("map",)),
    "hmm-selection": Figure("hmm_selection", "study",
                            "HMM model selection: BIC and AIC (left) and held-out log-likelihood per observation "
                            "(right) against the number of states; the dashed line is the chosen K.", inputs=("map", "selection")),
    "matrix-map": Figure("hmm_map", "global",
                         "The matrix training map: one HMM over every run of the matrix on one pooled scale (states "
                         "numbered by first visit, the numbers \\texttt{hmm\\_state} interventions refer to; size = "
                         "occupancy) and the transitions that occur, with their probabilities.", inputs=("map",)),
    "speedups": Figure("speedups", "global",
                       "Speedup of each variant over its study's baseline (baseline / variant, log scale) for the "
                       "grok step in \\% of budget and for the delay, with bootstrap intervals over seeds.", inputs=("speedups",)),
    "ladder": Figure("ladder", "global",
                     "Speedup (baseline / variant, the claim's metric) against the baseline's median delay in steps, "
                     "log-log, one panel per claim with a factor: each rung of the delay ladder with its bootstrap "
                     "interval (hollow: left out of the fit, the baseline never grokked), the power law fitted over "
                     "the rungs carried to the target delay with its interval band, and the seed's factor (star) "
                     "at the target delay.", inputs=("ladder", "ladder_trend")),
    "progress": Figure("progress", "global",
                       "Nanda et al.'s progress measures for one addition model, with the phases located from the "
                       "data: memorisation (train accuracy reached), circuit formation (until the test loss has "
                       "fallen 10\\% of the way to its final value) and cleanup (until the weight norm has "
                       "completed 90\\% of its fall).", inputs=("metrics", "observables"), cells="progress"),
    "progress-division": Figure("progress", "global",
                                "The same progress measures for one division model, in the basis of the "
                                "multiplicative group $Z_p^*$ (characters of the discrete logarithm), with the "
                                "phases located the same way.", inputs=("metrics", "observables"),
                                cells="progress_division"),
    "per-operation": Figure("per_operation", "global",
                            "Multi-task cells: test accuracy per operation (mean over seeds); dotted lines mark "
                            "each operation's mean grok step.", inputs=("metrics", "runs"), cells="multi_task"),
    "trajectories": Figure("trajectories", "global",
                           "Observables of grokked runs on a normalised clock (0 = memorisation, 1 = grok step), "
                           "each rescaled to 0 at memorisation and 1 at the grok step: runs thin, median bold.", inputs=("observables", "runs"), cells="studies"),
    "lead-heatmap": Figure("lead_heatmap", "global",
                           "Which observables change first: median normalised change of every observable across "
                           "grokked runs, rows sorted by the median time at which half the change is done.", inputs=("observables", "runs"), cells="studies"),
    "leadlag-runs": Figure("leadlag_runs", "global",
                           "The observables that lead grokking most consistently (lead-lag table), run by run: each "
                           "row one grokked run, sorted by its steps to grok, coloured by the observable z-scored "
                           "within the run; ticks mark each run's grok step.", inputs=("leadlag", "observables", "runs"), cells="studies"),
    "phase-diagram": Figure("phase_diagram", "global",
                            "Steps to grok (mean over seeds, never-grokked seeds counted at the budget) over the "
                            "learning-rate x weight-decay grid; x marks grid cells where no seed grokked.", inputs=("runs",)),
}


def progress_cell(paper: dict, operations: dict[str, list[str]], figure: str = "progress") -> str | None:
    """The cell of a progress-measures figure (PROGRESS_OPERATIONS): the paper key's cell (e.g.
    paper.progress_cell), else the first cell that trains that operation alone (addition is Nanda
    et al.'s task; cell name -> its operations)."""
    op, key = PROGRESS_OPERATIONS[figure]
    return paper.get(key) or next((name for name, ops in operations.items() if list(ops) == [op]), None)


def pdf_name(figure: str, study: str | None = None) -> str:
    return f"{figure}-{study}.pdf" if study else f"{figure}.pdf"
