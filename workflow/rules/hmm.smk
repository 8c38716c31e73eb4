rule hmm_fit:
    """Training map of one study: K selection, canonical states, Viterbi paths, map, detour table."""
    input:
        observables=get_study_run_files("observables.parquet"),
        runs=RUNS_SUMMARY,
    output:
        selection=f"{RESULTS}/hmm/{{study}}/selection.parquet",
        model=f"{RESULTS}/hmm/{{study}}/model.json",
        paths=f"{RESULTS}/hmm/{{study}}/paths.parquet",
        map=f"{RESULTS}/hmm/{{study}}/map.json",
        detours=f"{RESULTS}/hmm/{{study}}/detours.parquet",
    params:
        hmm=config["hmm"],
        cells=get_study_cells,
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/hmm/{{study}}.log",
    script:
        "../scripts/hmm_fit.py"

