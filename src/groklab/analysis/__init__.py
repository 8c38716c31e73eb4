"""Stage 2, analysis: from run directories to tables. Owns reading runs (`collect`), grok events
(`events`) and the per-run summary (`aggregate`), statistics, speedups and claims, phases, HMM
fitting (`hmm`), lead-lag ranking, the forecast and the mechanics tables.

May import: groklab.config, groklab.maps, groklab.training's vocabulary (the observables
registry, run-directory layout); never the training loop, never groklab.paper.
"""
