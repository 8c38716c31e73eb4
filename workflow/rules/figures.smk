# The figures: one rule per scope (a PDF per study, or one for the matrix), driven by
# groklab.paper.figures.FIGURES: each entry names its module and the result files it reads. A job
# computes the figure's data (groklab.analysis.figure_data.<module>), writes it as
# results/figures/<pdf stem>.parquet and draws the PDF from that table (groklab.paper.plots.<module>).
# Its code inputs are the adapter's import closure and the plotting module's, so editing a figure
# module reruns that figure and the paper, never training or HMM fitting. Plotting is light: local jobs.
localrules:
    figure,
    study_figure,


rule figure:
    input:
        unpack(figure_inputs),
    output:
        pdf=report(f"{GENERATED}/figures/{{figure}}.pdf", caption="../report/figure.rst", category="Figures",
                   subcategory="All studies"),
        table=f"{RESULTS}/figures/{{figure}}.parquet",
    wildcard_constraints:
        figure=one_of(figure_names("global")),
    params:
        module=figure_params("module"),
        caption=figure_params("caption"),
        data=figure_params("data"),
        draw=figure_params("draw"),
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/{{figure}}.log",
    script:
        "../scripts/figure.py"


rule study_figure:
    input:
        unpack(figure_inputs),
    output:
        pdf=report(f"{GENERATED}/figures/{{figure}}-{{study}}.pdf", caption="../report/figure.rst", category="Figures",
                   subcategory="{study}"),
        table=f"{RESULTS}/figures/{{figure}}-{{study}}.parquet",
    wildcard_constraints:
        figure=one_of(figure_names("study")),
    params:
        module=figure_params("module"),
        caption=figure_params("caption"),
        data=figure_params("data"),
        draw=figure_params("draw"),
    conda:
        "../envs/groklab.yaml"
    log:
        f"{RESULTS}/logs/figures/{{figure}}-{{study}}.log",
    script:
        "../scripts/figure.py"
