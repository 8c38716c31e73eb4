# Validate the config against workflow/schemas/config.schema.yaml (defaults filled in place),
# expand the matrix into cells, and define the helpers the other rule files use.
import sys

from snakemake.utils import min_version

from groklab.config import ConfigError
from groklab.matrix import cell_record, expand, studies

min_version("8.0")

try:
    CELLS = {cell.id: cell for cell in expand(config)}
    STUDIES = {s.name: s for s in studies(config, list(CELLS.values()))}
except ConfigError as exc:
    sys.exit(f"groklab: config error: {exc}")

RESULTS = config["results_dir"]
RUNS_SUMMARY = f"{RESULTS}/summary/runs.parquet"


HMM_OUTPUTS = [f"{RESULTS}/hmm/{s}/{f}" for s in STUDIES for f in ("detours.parquet", "map.pdf", "selection.pdf")]


wildcard_constraints:
    cell="[^/]+",
    study="[A-Za-z][A-Za-z0-9_-]*",


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
