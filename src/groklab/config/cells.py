"""One path for configuration: YAML -> schema validation (defaults filled) -> frozen dataclasses.

Every error is a `ConfigError` whose message is one line naming the offending key,
raised before any training starts.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import json
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import jsonschema
import yaml

from groklab.vocabulary import GROKFAST, HMM_STATE, METRIC_SIGNALS


class ConfigError(ValueError):
    """A config key or value is invalid; the message names the key."""


@lru_cache(maxsize=1)
def load_schema() -> dict:
    text = resources.files("groklab.config").joinpath("schema.yaml").read_text()
    return yaml.safe_load(text)


def _fill_defaults(validator, properties, instance, schema):
    # jsonschema does not fill defaults; this extension sets them before descending, so
    # nested objects with `default: {}` get their own defaults filled in turn.
    if isinstance(instance, dict):
        for name, sub in properties.items():
            if "default" in sub and name not in instance:
                instance[name] = json.loads(json.dumps(sub["default"]))
    yield from jsonschema.Draft202012Validator.VALIDATORS["properties"](
        validator, properties, instance, schema
    )


# An integer is an int: JSON Schema also counts 23.0 as an integer, which would reach torch.randn
# as a float and give `steps: 4000.0` another hash than 4000. Refused, naming the key.
_TYPES = jsonschema.Draft202012Validator.TYPE_CHECKER.redefine(
    "integer", lambda checker, value: isinstance(value, int) and not isinstance(value, bool))
_Validator = jsonschema.validators.extend(
    jsonschema.Draft202012Validator, {"properties": _fill_defaults}, type_checker=_TYPES
)


def _key_path(prefix: str, path) -> str:
    parts = [prefix] if prefix else []
    for p in path:
        parts.append(f"[{p}]" if isinstance(p, int) else str(p))
    return ".".join(parts).replace(".[", "[") or "<config>"


def _explain(error: jsonschema.ValidationError, prefix: str) -> str:
    """One line naming the key, what was wrong and what is allowed."""
    key = _key_path(prefix, error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        extra = sorted(map(str, set(error.instance) - set(allowed)))
        if allowed:
            hints = []
            for k in extra:
                close = difflib.get_close_matches(k, allowed, n=1, cutoff=0.7)
                hints.append(f"'{k}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            where = key if key != "<config>" else "top level"
            return f"{where}: unknown key {', '.join(hints)}; allowed: {', '.join(allowed)}"
    if error.validator == "enum":
        return f"{key}: {error.instance!r} is not one of {error.validator_value}"
    if error.validator in ("oneOf", "anyOf") and error.context:
        # "not valid under any of the given schemas" names no fix: say what each form wanted
        wanted = "; ".join(dict.fromkeys(c.message for c in error.context))
        return f"{key}: {error.instance!r} fits none of the allowed forms ({wanted})"
    return f"{key}: {error.message}"


def _check_finite(value, prefix: str, path=()) -> None:
    """NaN and infinity pass every numeric bound of the schema (nan > 0 is False, so is nan <= 0):
    refused wherever they are written, naming the key."""
    if isinstance(value, float) and not math.isfinite(value):
        raise ConfigError(f"{_key_path(prefix, path)}: {value} is not a finite number")
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    for k, v in items:
        _check_finite(v, prefix, (*path, k))


def validate(instance: dict, schema: dict | None = None, prefix: str = "") -> dict:
    """Validate `instance` in place (filling defaults); raise ConfigError on the first problem."""
    schema = load_schema() if schema is None else schema
    if not isinstance(instance, dict):
        raise ConfigError(f"{prefix or '<config>'}: expected a mapping, got {type(instance).__name__}")
    _check_finite(instance, prefix)
    validator = _Validator(schema)
    errors = sorted(validator.iter_errors(instance), key=lambda e: (len(e.absolute_path), e.path))
    if errors:
        raise ConfigError(_explain(errors[0], prefix))
    return instance


def cell_schema() -> dict:
    schema = load_schema()
    return {**schema["$defs"]["cell"], "$defs": schema["$defs"]}


def is_prime(n: int) -> bool:
    return n >= 2 and all(n % k for k in range(2, int(n**0.5) + 1))


def check_division(p: int, operations, prefix: str = "") -> None:
    """The one division check (the cell's validation and the dataset builder both call it):
    'div' needs a prime p, so that every nonzero b has an inverse mod p. prefix: "cell" ->
    the error names cell.task.p."""
    if "div" in operations and not is_prime(p):
        raise ConfigError(
            f"{prefix + '.' if prefix else ''}task.p: {p} is not prime, but task.operations contains 'div' "
            "(division needs every nonzero b to have an inverse mod p)"
        )


def step_budget(steps: int, n_operations: int, scale_steps_by_tasks: bool) -> int:
    """The training budget: training.steps, times the number of operations if task.scale_steps_by_tasks
    (the one rule; `CellConfig.total_steps` and `groklab.analysis.events.budget_of` both call it)."""
    return steps * (n_operations if scale_steps_by_tasks else 1)


S5_ORDER = 120  # permutations of 5 elements
SOLO_OPERATIONS = ("s5", "parity")  # tasks with their own number space: alone in a cell


@dataclass(frozen=True)
class TaskConfig:
    p: int
    operations: tuple[str, ...]
    train_fraction: float
    split_seed: int
    parity_bits: int = 10
    parity_k: int = 3
    balanced: bool = True
    scale_steps_by_tasks: bool = False

    @property
    def n_classes(self) -> int:
        """Size of the answer space: p for modular operations, 120 for s5, 2 for parity."""
        return {"s5": S5_ORDER, "parity": 2}.get(self.operations[0], self.p)

    @property
    def n_numbers(self) -> int:
        """Number tokens 0..n_numbers-1: the operands (and answers) of the task."""
        return self.n_classes

    @property
    def vocab_size(self) -> int:
        # numbers, one token per operation of the cell, then "="
        return self.n_numbers + len(self.operations) + 1

    @property
    def seq_len(self) -> int:
        """[a, op, b, =] for binary operations; [bit_1 .. bit_n, =] for parity."""
        return self.parity_bits + 1 if self.operations == ("parity",) else 4


@dataclass(frozen=True)
class ModelConfig:
    arch: str
    n_layers: int
    d_model: int
    n_heads: int
    d_head: int | None
    d_mlp: int
    act: str
    layernorm: bool

    @property
    def head_dim(self) -> int:
        return self.d_head if self.d_head is not None else self.d_model // self.n_heads


@dataclass(frozen=True)
class ScheduleConfig:
    kind: str = "constant"
    warmup_steps: int = 0
    min_lr_ratio: float = 0.0


# keys that one optimizer family or init scheme reads and the others ignore (CellConfig._check_applicable)
OPTIMIZER_KEYS = {"betas": ("adam", "adamw"), "eps": ("adam", "adamw"), "momentum": ("sgd",), "nesterov": ("sgd",)}
INIT_KEYS = {"sparsity": ("sparse",), "alpha": ("scale",), "rank": ("low_rank",)}


def _plain(value):
    """A config value as the schema holds it (tuples as lists) for comparison with its default."""
    return list(value) if isinstance(value, tuple) else value


@dataclass(frozen=True)
class OptimizerConfig:
    name: str
    lr: float
    weight_decay: float
    betas: tuple[float, float]
    eps: float
    momentum: float = 0.0
    nesterov: bool = False
    schedule: ScheduleConfig = ScheduleConfig()
    filters: tuple[dict, ...] = ()   # each {"kind": ..., params}, defaults filled by the schema


@dataclass(frozen=True)
class InitConfig:
    scheme: str
    sparsity: float
    alpha: float
    rank: int = 4


@dataclass(frozen=True)
class ObservablesConfig:
    enabled: bool = True
    expensive_every: int = 10


# Training keys that never change a cell's numbers, so they are not part of its identity (hash) and
# changing them retrains nothing: how many models share a pack (tests/test_packs.py), and the live
# TensorBoard view (a view of the rows written to Parquet). The view is also left out of what a
# training rule's params carry (config.matrix.cell_record), as Snakemake reruns a job whose params change.
PACKING_KEYS = ("pack_models",)
VIEW_KEYS = ("tensorboard",)


@dataclass(frozen=True)
class TensorboardConfig:
    enabled: bool = True
    flush_seconds: float = 10.0
    observables: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrainingConfig:
    steps: int
    batch_size: int | None
    eval_every: int
    checkpoint_every: int
    seeds: tuple[int, ...]
    ensemble_size: int | None
    device: str
    memorise_threshold: float
    grok_threshold: float
    early_stop_evals: int
    loss: str = "cross_entropy"
    observables: ObservablesConfig = ObservablesConfig()
    interventions: tuple[dict, ...] = ()   # each {"when", "above", "below", "set"} (+ "state" for hmm_state)
    pack_models: int | None = None         # packing only: not part of the cell's identity (hash)
    tensorboard: TensorboardConfig = TensorboardConfig()   # a view only: not part of the hash either
    compile: bool = False                  # torch.compile the step (groklab.training.compiled); in the hash


def _tuples(d: dict) -> dict:
    return {k: tuple(v) if isinstance(v, list) else v for k, v in d.items()}


@dataclass(frozen=True)
class CellConfig:
    task: TaskConfig
    model: ModelConfig
    optimizer: OptimizerConfig
    init: InitConfig
    training: TrainingConfig

    @property
    def reads_training_map(self) -> bool:
        """An hmm_state intervention decodes the matrix map while this cell trains."""
        return any(r["when"] == HMM_STATE for r in self.training.interventions)

    def _check_interventions(self, prefix: str) -> None:
        for i, rule in enumerate(self.training.interventions):
            key = f"{prefix}.training.interventions[{i}]"
            self._check_trigger(rule, key)
            self._check_settings(rule["set"], f"{key}.set")

    def _check_trigger(self, rule: dict, key: str) -> None:
        signal, ops = rule["when"], self.task.operations
        if signal == HMM_STATE:
            if "state" not in rule or rule["above"] is not None or rule["below"] is not None:
                raise ConfigError(f"{key}: an hmm_state rule gives `state` (the map state to react to), not above / below")
        elif (rule["above"] is None) == (rule["below"] is None):
            raise ConfigError(f"{key}: give exactly one of above / below")
        elif "state" in rule:
            raise ConfigError(f"{key}.state: only for `when: hmm_state`")
        metric, _, op = signal.partition("/")
        if signal in METRIC_SIGNALS or (metric in METRIC_SIGNALS and op in ops):
            return
        if metric in METRIC_SIGNALS:
            raise ConfigError(f"{key}.when: '{signal}': this cell has no operation '{op}' (operations: {', '.join(ops)})")
        if signal == HMM_STATE:
            return
        # whether `signal` names an observable is checked by groklab.checks (the registry is training's)
        if not self.training.observables.enabled:
            raise ConfigError(f"{key}.when: '{signal}' reads observables, but training.observables.enabled is false")

    def _check_settings(self, settings: dict, key: str) -> None:
        ops = self.task.operations
        if "filter_lamb" in settings and not any(f["kind"] in GROKFAST for f in self.optimizer.filters):
            raise ConfigError(f"{key}.filter_lamb: sets the strength of a Grokfast filter, but optimizer.filters has "
                              "none (add one, e.g. {kind: grokfast_ema, lamb: 0.0}, to switch it on later)")
        mix = settings.get("data_mix")
        if mix is None:
            return
        if len(ops) < 2:
            raise ConfigError(f"{key}.data_mix: weighs the operations of a multi-task cell, but this cell trains only {ops[0]}")
        for op in mix:
            if op not in ops:
                raise ConfigError(f"{key}.data_mix.{op}: not an operation of this cell (operations: {', '.join(ops)})")
        if set(mix) == set(ops) and not any(mix.values()):
            raise ConfigError(f"{key}.data_mix: every operation's weight is 0, leaving no loss to train on")

    @classmethod
    def from_dict(cls, raw: dict, prefix: str = "cell") -> "CellConfig":
        """Validate a (possibly partial) cell mapping, fill defaults, check combinations."""
        d = validate(json.loads(json.dumps(raw)), cell_schema(), prefix)
        opt = _tuples(d["optimizer"])
        opt["schedule"] = ScheduleConfig(**opt["schedule"])
        training = _tuples(d["training"])
        training["observables"] = ObservablesConfig(**training["observables"])
        training["tensorboard"] = TensorboardConfig(**_tuples(training["tensorboard"]))
        cell = cls(
            task=TaskConfig(**_tuples(d["task"])),
            model=ModelConfig(**d["model"]),
            optimizer=OptimizerConfig(**opt),
            init=InitConfig(**d["init"]),
            training=TrainingConfig(**training),
        )
        cell.check(prefix)
        return cell

    @property
    def total_steps(self) -> int:
        """The training budget: training.steps, times the number of operations if task.scale_steps_by_tasks."""
        return step_budget(self.training.steps, len(self.task.operations), self.task.scale_steps_by_tasks)

    def check(self, prefix: str = "cell") -> None:
        """Constraints that span keys (the schema checks single values). The memory bound comes
        first: every later check (the primality of task.p among them) is then on a cell that fits."""
        check_memory(self, prefix)
        t, m, o = self.task, self.model, self.optimizer
        solo = [op for op in t.operations if op in SOLO_OPERATIONS]
        if solo and len(t.operations) > 1:
            raise ConfigError(
                f"{prefix}.task.operations: {solo[0]} has its own number space and cannot share a cell "
                f"with {[op for op in t.operations if op != solo[0]]}"
            )
        if t.operations == ("parity",) and t.parity_k > t.parity_bits:
            raise ConfigError(f"{prefix}.task.parity_k: {t.parity_k} exceeds task.parity_bits={t.parity_bits}")
        self._check_applicable(prefix)
        if o.nesterov and (o.name != "sgd" or o.momentum <= 0):
            raise ConfigError(f"{prefix}.optimizer.nesterov: needs optimizer.name sgd with momentum > 0")
        for i, f in enumerate(o.filters):
            if f["kind"] == "grokfast_ma" and f["window"] > self.total_steps:
                raise ConfigError(
                    f"{prefix}.optimizer.filters[{i}].window: {f['window']} exceeds the training budget of "
                    f"{self.total_steps} steps"
                )
        if o.schedule.warmup_steps >= self.total_steps:
            raise ConfigError(
                f"{prefix}.optimizer.schedule.warmup_steps: {o.schedule.warmup_steps} is not below the budget "
                f"of {self.total_steps} steps"
            )
        self._check_interventions(prefix)
        if self.init.scheme == "low_rank" and self.init.rank > m.d_model:
            raise ConfigError(f"{prefix}.init.rank: {self.init.rank} exceeds model.d_model={m.d_model}")
        check_division(t.p, t.operations, prefix)
        if m.arch == "transformer" and m.d_head is None and m.d_model % m.n_heads:
            raise ConfigError(
                f"{prefix}.model.n_heads: d_model={m.d_model} is not divisible by n_heads={m.n_heads}; "
                "set model.d_head explicitly"
            )
        if self.training.eval_every > self.training.steps:
            raise ConfigError(
                f"{prefix}.training.eval_every: {self.training.eval_every} exceeds training.steps="
                f"{self.training.steps}, so no evaluation would run"
            )
        n_evals = self.total_steps // self.training.eval_every + 1
        if self.training.early_stop_evals > n_evals:
            raise ConfigError(
                f"{prefix}.training.early_stop_evals: {self.training.early_stop_evals} consecutive evaluations, but "
                f"the budget allows {n_evals} (budget {self.total_steps} / training.eval_every {self.training.eval_every} "
                "+ 1), so early stopping could never fire; lower it (0 trains the full budget)"
            )

    def _check_applicable(self, prefix: str) -> None:
        """A key that only another optimizer or init scheme reads must keep its default: any other
        value would change the cell's hash and nothing in training."""
        for section, chosen, readers in (("optimizer", self.optimizer.name, OPTIMIZER_KEYS),
                                         ("init", self.init.scheme, INIT_KEYS)):
            default = cell_schema()["properties"][section]["properties"]
            for key, owners in readers.items():
                value = getattr(getattr(self, section), key)
                if chosen not in owners and _plain(value) != default[key]["default"]:
                    what = "optimizer.name" if section == "optimizer" else "init.scheme"
                    raise ConfigError(f"{prefix}.{section}.{key}: {_plain(value)!r} has no effect with {what} "
                                      f"{chosen} (only {' / '.join(owners)} reads it); remove it or change {what}")

    def to_dict(self, without: tuple[str, ...] = ()) -> dict:
        """The resolved config as plain JSON data, less the training keys `without`."""
        d = json.loads(json.dumps(dataclasses.asdict(self)))
        for key in without:
            d["training"].pop(key)
        return d

    @property
    def hash(self) -> str:
        """SHA-256 of the canonical JSON of the resolved config: the cell's identity."""
        d = self.to_dict(without=PACKING_KEYS + VIEW_KEYS)
        blob = json.dumps(d, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()

    def replace_training(self, **changes) -> "CellConfig":
        return dataclasses.replace(self, training=dataclasses.replace(self.training, **changes))


# -- the memory bound ------------------------------------------------------------------------------

MEMORY_LIMIT_BYTES = 64 * 2**30   # what one job may need: the most a project GPU (80 GB) or workstation gives it
FLOAT_BYTES, INDEX_BYTES = 4, 8
# keys that grow a cell's memory, as (section, field): check_memory names the one furthest above its default
MEMORY_KEYS = (("task", "p"), ("model", "d_model"), ("model", "d_mlp"), ("model", "n_layers"), ("model", "n_heads"),
               ("model", "d_head"), ("training", "seeds"))


def _n_examples(task: TaskConfig) -> int:
    """Every example of the task (train and test): 2^bits for parity, n^2 per binary operation."""
    if task.operations == ("parity",):
        return 2**task.parity_bits
    return task.n_numbers**2 * len(task.operations)


def _n_params(task: TaskConfig, model: ModelConfig) -> int:
    V, T, C, d, h = task.vocab_size, task.seq_len, task.n_classes, model.d_model, model.d_mlp
    if model.arch == "mlp":
        return V * d + (T - 1) * d * h + h + h * C + C
    F = model.n_heads * model.head_dim
    return V * d + T * d + model.n_layers * (4 * d * F + 2 * d * h + h + d + 4 * d) + d * C


def memory_estimate(cell: "CellConfig") -> dict[str, int]:
    """Bytes one job training `cell` needs, roughly, by part: `dataset` (every example's tokens and
    label, int64), `state` (for each of the cell's models: weights, gradients, the initial weights
    the observables compare against, the optimizer's moments and the Grokfast filters' buffers) and
    `activations` (one training batch's activations kept for backward, full batch if
    training.batch_size is null, plus the logits of an evaluation over every example). An estimate
    for refusing what cannot fit (`check_memory`), not a measurement."""
    t, m, o, tr = cell.task, cell.model, cell.optimizer, cell.training
    E, n = len(tr.seeds), _n_examples(t)
    buffers = 3 + (2 if o.name in ("adam", "adamw") else int(o.momentum > 0))
    buffers += sum(f.get("window", 1) for f in o.filters)
    rows = min(tr.batch_size or n, n)
    T, C = t.seq_len, t.n_classes
    if m.arch == "mlp":
        per_row = 3 * m.d_mlp + 2 * C
    else:
        per_row = m.n_layers * T * (4 * m.d_model + 3 * m.n_heads * m.head_dim + 2 * m.d_mlp + m.n_heads * T) + 2 * C
    return {"dataset": n * (T + 1) * INDEX_BYTES,
            "state": E * _n_params(t, m) * buffers * FLOAT_BYTES,
            "activations": E * (rows * per_row + n * C) * FLOAT_BYTES}


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n < 1024 or unit == "PiB":
            return f"{n:.3g} {unit}"
        n /= 1024
    raise AssertionError  # not reached


def _growth(cell: "CellConfig", section: str, name: str) -> float:
    """How many times its default a memory key is (seeds: how many; d_head: against d_model / n_heads
    of the defaults); 0 where the key does not apply or halving it would save under a tenth."""
    part, props = getattr(cell, section), cell_schema()["properties"][section]["properties"]
    value = getattr(part, name)
    if value is None or (name == "p" and part.operations[0] in SOLO_OPERATIONS):
        return 0.0
    if name == "seeds":
        value, default, smaller = len(value), len(props["seeds"]["default"]), value[: max(1, len(value) // 2)]
    else:
        default = (props["d_model"]["default"] // props["n_heads"]["default"] if name == "d_head"
                   else props[name]["default"])
        smaller = max(1, value // 2)
    halved = dataclasses.replace(cell, **{section: dataclasses.replace(part, **{name: smaller})})
    if sum(memory_estimate(halved).values()) > 0.9 * sum(memory_estimate(cell).values()):
        return 0.0
    return value / default


def check_memory(cell: "CellConfig", prefix: str = "cell", limit: int = MEMORY_LIMIT_BYTES) -> None:
    """ConfigError when `memory_estimate` exceeds `limit`, naming the key furthest above its default
    among those whose halving would save a tenth or more."""
    parts = memory_estimate(cell)
    total = sum(parts.values())
    if total <= limit:
        return
    growth = {f"{section}.{name}": _growth(cell, section, name) for section, name in MEMORY_KEYS}
    key = max(growth, key=growth.get)
    section, name = key.split(".")
    value = getattr(getattr(cell, section), name)
    shown = f"{len(value)} seeds" if name == "seeds" else str(value)
    raise ConfigError(
        f"{prefix}.{key}: {shown} makes the cell need about {_size(total)} of memory (dataset {_size(parts['dataset'])}, "
        f"weights, gradients and optimizer state {_size(parts['state'])}, activations and logits "
        f"{_size(parts['activations'])}), over the limit of {_size(limit)}; lower {key}")


_MERGE = "tag:yaml.org,2002:merge"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (plain YAML keeps the last) and
    a key that is not a string (`1: 2`, `~: 3`: every config key is a name). A merge key (`<<: *base`)
    still merges; the keys written beside it override the merged ones, as in plain YAML."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            if key_node.tag == _MERGE:
                continue
            key = self.construct_object(key_node, deep=deep)
            if not isinstance(key, str):
                raise yaml.constructor.ConstructorError(
                    None, None, f"the key {key!r} is not a name ({type(key).__name__}); quote it", key_node.start_mark)
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def _read_text(path: str) -> str:
    """The file's text; ConfigError naming the file for a missing file, a dangling link, a directory,
    an unreadable file or bytes that are not UTF-8 (with the line)."""
    import os

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except FileNotFoundError:
        if os.path.islink(path):
            raise ConfigError(f"{path}: a symbolic link to {os.readlink(path)}, which does not exist") from None
        raise ConfigError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a config file") from None
    except PermissionError:
        raise ConfigError(f"{path}: permission denied (cannot read the config file)") from None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(f"{path}: not UTF-8 text at line {line}, column {column} "
                          f"(byte 0x{data[exc.start]:02x}); save the file as UTF-8") from None


def load_yaml_file(path: str):
    """A YAML (or JSON) file -> its data; ConfigError naming the file (and the line of a syntax error).

    A .json file is read as JSON: YAML 1.1 would read a JSON number such as 1e-08 (no dot) as a string."""
    text = _read_text(path)
    try:
        return json.loads(text) if str(path).endswith(".json") else yaml.load(text, Loader=_UniqueKeyLoader)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: JSON syntax error at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigError(f"{path}: YAML syntax error{line}: {problem}") from None


def deep_set(d: dict, dotted: str, value) -> None:
    """d[a][b][c] = value for dotted "a.b.c", creating the mappings on the way."""
    *parents, leaf = dotted.split(".")
    for p in parents:
        d = d.setdefault(p, {})
        if not isinstance(d, dict):
            raise ConfigError(f"{dotted}: {p} is a value, not a mapping of keys")
    d[leaf] = copy.deepcopy(value)


_YAML12_FLOAT = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)[eE][-+]?\d+")


def parse_override(text: str) -> tuple[str, object]:
    """A command-line override "optimizer.lr=1e-3" -> ("optimizer.lr", 0.001); the value is read as
    YAML ("[0,1]" is a list, "true" a bool), the key must be a dotted path of names."""
    key, sep, value = text.partition("=")
    if not sep or not key or any(not part.isidentifier() for part in key.split(".")):
        raise ConfigError(f"--set {text}: expected KEY=VALUE with a dotted key, e.g. optimizer.lr=1e-3")
    try:
        parsed = yaml.load(value, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"--set {text}: the value is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    if isinstance(parsed, str) and _YAML12_FLOAT.fullmatch(parsed):
        parsed = float(parsed)   # YAML 1.1 reads 1e-3 (no dot) as a string; a shell user means the number
    return key, parsed


def load_cell_file(path: str, overrides: tuple[str, ...] = ()) -> CellConfig:
    """Read a cell config (YAML or JSON; a bare cell or a `{config: ...}` record), apply the
    command line's KEY=VALUE overrides, then validate the result as one config."""
    raw = load_yaml_file(path)
    if isinstance(raw, dict) and "config" in raw and "task" not in raw:
        raw = raw["config"]
    raw = copy.deepcopy(raw or {})
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a cell config is a mapping of keys, not {type(raw).__name__}")
    for text in overrides:
        deep_set(raw, *parse_override(text))
    try:
        return CellConfig.from_dict(raw, prefix=path)
    except ConfigError as exc:
        if not overrides:
            raise
        raise ConfigError(f"{exc} (with --set {' --set '.join(overrides)})") from None
