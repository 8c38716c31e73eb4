# Speedup and claims tables, the paper's numbers (macros + table cells, each with a provenance
# record), and the LaTeX build. `snakemake paper` regenerates just the paper.
localrules:
    speedup_tables,
    numbers,
    paper_pdf,
    paper,


rule speedup_tables:
    """Per study: grok step and delay with intervals, speedups vs the baseline; the claims table
    (with the robustness replicate's verdict); each claim at every rung of the delay ladder and its
    trend carried to the target delay."""
    input:
        runs=RUNS_SUMMARY,
        code=code_files("speedup_tables"),
    output:
        speedups=SPEEDUPS,
        claims=CLAIMS,
        ladder=LADDER,
        ladder_trend=LADDER_TREND,
        # CSV copies for the HTML report (io.write_table), which cannot show Parquet
        speedups_csv=report(csv_copy(SPEEDUPS), caption="../report/speedups-table.rst", category="Tables"),
        claims_csv=report(csv_copy(CLAIMS), caption="../report/claims-table.rst", category="Tables"),
        ladder_csv=report(csv_copy(LADDER), caption="../report/ladder-table.rst", category="Tables"),
        ladder_trend_csv=report(csv_copy(LADDER_TREND), caption="../report/ladder_trend-table.rst", category="Tables"),
    params:
        studies={s.name: (s.baseline.name, [v.name for v in s.variants]) for s in STUDIES.values()},
        paper=config["paper"],
        ladder=config["ladder"],
        robustness=config["robustness"],
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/speedup_tables.log",
    script:
        "../scripts/speedup_tables.py"


rule numbers:
    """Every number the paper quotes, recomputed from the runs, with its provenance record."""
    input:
        metrics=all_run_files("metrics.parquet"),
        configs=all_run_files("config.json"),
        observables=all_run_files("observables.parquet"),
        hmm=[f"{RESULTS}/hmm/{s}/model.json" for s in STUDIES],
        **MATRIX_MAP_FILES,
        # the speedup, claims, lead-lag and forecast numbers are read from these tables, not recomputed
        speedups=SPEEDUPS,
        claims=CLAIMS,
        ladder=LADDER,
        ladder_trend=LADDER_TREND,
        leadlag=rules.mechanics.output.leadlag,
        forecast=rules.mechanics.output.forecast,
        code=code_files("numbers"),
    output:
        NUMBERS_OUTPUTS,
    params:
        # results/runs/<cell>/config.json -> results
        results=lambda w, input: os.path.dirname(os.path.dirname(os.path.dirname(input.configs[0]))),
        generated=lambda w, output: os.path.dirname(output[0]),
        cells={c.name: cell_record(c) for c in CELLS.values()},
        studies={s.name: (s.baseline.name, [v.name for v in s.variants], s.description) for s in STUDIES.values()},
        paper=config["paper"],
        ladder=config["ladder"],
        robustness=config["robustness"],
        hmm=config["hmm"] if MAP_CELLS else None,
        study_figures=PAPER_OUT.study_figure_files,
        global_figures=PAPER_OUT.global_figure_files,
        repo=lambda w, input: os.path.dirname(input.code[0]),   # a directory of the checkout, for its git commit
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/numbers.log",
    script:
        "../scripts/numbers.py"


rule paper_pdf:
    """latexmk on the hand-written main.tex with the generated inputs (run in the paper directory)."""
    input:
        main=MAIN_TEX,
        numbers=NUMBERS_OUTPUTS,
        figures=FIGURE_PDFS,
    output:
        report(f"{PAPER}/main.pdf", caption="../report/paper.rst", category="Paper"),
    params:
        dir=lambda w, output: os.path.dirname(output[0]) or ".",
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/paper.log",
    shell:
        # TeX resolves generated/... against the paper directory; the log path must survive the cd
        "log=$(realpath -m {log:q}); main=$(realpath {input.main:q}); cd {params.dir:q} && latexmk -pdf -interaction=nonstopmode -halt-on-error"
        " -outdir=build \"$main\" > \"$log\" 2>&1 && mv build/main.pdf main.pdf"


rule paper:
    """`snakemake paper`: the tables, figures, numbers and (with TeX installed) main.pdf."""
    input:
        PAPER_TARGETS,
