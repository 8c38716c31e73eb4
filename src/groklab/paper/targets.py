"""The paper's outputs for one matrix, owned by the package so the workflow only wires them: the
generated LaTeX files paper.build writes, which figures the matrix draws, and for each figure job
the cells whose runs it reads and its options.

No snakemake here: the Snakefile builds one `PaperTargets` from the validated config and asks it."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from groklab.config.matrix import Cell, Study
from groklab.dag import code_inputs, module_inputs
from groklab.paper.figures import FIGURES, PROGRESS_OPERATIONS, TRAJECTORY_OBSERVABLES, pdf_name, progress_cell

# What paper.build writes under <paper.dir>/generated (paths relative to it); one speedups table per study.
NUMBERS_TEX = "numbers.tex"
STUDIES_TEX = "studies.tex"
FIGURES_TEX = "figures.tex"
PROVENANCE_JSON = "provenance.json"
CLAIMS_TEX = "tables/claims.tex"
LEADLAG_TEX = "tables/leadlag.tex"
FORECAST_TEX = "tables/forecast.tex"
INTERVENTIONS_TEX = "tables/interventions.tex"
LADDER_TEX = "ladder.tex"      # the section "Speedup against the delay": its table, sentences and figure
GENERATED_FILES = (NUMBERS_TEX, STUDIES_TEX, FIGURES_TEX, PROVENANCE_JSON, CLAIMS_TEX, LEADLAG_TEX, FORECAST_TEX,
                   INTERVENTIONS_TEX, LADDER_TEX)
FIGURES_DIR = "figures"        # under generated/: the PDFs


def speedups_tex(study: str) -> str:
    return f"tables/speedups-{study}.tex"


def generated_files(studies) -> list[str]:
    """Every file paper.build writes for these studies, relative to the generated directory."""
    return [*GENERATED_FILES, *(speedups_tex(s) for s in studies)]


def figure_names(scope: str) -> list[str]:
    """The figures of one scope ("study" or "global"), in FIGURES order."""
    return [name for name, f in FIGURES.items() if f.scope == scope]


def figure_code(figure: str, adapter: str) -> list[str]:
    """A figure job's code inputs (sorted paths): the adapter script's import closure and those of
    the figure's compute (groklab.analysis.figure_data.<module>) and draw (groklab.paper.plots.<module>)
    modules, so editing one figure's module reruns that figure only."""
    module = FIGURES[figure].module
    return sorted({*code_inputs(adapter), *module_inputs(f"groklab.analysis.figure_data.{module}"),
                   *module_inputs(f"groklab.paper.plots.{module}")})


@dataclass(frozen=True)
class PaperTargets:
    """One matrix's paper outputs. `results` is config.results_dir, `paper_dir` paper.dir, `cells`
    id -> Cell, `studies` name -> Study, `paper` the config's paper section."""

    results: str
    paper_dir: str
    cells: dict[str, Cell]
    studies: dict[str, Study]
    map_cells: list[Cell]
    paper: dict

    @cached_property
    def by_name(self) -> dict[str, Cell]:
        return {c.name: c for c in self.cells.values()}

    @cached_property
    def multi_task(self) -> list[str]:
        """Names of the cells that train more than one operation."""
        return [c.name for c in self.cells.values() if len(c.config.task.operations) > 1]

    @cached_property
    def progress_cell(self) -> str | None:
        return self.progress_cells["progress"]

    @cached_property
    def progress_cells(self) -> dict[str, str | None]:
        """progress-measures figure -> its cell (None: no cell trains its operation alone)."""
        ops = {c.name: c.config.task.operations for c in self.cells.values()}
        return {f: progress_cell(self.paper, ops, f) for f in PROGRESS_OPERATIONS}

    @cached_property
    def study_cells(self) -> dict[str, str]:
        """Cell id -> name of every study's cells (studies in order, baseline first)."""
        return {c.id: c.name for s in self.studies.values() for c in (s.baseline, *s.variants)}

    # -- which figures, which files ---------------------------------------------------------------

    @cached_property
    def measured_claims(self) -> list[str]:
        """Names of the claims whose study and variant this matrix has."""
        return [c["name"] for c in self.paper["claims"] if c["study"] in self.studies
                and c["variant"] in [v.name for v in self.studies[c["study"]].variants]]

    def global_figures(self) -> list[str]:
        """Global figures this matrix can draw (a figure with no data is left out, not drawn empty)."""
        factors = {c["name"] for c in self.paper["claims"] if c["claimed"] is not None}
        has_data = {"matrix-map": bool(self.map_cells), "speedups": bool(self.studies),
                    "ladder": bool(factors & set(self.measured_claims)),
                    **{f: cell is not None for f, cell in self.progress_cells.items()},
                    "per-operation": bool(self.multi_task),
                    "trajectories": bool(self.studies), "lead-heatmap": bool(self.studies),
                    "leadlag-runs": bool(self.studies), "phase-diagram": self.paper["phase_diagram"] is not None}
        return [f for f in figure_names("global") if has_data[f]]

    @cached_property
    def study_figure_files(self) -> dict[str, dict[str, str]]:
        """study -> {generated/figures/<pdf>: caption} (paths relative to the paper directory)."""
        return {s: {f"generated/{FIGURES_DIR}/{pdf_name(f, s)}": FIGURES[f].caption for f in figure_names("study")}
                for s in self.studies}

    @cached_property
    def global_figure_files(self) -> dict[str, str]:
        return {f"generated/{FIGURES_DIR}/{pdf_name(f)}": FIGURES[f].caption for f in self.global_figures()}

    @cached_property
    def generated(self) -> str:
        return f"{self.paper_dir}/generated"

    @cached_property
    def figure_pdfs(self) -> list[str]:
        return [f"{self.paper_dir}/{p}" for files in self.study_figure_files.values() for p in files] + [
            f"{self.paper_dir}/{p}" for p in self.global_figure_files]

    @cached_property
    def numbers_outputs(self) -> list[str]:
        return [f"{self.generated}/{f}" for f in generated_files(self.studies)]

    # -- one figure job ---------------------------------------------------------------------------

    def figure_cells(self, figure: str, study: str | None = None) -> dict[str, str]:
        """Cell id -> name of the cells whose run files (metrics, observables) the figure reads."""
        which = FIGURES[figure].cells
        if which == "study":
            s = self.studies[study]
            return {c.id: c.name for c in (s.baseline, *s.variants)}
        if which == "studies":
            return self.study_cells
        if which == "multi_task":
            return {self.by_name[n].id: n for n in self.multi_task}
        if which in ("progress", "progress_division"):
            cell = self.progress_cells[figure]
            return {self.by_name[cell].id: cell}
        return {}

    def figure_options(self, figure: str, study: str | None = None) -> dict[str, dict]:
        """{"data": keyword options of figure_data.<module>, "draw": those of plots.<module>.draw}."""
        cells = self.figure_cells(figure, study)
        if figure == "accuracy":
            return {"data": {"cells": cells}, "draw": {"study": study}}
        if figure in ("hmm-map", "matrix-map"):
            return {"data": {}, "draw": {"study": study if figure == "hmm-map" else "matrix"}}
        if figure in PROGRESS_OPERATIONS:
            cell = self.progress_cells[figure]
            training = self.by_name[cell].config.training
            return {"data": {"seed": training.seeds[0],
                             "thresholds": {"memorise_threshold": training.memorise_threshold,
                                            "grok_threshold": training.grok_threshold}},
                    "draw": {"cell": cell, "seed": training.seeds[0]}}
        if figure == "trajectories":
            return {"data": {"cells": cells, "observables": TRAJECTORY_OBSERVABLES}, "draw": {}}
        if figure == "phase-diagram":
            axes = self.paper["phase_diagram"]
            return {"data": {"axes": axes, "labels": {c.name: c.labels for c in self.cells.values()}},
                    "draw": {"axes": axes}}
        return {"data": {"cells": cells} if FIGURES[figure].cells else {}, "draw": {}}
