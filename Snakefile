# groklab: config matrix -> training jobs -> summary tables. Wiring only; logic lives in src/groklab.
# `--configfile X.yaml` replaces config.yaml (instead of merging into it), so a small test or
# cluster config never inherits the default matrix's axes.
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/aggregate.smk"
include: "workflow/rules/hmm.smk"


rule all:
    input:
        RUNS_SUMMARY,
        HMM_OUTPUTS,
    default_target: True
