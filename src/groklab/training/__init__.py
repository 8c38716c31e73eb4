"""Stage 1, training: one job trains an ensemble of E models and writes its run directory.
Owns the loop (`loop`), data split and batches, losses, evaluation, the ensemble optimizers,
interventions, device/resource choice, the run-directory layout (`rundir`), `models/` and
`observables/`.

May import: groklab.config, groklab.maps (the online decoder of a training map), groklab.io,
groklab.seeding. Never groklab.analysis or groklab.paper (contract in pyproject.toml).
"""
