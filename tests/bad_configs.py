"""The bad-config table (tests/test_bad_configs.py): workflow configs written from the docs and
the schema the way a user gets them wrong, each with the one line that must refuse it.

A case is (id, YAML text, expected message part). Cases that need a matrix or a study start from
STUDY, a valid two-cell config with one study; the others are whole files of their own.
"""

STUDY = ("cell: {task: {p: 13}, training: {steps: 100, eval_every: 10, seeds: [0]}}\n"
         "matrix: {axes: {op: {key: task.operations, values: {add: [add], sub: [sub]}}}}\n"
         "studies: {s: {baseline: op~add, variants: [op~sub]}}\n")
TINY = "cell: {task: {p: 13}, training: {steps: 100, eval_every: 10, seeds: [0]}}\n"


def cell(section: str, body: str) -> str:
    """A file whose cell sets one section, e.g. cell('optimizer', '{lr: 0}')."""
    return f"cell:\n  {section}: {body}\n"


def intervention(rule: str, extra_set: str = "") -> str:
    return TINY + f"matrix: {{include: [{{name: r, set: {{{extra_set}training.interventions: [{rule}]}}}}]}}\n"


CASES = [
    # --- the file itself ------------------------------------------------------------------------
    ("yaml-unclosed-brace", "cell:\n  task: {p: 23\n", "bad.yaml: YAML syntax error at line 3, column 1"),
    ("yaml-tab-indent", "cell:\n\ttask: {p: 23}\n", "bad.yaml: YAML syntax error at line 2, column 1: found character '\\t'"),
    ("yaml-empty-file", "", "bad.yaml: empty file; a workflow config is a mapping of sections"),
    ("yaml-only-comments", "# my experiment\n# todo\n", "bad.yaml: empty file; a workflow config is a mapping"),
    ("yaml-top-level-list", "- cell: {task: {p: 23}}\n", "bad.yaml: the top level is a list, not a mapping of sections"),
    ("yaml-top-level-scalar", "experiment one\n", "bad.yaml: the top level is a str, not a mapping of sections"),
    ("yaml-duplicate-top-key", "cell: {task: {p: 13}}\ncell: {task: {p: 17}}\n", "YAML syntax error at line 2, column 1: duplicate key 'cell'"),
    ("yaml-duplicate-nested-key", "cell:\n  optimizer:\n    lr: 0.01\n    lr: 0.5\n", "YAML syntax error at line 4, column 5: duplicate key 'lr'"),
    ("yaml-duplicate-axis", STUDY.replace("{add: [add], sub: [sub]}", "{add: [add], add: [sub]}"), "duplicate key 'add'"),
    ("yaml-bad-indent", "cell:\n  task:\n    p: 23\n   model: {d_model: 64}\n", "bad.yaml: YAML syntax error at line 4, column 4"),
    ("yaml-unclosed-quote", "cell:\n  task: {operations: [\"div]}\n", "bad.yaml: YAML syntax error at line"),
    ("yaml-colon-in-value", "cell:\n  task: p: 23\n", "bad.yaml: YAML syntax error at line 2, column 10"),
    # --- top level --------------------------------------------------------------------------------
    ("top-unknown-key", TINY + "studys: {}\n", "top level: unknown key 'studys' (did you mean 'studies'?)"),
    ("top-results-dir-type", TINY + "results_dir: 3\n", "results_dir: 3 is not of type 'string'"),
    ("top-cell-not-mapping", "cell: 5\n", "cell: 5 is not of type 'object'"),
    ("top-matrix-list", TINY + "matrix: []\n", "matrix: [] is not of type 'object'"),
    # --- cell.task --------------------------------------------------------------------------------
    ("task-p-float", cell("task", "{p: 23.0}"), "cell.task.p: 23.0 is not of type 'integer'"),
    ("task-p-string", cell("task", "{p: '23'}"), "cell.task.p: '23' is not of type 'integer'"),
    ("task-p-too-small", cell("task", "{p: 2}"), "cell.task.p: 2 is less than the minimum of 3"),
    ("task-p-negative", cell("task", "{p: -5}"), "cell.task.p: -5 is less than the minimum of 3"),
    ("task-op-unknown", cell("task", "{operations: [divide]}"), "cell.task.operations[0]: 'divide' is not one of"),
    ("task-op-not-list", cell("task", "{operations: div}"), "cell.task.operations: 'div' is not of type 'array'"),
    ("task-op-empty", cell("task", "{operations: []}"), "cell.task.operations: [] should be non-empty"),
    ("task-op-repeated", cell("task", "{operations: [div, div]}"), "cell.task.operations: ['div', 'div'] has non-unique elements"),
    ("task-fraction-one", cell("task", "{train_fraction: 1.0}"), "cell.task.train_fraction: 1.0 is greater than or equal to the maximum of 1"),
    ("task-fraction-zero", cell("task", "{train_fraction: 0}"), "cell.task.train_fraction: 0 is less than or equal to the minimum of 0"),
    ("task-fraction-percent", cell("task", "{train_fraction: 80}"), "cell.task.train_fraction: 80 is greater than or equal to the maximum of 1"),
    ("task-split-seed-negative", cell("task", "{split_seed: -1}"), "cell.task.split_seed: -1 is less than the minimum of 0"),
    ("task-parity-bits", cell("task", "{operations: [parity], parity_bits: 40}"), "cell.task.parity_bits: 40 is greater than the maximum of 16"),
    ("task-balanced-string", cell("task", "{balanced: 'yes'}"), "cell.task.balanced: 'yes' is not of type 'boolean'"),
    ("task-unknown-key", cell("task", "{prime: 23}"), "cell.task: unknown key 'prime'"),
    ("task-div-composite-p", cell("task", "{p: 24, operations: [div]}"), "cell.task.p: 24 is not prime, but task.operations contains 'div'"),
    ("task-scale-steps-full-batch", cell("task", "{p: 13, operations: [add, div], scale_steps_by_tasks: true}"),
     "cell.task.scale_steps_by_tasks: true with full batch gives each of the 2 operations 2x the examples of a "
     "single-task cell (every step shows every example); set training.batch_size below the training set"),
    ("task-scale-steps-batch-too-big", "cell:\n  task: {p: 13, operations: [add, div], scale_steps_by_tasks: true}\n"
     "  training: {batch_size: 100000}\n", "cell.task.scale_steps_by_tasks: true with full batch"),
    ("task-scale-steps-int", cell("task", "{scale_steps_by_tasks: 1}"), "cell.task.scale_steps_by_tasks: 1 is not of type 'boolean'"),
    # --- cell.model -------------------------------------------------------------------------------
    ("model-d-model-float", cell("model", "{d_model: 64.0}"), "cell.model.d_model: 64.0 is not of type 'integer'"),
    ("model-arch-unknown", cell("model", "{arch: cnn}"), "cell.model.arch: 'cnn' is not one of ['transformer', 'mlp']"),
    ("model-heads-zero", cell("model", "{n_heads: 0}"), "cell.model.n_heads: 0 is less than the minimum of 1"),
    ("model-heads-not-dividing", cell("model", "{d_model: 64, n_heads: 3}"), "cell.model.n_heads: d_model=64 is not divisible by n_heads=3"),
    ("model-act-unknown", cell("model", "{act: tanh}"), "cell.model.act: 'tanh' is not one of ['relu', 'gelu']"),
    ("model-layernorm-string", cell("model", "{layernorm: 'false'}"), "cell.model.layernorm: 'false' is not of type 'boolean'"),
    ("model-d-mlp-negative", cell("model", "{d_mlp: -1}"), "cell.model.d_mlp: -1 is less than the minimum of 1"),
    ("model-unknown-key", cell("model", "{dropout: 0.1}"), "cell.model: unknown key 'dropout'"),
    ("model-layers-fraction", cell("model", "{n_layers: 1.5}"), "cell.model.n_layers: 1.5 is not of type 'integer'"),
    # --- cell.optimizer ---------------------------------------------------------------------------
    ("opt-name-case", cell("optimizer", "{name: Adam}"), "cell.optimizer.name: 'Adam' is not one of ['adamw', 'adam', 'sgd']"),
    ("opt-lr-zero", cell("optimizer", "{lr: 0}"), "cell.optimizer.lr: 0 is less than or equal to the minimum of 0"),
    ("opt-lr-negative", cell("optimizer", "{lr: -0.001}"), "cell.optimizer.lr: -0.001 is less than or equal to the minimum of 0"),
    ("opt-lr-yaml11-string", cell("optimizer", "{lr: 1e-3}"), "cell.optimizer.lr: '1e-3' is not of type 'number'"),
    ("opt-wd-negative", cell("optimizer", "{weight_decay: -1}"), "cell.optimizer.weight_decay: -1 is less than the minimum of 0"),
    ("opt-betas-one", cell("optimizer", "{betas: [0.9]}"), "cell.optimizer.betas: [0.9] is too short"),
    ("opt-betas-reach-one", cell("optimizer", "{betas: [0.9, 1.0]}"), "cell.optimizer.betas[1]: 1.0 is greater than or equal to the maximum of 1"),
    ("opt-betas-scalar", cell("optimizer", "{betas: 0.9}"), "cell.optimizer.betas: 0.9 is not of type 'array'"),
    ("opt-momentum-adamw", cell("optimizer", "{name: adamw, momentum: 0.9}"),
     "cell.optimizer.momentum: 0.9 has no effect with optimizer.name adamw (only sgd reads it)"),
    ("opt-betas-sgd", cell("optimizer", "{name: sgd, momentum: 0.9, betas: [0.8, 0.9]}"),
     "cell.optimizer.betas: [0.8, 0.9] has no effect with optimizer.name sgd (only adam / adamw reads it)"),
    ("opt-nesterov-adam", cell("optimizer", "{name: adam, nesterov: true}"), "cell.optimizer.nesterov: True has no effect with optimizer.name adam"),
    ("opt-eps-sgd", cell("optimizer", "{name: sgd, eps: 1.0e-6}"), "cell.optimizer.eps: 1e-06 has no effect with optimizer.name sgd"),
    ("opt-momentum-one", cell("optimizer", "{name: sgd, momentum: 1.0}"), "cell.optimizer.momentum: 1.0 is greater than or equal to the maximum of 1"),
    ("opt-eps-zero", cell("optimizer", "{eps: 0}"), "cell.optimizer.eps: 0 is less than or equal to the minimum of 0"),
    ("opt-schedule-string", cell("optimizer", "{schedule: cosine}"), "cell.optimizer.schedule: 'cosine' is not of type 'object'"),
    ("opt-schedule-kind", cell("optimizer", "{schedule: {kind: linear}}"), "cell.optimizer.schedule.kind: 'linear' is not one of ['constant', 'cosine']"),
    ("opt-warmup-negative", cell("optimizer", "{schedule: {kind: cosine, warmup_steps: -10}}"), "cell.optimizer.schedule.warmup_steps: -10 is less than the minimum of 0"),
    ("opt-min-lr-ratio", cell("optimizer", "{schedule: {kind: cosine, min_lr_ratio: 2}}"), "cell.optimizer.schedule.min_lr_ratio: 2 is greater than the maximum of 1"),
    ("opt-filters-string", cell("optimizer", "{filters: grokfast_ema}"), "cell.optimizer.filters: 'grokfast_ema' is not of type 'array'"),
    ("opt-filter-kind", cell("optimizer", "{filters: [{kind: grokfast}]}"), "cell.optimizer.filters[0].kind: 'grokfast' is not one of"),
    ("opt-filter-wrong-key", cell("optimizer", "{filters: [{kind: grokfast_ema, window: 100}]}"), "cell.optimizer.filters[0]: unknown key 'window'"),
    ("opt-filter-window-zero", cell("optimizer", "{filters: [{kind: grokfast_ma, window: 0}]}"), "cell.optimizer.filters[0].window: 0 is less than the minimum of 1"),
    ("opt-filter-alpha-one", cell("optimizer", "{filters: [{kind: grokfast_ema, alpha: 1.0}]}"), "cell.optimizer.filters[0].alpha: 1.0 is greater than or equal to the maximum of 1"),
    ("opt-filter-no-kind", cell("optimizer", "{filters: [{lamb: 2}]}"), "cell.optimizer.filters[0]: 'kind' is a required property"),
    ("opt-filter-orthograd-lamb", cell("optimizer", "{filters: [{kind: orthograd, lamb: 2}]}"), "cell.optimizer.filters[0]: unknown key 'lamb'"),
    ("opt-unknown-key", cell("optimizer", "{learning_rate: 0.01}"), "cell.optimizer: unknown key 'learning_rate'"),
    # --- cell.init --------------------------------------------------------------------------------
    ("init-scheme-unknown", cell("init", "{scheme: xavier}"), "cell.init.scheme: 'xavier' is not one of ['default', 'sparse', 'scale', 'low_rank']"),
    ("init-sparsity-one", cell("init", "{scheme: sparse, sparsity: 1.0}"), "cell.init.sparsity: 1.0 is greater than or equal to the maximum of 1"),
    ("init-sparsity-default", cell("init", "{scheme: default, sparsity: 0.5}"), "cell.init.sparsity: 0.5 has no effect with init.scheme default (only sparse reads it)"),
    ("init-alpha-default", cell("init", "{alpha: 0.3}"), "cell.init.alpha: 0.3 has no effect with init.scheme default"),
    ("init-rank-scale", cell("init", "{scheme: scale, rank: 2}"), "cell.init.rank: 2 has no effect with init.scheme scale (only low_rank reads it)"),
    ("init-rank-zero", cell("init", "{scheme: low_rank, rank: 0}"), "cell.init.rank: 0 is less than the minimum of 1"),
    ("init-alpha-zero", cell("init", "{scheme: scale, alpha: 0}"), "cell.init.alpha: 0 is less than or equal to the minimum of 0"),
    # --- cell.training ----------------------------------------------------------------------------
    ("train-steps-float", cell("training", "{steps: 4000.0}"), "cell.training.steps: 4000.0 is not of type 'integer'"),
    ("train-steps-zero", cell("training", "{steps: 0}"), "cell.training.steps: 0 is less than the minimum of 1"),
    ("train-steps-yaml11-string", cell("training", "{steps: 1e5}"), "cell.training.steps: '1e5' is not of type 'integer'"),
    ("train-batch-zero", cell("training", "{batch_size: 0}"), "cell.training.batch_size: 0 is less than the minimum of 1"),
    ("train-eval-zero", cell("training", "{eval_every: 0}"), "cell.training.eval_every: 0 is less than the minimum of 1"),
    ("train-seeds-int", cell("training", "{seeds: 3}"), "cell.training.seeds: 3 is not of type 'array'"),
    ("train-seeds-repeated", cell("training", "{seeds: [0, 0]}"), "cell.training.seeds: [0, 0] has non-unique elements"),
    ("train-seeds-empty", cell("training", "{seeds: []}"), "cell.training.seeds: [] should be non-empty"),
    ("train-seeds-negative", cell("training", "{seeds: [-1]}"), "cell.training.seeds[0]: -1 is less than the minimum of 0"),
    ("train-device-gpu", cell("training", "{device: gpu}"), "cell.training.device: 'gpu' is not one of ['auto', 'cpu', 'cuda']"),
    ("train-memorise-above-one", cell("training", "{memorise_threshold: 1.5}"), "cell.training.memorise_threshold: 1.5 is greater than the maximum of 1"),
    ("train-grok-zero", cell("training", "{grok_threshold: 0}"), "cell.training.grok_threshold: 0 is less than or equal to the minimum of 0"),
    ("train-grok-percent", cell("training", "{grok_threshold: 95}"), "cell.training.grok_threshold: 95 is greater than the maximum of 1"),
    ("train-loss-unknown", cell("training", "{loss: mse}"), "cell.training.loss: 'mse' is not one of ['cross_entropy', 'stablemax']"),
    ("train-observables-bool", cell("training", "{observables: true}"), "cell.training.observables: True is not of type 'object'"),
    ("train-expensive-zero", cell("training", "{observables: {expensive_every: 0}}"), "cell.training.observables.expensive_every: 0 is less than the minimum of 1"),
    ("train-early-stop-negative", cell("training", "{early_stop_evals: -1}"), "cell.training.early_stop_evals: -1 is less than the minimum of 0"),
    ("train-checkpoint-zero", cell("training", "{checkpoint_every: 0}"), "cell.training.checkpoint_every: 0 is less than the minimum of 1"),
    ("train-unknown-key", cell("training", "{epochs: 10}"), "cell.training: unknown key 'epochs'"),
    ("train-pack-zero", cell("training", "{pack_models: 0}"), "cell.training.pack_models: 0 is less than the minimum of 1"),
    # --- interventions ----------------------------------------------------------------------------
    ("iv-not-list", TINY.replace("seeds: [0]}", "seeds: [0], interventions: {when: train_acc}}"), "cell.training.interventions: {'when': 'train_acc'} is not of type 'array'"),
    ("iv-no-set", intervention("{when: train_acc, above: 0.5}"), "'set' is a required property"),
    ("iv-unknown-signal", intervention("{when: train_accc, above: 0.5, set: {lr: 0.1}}"), "interventions[0].when: 'train_accc' is neither"),
    ("iv-no-threshold", intervention("{when: train_acc, set: {lr: 0.1}}"), "interventions[0]: give exactly one of above / below"),
    ("iv-state-without-map", intervention("{when: hmm_state, set: {lr: 0.1}}"), "interventions[0]: an hmm_state rule gives `state`"),
    ("iv-state-99", intervention("{when: hmm_state, state: 99, set: {lr: 0.1}}"), "cell.training.interventions[0].state: 99, but the matrix map has at most hmm.k_max=6 states"),
    ("iv-state-negative", intervention("{when: hmm_state, state: -1, set: {lr: 0.1}}"), "cell.training.interventions[0].state: -1 fits none of the allowed forms (-1 is less than the minimum of 0; 'detour' was expected)"),
    ("iv-set-unknown", intervention("{when: train_acc, above: 0.5, set: {wd: 1.0}}"), "interventions[0].set: unknown key 'wd'"),
    ("iv-data-mix-single-task", intervention("{when: train_acc, above: 0.5, set: {data_mix: {add: 0.0}}}"), "interventions[0].set.data_mix: weighs the operations of a multi-task cell"),
    ("iv-per-op-missing", intervention("{when: train_acc/mul, above: 0.5, set: {lr: 0.1}}"), "interventions[0].when: 'train_acc/mul': this cell has no operation 'mul'"),
    ("iv-filter-lamb-without-filter", intervention("{when: train_acc, above: 0.5, set: {filter_lamb: 2.0}}"), "interventions[0].set.filter_lamb: sets the strength of a Grokfast filter"),
    # --- matrix -----------------------------------------------------------------------------------
    ("axis-key-not-dotted", TINY + "matrix: {axes: {lr: {key: lr, values: [0.001, 0.01]}}}\n", "matrix.axes.lr.key: 'lr' does not match"),
    ("axis-key-section", TINY + "matrix: {axes: {lr: {key: optim.lr, values: [0.001, 0.01]}}}\n", "matrix.axes.lr.key: 'optim.lr' does not match"),
    ("axis-key-leaf", TINY + "matrix: {axes: {lr: {key: optimizer.learning_rate, values: [0.001, 0.01]}}}\n", "cell.optimizer: unknown key 'learning_rate'"),
    ("axis-values-empty", TINY + "matrix: {axes: {lr: {key: optimizer.lr, values: []}}}\n", "matrix.axes.lr.values: [] fits none of the allowed forms ([] should be non-empty; [] is not of type 'object')"),
    ("axis-no-values", TINY + "matrix: {axes: {lr: {key: optimizer.lr}}}\n", "matrix.axes.lr: 'values' is a required property"),
    ("axis-value-type", TINY + "matrix: {axes: {lr: {key: optimizer.lr, values: [fast, slow]}}}\n", "optimizer.lr: 'fast' is not of type 'number'"),
    ("yaml-duplicate-section", STUDY + "matrix: {}\n", "YAML syntax error at line 4, column 1: duplicate key 'matrix'"),
    ("exclude-unknown-axis-name", STUDY.replace("}}}}\n", "}}}, exclude: [{opp: add}]}\n", 1), "matrix.exclude[0]: unknown axis 'opp' (did you mean 'op'?)"),
    ("exclude-unknown-label", STUDY.replace("}}}}\n", "}}}, exclude: [{op: mul}]}\n", 1), "matrix.exclude[0].op: axis op has no label 'mul'"),
    ("include-no-name", TINY + "matrix: {include: [{set: {optimizer.lr: 0.01}}]}\n", "'name' is a required property"),
    ("include-unknown-key", TINY + "matrix: {include: [{name: x, set: {optimizer.lrr: 0.01}}]}\n", "cell.optimizer: unknown key 'lrr' (did you mean 'lr'?)"),
    ("include-bad-value", TINY + "matrix: {include: [{name: x, set: {task.p: 23.0}}]}\n", "task.p: 23.0 is not of type 'integer'"),
    # --- studies ----------------------------------------------------------------------------------
    ("study-baseline-unknown", STUDY.replace("baseline: op~add", "baseline: op~mul"), "studies.s.baseline: no cell named 'op~mul' (did you mean 'op~sub'?)"),
    ("study-variant-unknown", STUDY.replace("variants: [op~sub]", "variants: [op~div]"), "studies.s.variants[0]: no cell named 'op~div'"),
    ("study-name-space", STUDY.replace("studies: {s:", "studies: {my study:"), "studies: 'my study' does not match"),
    ("study-no-baseline", STUDY.replace("baseline: op~add, ", ""), "'baseline' is a required property"),
    ("study-variants-string", STUDY.replace("[op~sub]", "op~sub"), "studies.s.variants: 'op~sub' is not of type 'array'"),
    # --- hmm --------------------------------------------------------------------------------------
    ("hmm-k-max-zero", STUDY + "hmm: {k_max: 0}\n", "hmm.k_max: 0 is less than the minimum of 1"),
    ("hmm-k-max-huge", STUDY + "hmm: {k_max: 500}\n", "hmm.k_max: 500 is greater than the maximum of 20"),
    ("hmm-k-max-evals", STUDY + "hmm: {k_max: 15}\n", "hmm.k_max: 15 states need at least 15 evaluations per run, but cell op~add of study s has 11"),
    ("hmm-feature-unknown", STUDY + "hmm: {features: [weights.not_a_thing]}\n", "hmm.features[0]: 'weights.not_a_thing' is not a registered observable"),
    ("hmm-feature-typo", STUDY + "hmm: {features: [weights.l2, 'weights.l2[W_U]', weight.l1]}\n",
     "hmm.features[2]: 'weight.l1' is not a registered observable (did you mean 'weights.l1'?)"),
    ("hmm-order-by", STUDY + "hmm: {order_by: weights.l3}\n", "hmm.order_by: 'weights.l3' is neither first_visit nor one of hmm.features"),
    ("hmm-criterion", STUDY + "hmm: {criterion: icl}\n", "hmm.criterion: 'icl' is not one of ['bic', 'aic', 'heldout']"),
    ("hmm-normalise", STUDY + "hmm: {normalise: global}\n", "hmm.normalise: 'global' is not one of ['pooled', 'run']"),
    ("hmm-restarts-zero", STUDY + "hmm: {restarts: 0}\n", "hmm.restarts: 0 is less than the minimum of 1"),
    ("hmm-tol-zero", STUDY + "hmm: {tol: 0}\n", "hmm.tol: 0 is less than or equal to the minimum of 0"),
    ("hmm-unknown-key", STUDY + "hmm: {states: 4}\n", "hmm: unknown key 'states'"),
    ("hmm-seed-negative", STUDY + "hmm: {seed: -3}\n", "hmm.seed: -3 is less than the minimum of 0"),
    # --- paper ------------------------------------------------------------------------------------
    ("paper-bootstrap-small", STUDY + "paper: {bootstrap: 10}\n", "paper.bootstrap: 10 is less than the minimum of 100"),
    ("paper-confidence-percent", STUDY + "paper: {confidence: 95}\n", "paper.confidence: 95 is greater than or equal to the maximum of 1"),
    ("paper-claim-variant", STUDY + "paper: {claims: [{name: x, study: s, variant: op~mul, operation: add, metric: delay, claimed: 8}]}\n",
     "paper.claims[0].variant: 'op~mul' is not a variant of study 's' (its variants: op~sub)"),
    ("paper-claim-metric", STUDY + "paper: {claims: [{name: x, study: s, variant: op~sub, operation: add, metric: speedup}]}\n",
     "paper.claims[0].metric: 'speedup' is not one of"),
    ("paper-claim-unknown-key", STUDY + "paper: {claims: [{name: x, study: s, variant: op~sub, factor: 8, metric: delay}]}\n",
     "paper.claims[0]: unknown key 'factor'"),
    ("paper-claim-negative", STUDY + "paper: {claims: [{name: x, study: s, variant: op~sub, metric: delay, claimed: -2}]}\n",
     "paper.claims[0].claimed: -2 is less than or equal to the minimum of 0"),
    ("paper-baseline-unknown", STUDY + "paper: {baseline: op~mul}\n", "paper.baseline: no cell named 'op~mul'"),
    ("paper-progress-unknown", STUDY + "paper: {progress_cell: nope}\n", "paper.progress_cell: no cell named 'nope'"),
    ("paper-reproduced-within", STUDY + "paper: {reproduced_within: 0.5}\n", "paper.reproduced_within: 0.5 is less than the minimum of 1"),
    ("paper-unknown-key", STUDY + "paper: {figures: []}\n", "paper: unknown key 'figures'"),
]

# Run through the real `snakemake -n` too (slow: a few seconds each): one or more of every kind.
HELD_OUT = ("yaml-unclosed-brace", "yaml-tab-indent", "yaml-empty-file", "yaml-top-level-list", "yaml-duplicate-nested-key",
            "task-p-float", "model-d-model-float", "train-steps-float", "opt-momentum-adamw", "opt-betas-sgd",
            "hmm-feature-unknown", "hmm-order-by", "task-scale-steps-full-batch", "hmm-k-max-evals", "iv-state-99", "paper-claim-variant",
            "study-variant-unknown", "axis-value-type")
