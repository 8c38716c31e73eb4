# Validate the config against workflow/schemas/config.schema.yaml (defaults filled in place),
# expand the matrix into cells, and define the helpers the other rule files use.
import sys

from snakemake.utils import min_version

from groklab.config import ConfigError
from groklab.matrix import cell_record, expand

min_version("8.0")

try:
    CELLS = {cell.id: cell for cell in expand(config)}
except ConfigError as exc:
    sys.exit(f"groklab: config error: {exc}")

RESULTS = config["results_dir"]
RUNS_SUMMARY = f"{RESULTS}/summary/runs.parquet"


wildcard_constraints:
    cell="[^/]+",


def get_cell_record(wildcards):
    return cell_record(CELLS[wildcards.cell])


def all_run_files(name):
    return [f"{RESULTS}/runs/{cell_id}/{name}" for cell_id in CELLS]
