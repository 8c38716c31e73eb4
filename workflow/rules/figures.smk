# One rule per figure; each reads result tables only and lists its plotting module (and the shared
# style) as an input, so editing a figure module reruns that figure and the paper, never training
# or HMM fitting. All figures are local jobs (plotting is light).
localrules:
    figure_accuracy,
    figure_hmm_map,
    figure_hmm_selection,
    figure_matrix_map,
    figure_speedups,
    figure_progress,
    figure_per_operation,
    figure_trajectories,
    figure_lead_heatmap,
    figure_phase_diagram,
    figure_leadlag_runs,


rule figure_accuracy:
    input:
        **plot_inputs("accuracy"),
        metrics=get_study_run_files("metrics.parquet"),
        runs=RUNS_SUMMARY,
    output:
        figure_output("accuracy", study_wildcard=True),
    params:
        module="accuracy",
        options=lambda w: {"study": w.study, "cells": get_study_cells(w)},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/accuracy-{{study}}.log",
    script:
        "../scripts/figure.py"


rule figure_hmm_map:
    input:
        **plot_inputs("hmm_map"),
        map=rules.hmm_fit.output.map,
    output:
        figure_output("hmm-map", study_wildcard=True),
    params:
        module="hmm_map",
        options=lambda w: {"study": w.study},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/hmm-map-{{study}}.log",
    script:
        "../scripts/figure.py"


rule figure_hmm_selection:
    input:
        **plot_inputs("hmm_selection"),
        map=rules.hmm_fit.output.map,
        selection=rules.hmm_fit.output.selection,
    output:
        figure_output("hmm-selection", study_wildcard=True),
    params:
        module="hmm_selection",
        options=lambda w: {"study": w.study},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/hmm-selection-{{study}}.log",
    script:
        "../scripts/figure.py"


rule figure_matrix_map:
    input:
        **plot_inputs("hmm_map"),
        map=rules.hmm_matrix_fit.output.map,
    output:
        figure_output("matrix-map"),
    params:
        module="hmm_map",
        options={"study": "matrix"},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/matrix-map.log",
    script:
        "../scripts/figure.py"


rule figure_speedups:
    input:
        **plot_inputs("speedups"),
        speedups=SPEEDUPS,
    output:
        figure_output("speedups"),
    params:
        module="speedups",
        options={},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/speedups.log",
    script:
        "../scripts/figure.py"


rule figure_progress:
    input:
        **plot_inputs("progress"),
        metrics=f"{RESULTS}/runs/{CELL_NAMES[PROGRESS_CELL].id}/metrics.parquet" if PROGRESS_CELL else [],
        observables=f"{RESULTS}/runs/{CELL_NAMES[PROGRESS_CELL].id}/observables.parquet" if PROGRESS_CELL else [],
    output:
        figure_output("progress"),
    params:
        module="progress",
        options=lambda w: {"cell": PROGRESS_CELL, "seed": CELL_NAMES[PROGRESS_CELL].config.training.seeds[0],
                           "thresholds": {"memorise_threshold": CELL_NAMES[PROGRESS_CELL].config.training.memorise_threshold,
                                          "grok_threshold": CELL_NAMES[PROGRESS_CELL].config.training.grok_threshold}},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/progress.log",
    script:
        "../scripts/figure.py"


rule figure_per_operation:
    input:
        **plot_inputs("per_operation"),
        metrics=[f"{RESULTS}/runs/{CELL_NAMES[n].id}/metrics.parquet" for n in MULTI_TASK],
        runs=RUNS_SUMMARY,
    output:
        figure_output("per-operation"),
    params:
        module="per_operation",
        options=lambda w: {"cells": {CELL_NAMES[n].id: n for n in MULTI_TASK}},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/per-operation.log",
    script:
        "../scripts/figure.py"


rule figure_trajectories:
    input:
        **plot_inputs("trajectories"),
        observables=[f"{RESULTS}/runs/{i}/observables.parquet" for i in study_cells_named()],
        runs=RUNS_SUMMARY,
    output:
        figure_output("trajectories"),
    params:
        module="trajectories",
        options=lambda w: {"cells": study_cells_named(), "observables": TRAJECTORY_OBSERVABLES},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/trajectories.log",
    script:
        "../scripts/figure.py"


rule figure_lead_heatmap:
    input:
        **plot_inputs("lead_heatmap"),
        observables=[f"{RESULTS}/runs/{i}/observables.parquet" for i in study_cells_named()],
        runs=RUNS_SUMMARY,
    output:
        figure_output("lead-heatmap"),
    params:
        module="lead_heatmap",
        options=lambda w: {"cells": study_cells_named()},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/lead-heatmap.log",
    script:
        "../scripts/figure.py"


rule figure_phase_diagram:
    input:
        **plot_inputs("phase_diagram"),
        runs=RUNS_SUMMARY,
    output:
        figure_output("phase-diagram"),
    params:
        module="phase_diagram",
        options=lambda w: {"axes": config["paper"]["phase_diagram"], "labels": axis_labels()},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/phase-diagram.log",
    script:
        "../scripts/figure.py"


rule figure_leadlag_runs:
    input:
        **plot_inputs("leadlag_runs"),
        leadlag=rules.mechanics.output.leadlag,
        observables=[f"{RESULTS}/runs/{i}/observables.parquet" for i in study_cells_named()],
        runs=RUNS_SUMMARY,
    output:
        figure_output("leadlag-runs"),
    params:
        module="leadlag_runs",
        options=lambda w: {"cells": study_cells_named()},
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/leadlag-runs.log",
    script:
        "../scripts/figure.py"
