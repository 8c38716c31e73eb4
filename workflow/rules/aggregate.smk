# The aggregation is light: it runs on the submitting machine, never as a cluster job.
localrules:
    aggregate_runs,


rule aggregate_runs:
    """One row per model: memorisation step, grok step, delay (also in % of budget), final accuracies."""
    input:
        metrics=all_run_files("metrics.parquet"),
        configs=all_run_files("config.json"),
    output:
        RUNS_SUMMARY,
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/aggregate_runs.log",
    script:
        "../scripts/aggregate_runs.py"
