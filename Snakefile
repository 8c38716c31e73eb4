# groklab: config matrix -> training jobs -> tables, HMM maps, figures -> paper. Wiring only; logic lives in src/groklab.
# `--configfile X.yaml` replaces config.yaml (instead of merging into it), so a small test or
# cluster config never inherits the default matrix's axes.
if not workflow.overwrite_configfiles:

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
        SPEEDUPS,
        CLAIMS,
        PAPER_TARGETS,
    default_target: True
