"""Training maps shared by training and analysis: the HMM feature matrix, the pooled scaler and
the online (forward-filter) decoder of a fitted map. Fitting maps is analysis's job
(groklab.analysis.hmm); this package only reads and applies them.

May import: groklab.config and third-party libraries; never training, analysis or paper.
"""
