# Validate the config against workflow/schemas/config.schema.yaml (defaults filled in place),
# expand the matrix into cells, and define the helpers the other rule files use.
import os
import shutil
import sys

from snakemake.utils import min_version

import groklab
from groklab.checks import check_config
from groklab.dag import code_inputs, module_inputs
from groklab.config.cells import ConfigError
from groklab.config.matrix import cell_record
from groklab.training.rundir import run_dir_problem

min_version("8.0")

try:
    MATRIX = check_config(config)
except ConfigError as exc:
    sys.exit(f"groklab: config error: {exc}")
CELLS, STUDIES, MAP_CELLS = MATRIX.cells, MATRIX.studies, MATRIX.map_cells

RESULTS = config["results_dir"]
# Finished runs that cannot be trusted (truncated file, another cell's results, older code) stop
# the workflow here, before any job, naming the file; nothing is deleted.
RUN_PROBLEMS = [p for c in CELLS.values() if (p := run_dir_problem(f"{RESULTS}/runs/{c.id}", c.config_hash))]
if RUN_PROBLEMS:
    sys.exit("\n".join(f"groklab: results error: {p}" for p in RUN_PROBLEMS))
RUNS_SUMMARY = f"{RESULTS}/summary/runs.parquet"


HMM_OUTPUTS = [f"{RESULTS}/hmm/{s}/{f}" for s in STUDIES for f in ("detours.parquet", "model.json")]
MATRIX_MAP = f"{RESULTS}/hmm/_matrix"
MAP_READERS = {c.id for c in CELLS.values() if c.config.reads_training_map}
# no cell records observables (e.g. a calibration matrix): no matrix map, no state-occupancy forecast
MATRIX_MAP_FILES = {"matrix_map": f"{MATRIX_MAP}/model.json"} if MAP_CELLS else {}


wildcard_constraints:
    cell="[^/]+",
    study="[A-Za-z][A-Za-z0-9_-]*",


def code_files(script):
    """The groklab modules a cheap step's adapter script imports (groklab.dag: its import closure);
    editing one reruns that step. Never used for training or HMM fits, which are too costly to
    rerun on a code edit."""
    return code_inputs(f"{workflow.basedir}/workflow/scripts/{script}.py")


def get_cell_record(wildcards):
    return cell_record(CELLS[wildcards.cell])


def all_run_files(name):
    return [f"{RESULTS}/runs/{cell_id}/{name}" for cell_id in CELLS]


def study_cells(study):
    s = STUDIES[study]
    return [s.baseline, *s.variants]


def get_study_cells(wildcards):
    """Cell id -> readable name for the cells of one study."""
    return {c.id: c.name for c in study_cells(wildcards.study)}


def get_study_run_files(name):
    return lambda wildcards: [f"{RESULTS}/runs/{c.id}/{name}" for c in study_cells(wildcards.study)]


def get_train_map(wildcards):
    """The matrix map's model.json for a cell with hmm_state interventions (none for the others)."""
    return {"hmm_map": f"{MATRIX_MAP}/model.json"} if wildcards.cell in MAP_READERS else {}


# The paper: generated inputs under <paper.dir>/generated, the hand-written main.tex from the repository.
from groklab.paper.figures import FIGURES, TRAJECTORY_OBSERVABLES, pdf_name, progress_cell

PAPER = config["paper"]["dir"]
GENERATED = f"{PAPER}/generated"
# relative to the working directory, so a moved or copied project keeps its provenance
MAIN_TEX = os.path.relpath(f"{workflow.basedir}/paper/main.tex")
# The groklab code that actually runs (the checkout's src/ with the editable install of scripts/setup.sh).
PACKAGE = os.path.dirname(groklab.__file__)
MULTI_TASK = [c.name for c in CELLS.values() if len(c.config.task.operations) > 1]
CELL_NAMES = {c.name: c for c in CELLS.values()}
PROGRESS_CELL = progress_cell(config["paper"], {c.name: c.config.task.operations for c in CELLS.values()})


def wanted_global_figures():
    """Global figures this matrix can draw (a figure with no data is left out, not drawn empty)."""
    wanted = {"matrix-map": bool(MAP_CELLS), "speedups": bool(STUDIES), "progress": PROGRESS_CELL is not None, "per-operation": bool(MULTI_TASK),
              "trajectories": bool(STUDIES), "lead-heatmap": bool(STUDIES), "leadlag-runs": bool(STUDIES),
              "phase-diagram": config["paper"]["phase_diagram"] is not None}
    return [f for f, ok in wanted.items() if ok]


STUDY_FIGURE_FILES = {s: {f"generated/figures/{pdf_name(f, s)}": FIGURES[f].caption
                          for f in ("accuracy", "hmm-map", "hmm-selection")} for s in STUDIES}
GLOBAL_FIGURE_FILES = {f"generated/figures/{pdf_name(f)}": FIGURES[f].caption for f in wanted_global_figures()}
FIGURE_PDFS = [f"{PAPER}/{p}" for files in STUDY_FIGURE_FILES.values() for p in files] + [
    f"{PAPER}/{p}" for p in GLOBAL_FIGURE_FILES
]

SPEEDUPS = f"{RESULTS}/tables/speedups.parquet"
CLAIMS = f"{RESULTS}/tables/claims.parquet"
NUMBERS_OUTPUTS = [f"{GENERATED}/{f}" for f in ("numbers.tex", "studies.tex", "figures.tex", "provenance.json",
                                                 "tables/claims.tex", "tables/leadlag.tex", "tables/forecast.tex",
                                                 "tables/interventions.tex")] + [
    f"{GENERATED}/tables/speedups-{s}.tex" for s in STUDIES
]
# latexmk from Debian's TeX Live (README: Paper); without it the paper's sources are still generated.
LATEX = shutil.which("latexmk") is not None and os.environ.get("GROKLAB_LATEX", "1") != "0"
PAPER_TARGETS = NUMBERS_OUTPUTS + FIGURE_PDFS + ([f"{PAPER}/main.pdf"] if LATEX else [])
if not LATEX:
    print(f"groklab: latexmk not found (or GROKLAB_LATEX=0): {PAPER}/main.pdf is skipped; its sources are "
          f"generated under {GENERATED} (README: Paper lists the TeX packages)", file=sys.stderr)


# Figures: each figure job lists its own plotting module and the shared style as inputs.
def plot_inputs(module):
    """The figure's own module and what every figure shares (style, table readers)."""
    return {"code": module_inputs(f"groklab.paper.plots.{module}")}


def figure_output(figure, study_wildcard=False):
    path = f"{GENERATED}/figures/{pdf_name(figure, '{study}' if study_wildcard else None)}"
    return report(path, caption=f"../report/{figure}.rst", category="Figures",
                  subcategory="{study}" if study_wildcard else "All studies")


def axis_labels():
    """Cell name -> {axis: value label} for the cross-product cells ("lr~0.001__wd~1")."""
    return {c.name: dict(part.split("~", 1) for part in c.name.split("__") if "~" in part) for c in CELLS.values()}


def study_cells_named():
    return {c.id: c.name for s in STUDIES.values() for c in (s.baseline, *s.variants)}
