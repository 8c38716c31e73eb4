# groklab: config matrix -> training jobs -> tables, HMM maps, figures -> paper. Wiring only; logic lives in src/groklab.
# `--configfile X.yaml` replaces config.yaml (instead of merging into it), so a small test or
# cluster config never inherits the default matrix's axes.
import sys

from groklab.checks import load_workflow_config
from groklab.config.cells import ConfigError

if not workflow.overwrite_configfiles:
    try:  # Snakemake's own loader does not say where a YAML syntax error is
        load_workflow_config("config.yaml")
    except ConfigError as exc:
        sys.exit(f"groklab: config error: {exc}")

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/hmm.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/paper.smk"


# Every run is a target itself: a deleted run directory is retrained (and everything downstream of it
# rebuilt) even though the tables made from it still exist.
rule all:
    input:
        all_run_files("metrics.parquet"),
        RUNS_SUMMARY,
        HMM_OUTPUTS,
        rules.hmm_matrix_fit.output if MAP_CELLS else [],
        SPEEDUPS,
        CLAIMS,
        LADDER,
        LADDER_TREND,
        rules.mechanics.output,
        PAPER_TARGETS,
    default_target: True
