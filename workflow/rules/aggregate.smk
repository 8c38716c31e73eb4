# Light steps run on the submitting machine, never as cluster jobs: the aggregation and the
# figures (plotting only). Training and the HMM fits are cluster jobs (profiles/slurm).
localrules:
    aggregate_runs,


rule aggregate_runs:
    """One row per model: memorisation step, grok step, delay (also in examples seen and % of
    budget), final accuracies, Nanda et al.'s phase ends and their Fourier evidence (from
    observables.parquet); and one row per cell: its axes, resolved config and studies (the table
    `groklab.open` joins)."""
    input:
        metrics=all_run_files("metrics.parquet"),
        observables=all_run_files("observables.parquet"),
        configs=all_run_files("config.json"),
        code=code_files("aggregate_runs"),
    output:
        runs=RUNS_SUMMARY,
        cells=CELLS_SUMMARY,
    params:
        axes={c.id: c.labels for c in CELLS.values()},
        studies={s.name: [s.baseline.name, [v.name for v in s.variants]] for s in STUDIES.values()},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/aggregate_runs.log",
    script:
        "../scripts/aggregate_runs.py"


rule mechanics:
    """Which observables change before grokking (lead-lag ranking) and how well early observables
    and training-map states forecast the grok step (leave-one-cell-out cross-validation)."""
    input:
        observables=all_run_files("observables.parquet"),
        metrics=all_run_files("metrics.parquet"),
        runs=RUNS_SUMMARY,
        **MATRIX_MAP_FILES,
        code=code_files("mechanics"),
    output:
        changes=f"{RESULTS}/mechanics/changes.parquet",
        leadlag=f"{RESULTS}/mechanics/leadlag.parquet",
        forecast=f"{RESULTS}/mechanics/forecast.parquet",
        # CSV copies for the HTML report (io.write_table), which cannot show Parquet
        leadlag_csv=report(csv_copy(f"{RESULTS}/mechanics/leadlag.parquet"), caption="../report/leadlag-table.rst", category="Tables"),
        forecast_csv=report(csv_copy(f"{RESULTS}/mechanics/forecast.parquet"), caption="../report/forecast-table.rst", category="Tables"),
        weights=f"{RESULTS}/mechanics/forecast_weights.parquet",
    params:
        cells={c.id: c.name for c in CELLS.values()},
        studies={s.name: [c.name for c in (s.baseline, *s.variants)] for s in STUDIES.values()},
        memorise_threshold=next(iter(CELLS.values())).config.training.memorise_threshold,
        hmm=config["hmm"] if MAP_CELLS else None,
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/mechanics.log",
    script:
        "../scripts/mechanics.py"
