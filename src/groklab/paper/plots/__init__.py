"""Figures: each module draws one figure from its data table (groklab.analysis.figure_data computes it)."""
