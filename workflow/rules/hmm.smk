# HMM training maps: one per study (hmm.normalise: one pooled scale by default, or each run
# z-scored within itself as Hu et al.) and the matrix map over every cell (always pooled, so
# hmm_state interventions and the forecast can decode a run from its first steps). Grok events for the detour tables come from the cells' own files.
rule hmm_fit:
    """Training map of one study: K selection, canonical states, Viterbi paths, map, detour table."""
    input:
        observables=get_study_run_files("observables.parquet"),
        metrics=get_study_run_files("metrics.parquet"),
        configs=get_study_run_files("config.json"),
    output:
        selection=f"{RESULTS}/hmm/{{study}}/selection.parquet",
        model=f"{RESULTS}/hmm/{{study}}/model.json",
        paths=f"{RESULTS}/hmm/{{study}}/paths.parquet",
        map=f"{RESULTS}/hmm/{{study}}/map.json",
        detours=f"{RESULTS}/hmm/{{study}}/detours.parquet",
    params:
        hmm=config["hmm"],
        cells=get_study_cells,
        normalise=config["hmm"]["normalise"],
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/hmm/{{study}}.log",
    script:
        "../scripts/hmm_fit.py"


rule hmm_matrix_fit:
    """The matrix training map: every cell but those with hmm_state interventions, pooled normalisation."""
    input:
        observables=[f"{RESULTS}/runs/{c.id}/observables.parquet" for c in MAP_CELLS],
        metrics=[f"{RESULTS}/runs/{c.id}/metrics.parquet" for c in MAP_CELLS],
        configs=[f"{RESULTS}/runs/{c.id}/config.json" for c in MAP_CELLS],
    output:
        selection=f"{MATRIX_MAP}/selection.parquet",
        model=f"{MATRIX_MAP}/model.json",
        paths=f"{MATRIX_MAP}/paths.parquet",
        map=f"{MATRIX_MAP}/map.json",
        detours=f"{MATRIX_MAP}/detours.parquet",
    params:
        hmm=config["hmm"],
        cells={c.id: c.name for c in MAP_CELLS},
        normalise="pooled",
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/hmm/_matrix.log",
    script:
        "../scripts/hmm_fit.py"
