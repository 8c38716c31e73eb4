# Validate the config against workflow/schemas/config.schema.yaml (defaults filled in place),
# expand the matrix into cells, and define the helpers the other rule files use.
import os
import re
import shutil
import sys

from snakemake.utils import min_version

from groklab.checks import check_config, load_workflow_config
from groklab.dag import code_inputs
from groklab.io import csv_copy
from groklab.config.cells import ConfigError
from groklab.config.matrix import cell_record

min_version("8.0")

try:
    # Snakemake's own YAML loader keeps the last of a key given twice: read each config file again
    # with groklab's, which refuses it with the line (a --configfile that Snakemake cannot parse at
    # all fails before this Snakefile runs: `groklab snakemake` reads it first, docs/configuration.md)
    for path in workflow.configfiles:
        load_workflow_config(path)
    MATRIX = check_config(config)
except ConfigError as exc:
    sys.exit(f"groklab: config error: {exc}")
CELLS, STUDIES, MAP_CELLS = MATRIX.cells, MATRIX.studies, MATRIX.map_cells

RESULTS = config["results_dir"]
RUNS_SUMMARY = f"{RESULTS}/summary/runs.parquet"
CELLS_SUMMARY = f"{RESULTS}/summary/cells.parquet"


HMM_OUTPUTS = [f"{RESULTS}/hmm/{s}/{f}" for s in STUDIES for f in ("detours.parquet", "model.json")]
MATRIX_MAP = f"{RESULTS}/hmm/_matrix"
MAP_READERS = MATRIX.map_readers
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


# The paper: generated inputs under <paper.dir>/generated, the hand-written main.tex from the repository.
# Which figures and generated files this matrix has is the package's (groklab.paper.targets).
from groklab.paper.figures import FIGURES
from groklab.paper.targets import PaperTargets, figure_code, figure_names

PAPER = config["paper"]["dir"]
PAPER_OUT = PaperTargets(RESULTS, PAPER, CELLS, STUDIES, MAP_CELLS, config["paper"])
GENERATED = PAPER_OUT.generated
# relative to the working directory, so a moved or copied project keeps its provenance
MAIN_TEX = os.path.relpath(f"{workflow.basedir}/paper/main.tex")

SPEEDUPS = f"{RESULTS}/tables/speedups.parquet"
CLAIMS = f"{RESULTS}/tables/claims.parquet"
LADDER = f"{RESULTS}/tables/ladder.parquet"
LADDER_TREND = f"{RESULTS}/tables/ladder_trend.parquet"
NUMBERS_OUTPUTS = PAPER_OUT.numbers_outputs
FIGURE_PDFS = PAPER_OUT.figure_pdfs
# latexmk from Debian's TeX Live (docs/paper.md: TeX); without it the paper's sources are still generated.
LATEX = shutil.which("latexmk") is not None and os.environ.get("GROKLAB_LATEX", "1") != "0"
PAPER_TARGETS = NUMBERS_OUTPUTS + FIGURE_PDFS + ([f"{PAPER}/main.pdf"] if LATEX else [])
if not LATEX:
    print(f"groklab: latexmk not found (or GROKLAB_LATEX=0): {PAPER}/main.pdf is skipped; its sources are "
          f"generated under {GENERATED} (docs/paper.md lists the TeX packages)", file=sys.stderr)


# The figure rules (figures.smk): what a figure job reads, its params.
def figure_inputs(wildcards):
    """The result files FIGURES[figure].inputs names, and the code that computes and draws it."""
    figure, study = wildcards.figure, wildcards.get("study")
    cells = PAPER_OUT.figure_cells(figure, study)
    hmm = rules.hmm_fit.output if study else rules.hmm_matrix_fit.output
    files = {"metrics": [f"{RESULTS}/runs/{i}/metrics.parquet" for i in cells],
             "observables": [f"{RESULTS}/runs/{i}/observables.parquet" for i in cells],
             "runs": RUNS_SUMMARY, "speedups": SPEEDUPS, "ladder": LADDER, "ladder_trend": LADDER_TREND,
             "leadlag": rules.mechanics.output.leadlag,
             "map": hmm.map.replace("{study}", study or ""), "selection": hmm.selection.replace("{study}", study or "")}
    code = figure_code(figure, f"{workflow.basedir}/workflow/scripts/figure.py")
    return {"code": code, **{kind: files[kind] for kind in FIGURES[figure].inputs}}


def figure_params(key):
    """params of a figure job: its module, caption (workflow/report/<figure>.rst) or the options
    of its compute ("data") or draw half ("draw")."""
    def get(wildcards):
        if key == "module":
            return FIGURES[wildcards.figure].module
        if key == "caption":
            return open(f"{workflow.basedir}/workflow/report/{wildcards.figure}.rst").read()
        return PAPER_OUT.figure_options(wildcards.figure, wildcards.get("study"))[key]
    return get


def one_of(names):
    return "|".join(re.escape(n) for n in names)
