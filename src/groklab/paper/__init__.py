"""Stage 3, the generated paper: numbers (each with a provenance record), queries over the analysis
tables, LaTeX tables and macros, the build and the audit; `plots/` draws the figures.

May import: everything below it (config, maps, analysis, training's vocabulary); never the
training loop.
"""
