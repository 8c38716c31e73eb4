# Light steps run on the submitting machine, never as cluster jobs: the aggregation and the
# figures (plotting only). Training and the HMM fits are cluster jobs (profiles/slurm).
localrules:
    aggregate_runs,


rule aggregate_runs:
    """One row per model: memorisation step, grok step, delay (also in % of budget), final accuracies."""
    input:
        metrics=all_run_files("metrics.parquet"),
        configs=all_run_files("config.json"),
        code=code_files("events.py", "aggregate.py"),
    output:
        RUNS_SUMMARY,
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/aggregate_runs.log",
    script:
        "../scripts/aggregate_runs.py"
