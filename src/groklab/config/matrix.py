"""Expand config.yaml's matrix into cells with stable ids, and resolve its studies.

The cells are the cross product of the named axes (each sets one cell key), minus the
`matrix.exclude` entries, plus the `matrix.include` cells, plus the copies that the delay ladder
and the robustness replicate make of the claims' studies (`copy_cells`); `studies` name cells to
compare, and each copy of a study compares the copies of its cells.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import itertools
import json
import math
import re
from dataclasses import dataclass
from typing import Callable
from functools import cached_property

from groklab.config.cells import VIEW_KEYS, CellConfig, ConfigError, cell_schema, deep_set, validate
from groklab.vocabulary import HMM_STATE


@dataclass(frozen=True)
class Cell:
    name: str            # readable: "op~div__lr~0.003", "base" for a matrix without axes, or an include's name
    config: CellConfig
    # (axis, value label) of a cross-product cell, in axis order ("lr~0.001__wd~1" -> lr: 0.001, wd: 1);
    # empty for an include. Not part of the config, so no part of the hash or id.
    axis_labels: tuple[tuple[str, str], ...] = ()

    @property
    def labels(self) -> dict[str, str]:
        """Axis -> value label (the figures' axes: the phase diagram)."""
        return dict(self.axis_labels)

    @cached_property
    def config_hash(self) -> str:
        # config.hash serialises the whole config; ids, records and duplicate checks each need it,
        # and snakemake asks for them once per job.
        return self.config.hash

    @property
    def id(self) -> str:
        """Directory name under results/runs/: readable name + 8 hex digits of the config hash."""
        return f"{self.name}-{self.config_hash[:8]}"


@dataclass(frozen=True)
class Study:
    """A one-factor comparison: every variant is read against the baseline."""

    name: str
    baseline: Cell
    variants: tuple[Cell, ...]
    description: str = ""


def _slug(value) -> str:
    if isinstance(value, (list, tuple)):
        return "+".join(_slug(v) for v in value)
    if isinstance(value, float):
        value = f"{value:g}"
    return re.sub(r"[^A-Za-z0-9.+-]", "-", str(value))


def _axis_items(axis: dict) -> list[tuple[str, object]]:
    values = axis["values"]
    if isinstance(values, dict):
        return [(_slug(label), v) for label, v in values.items()]
    return [(_slug(v), v) for v in values]


def _token(value) -> str:
    """A value's identity in the section cache: equal JSON, equal validated section."""
    return json.dumps(value, sort_keys=True)


def _did_you_mean(word: str, choices) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _cell_keys(schema: dict, prefix: str = "") -> list[str]:
    """Every dotted key of a cell (sections, their keys, and the keys of nested objects)."""
    out = []
    for name, sub in schema.get("properties", {}).items():
        out.append(prefix + name)
        out += _cell_keys(sub, f"{prefix}{name}.")
    return out


def check_cell_key(dotted: str, where: str) -> None:
    """A dotted cell key that a matrix axis or an include's `set` names must exist: ConfigError at
    `where` (matrix.axes.<axis>.key, matrix.include[i].set.<key>), with the nearest cell key."""
    node, parts = cell_schema(), dotted.split(".")
    for i, part in enumerate(parts):
        props = node.get("properties")
        if props is None:        # a list or a free mapping (filters, interventions): the schema checks its items
            return
        if part not in props:
            # the nearest key beside it (lrr -> lr), else the nearest dotted key anywhere in a cell
            done = "".join(f"{p}." for p in parts[:i])
            close = [done + k for k in difflib.get_close_matches(part, list(props), n=1, cutoff=0.6)] or \
                difflib.get_close_matches(dotted, _cell_keys(cell_schema()), n=1, cutoff=0.6)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(f"{where}: '{dotted}' is not a cell key{hint}; the keys are listed in "
                              "docs/configuration-reference.md (under cell)")
        node = props[part]


def check_case_collisions(names, key: str, what: str) -> None:
    """Names that differ only in case are one directory on a case-insensitive file system (macOS,
    Windows): ConfigError at `key`."""
    seen: dict[str, str] = {}
    for name in names:
        other = seen.setdefault(name.casefold(), name)
        if other != name:
            raise ConfigError(f"{key}: {what} '{other}' and '{name}' differ only in case; their directories would "
                              "collide on a case-insensitive file system (macOS, Windows); rename one")


class _Unchecked(CellConfig):
    """CellConfig.from_dict without the checks that span sections: a section is validated
    before the other sections of the cells it ends up in are known."""

    def check(self, prefix: str = "cell") -> None:
        pass


class _CellBuilder:
    """Builds cells from the validated base cell plus overrides (dotted key, value, _token(value)).

    Validating a whole cell against the schema costs about a millisecond, most of `expand`'s
    time on a big matrix. The schema constrains, and from_dict converts, each section (task,
    model, ...) on its own, so a section's typed value depends only on the overrides that
    touch it: each distinct section is validated once (a 2,000-cell matrix has a few dozen),
    and only the cross-section checks run per cell. A cell with an invalid section goes
    through CellConfig.from_dict, so its error is exactly the whole-cell one.
    """

    def __init__(self, base: dict):
        self.base = base
        unchecked = _Unchecked.from_dict(base)
        self.base_sections = {f.name: getattr(unchecked, f.name) for f in dataclasses.fields(CellConfig)}
        self.sections: dict[tuple, object] = {}

    def _section(self, name: str, overrides: list[tuple[str, object, str]]):
        """The typed section with `overrides` (rest of key, value, token) applied; None if invalid."""
        key = (name, tuple((rest, token) for rest, _, token in overrides))
        if key not in self.sections:
            raw = {name: copy.deepcopy(self.base.get(name, {}))}
            for rest, value, _ in overrides:
                deep_set(raw[name], rest, value)
            try:
                self.sections[key] = getattr(_Unchecked.from_dict(raw), name)
            except ConfigError:
                self.sections[key] = None
        return self.sections[key]

    def build(self, overrides: list[tuple[str, object, str]]) -> CellConfig:
        by_section: dict[str, list] = {}
        for dotted, value, token in overrides:
            name, rest = dotted.split(".", 1)
            by_section.setdefault(name, []).append((rest, value, token))
        sections = dict(self.base_sections)
        for name, section_overrides in by_section.items():
            sections[name] = self._section(name, section_overrides)
        if any(s is None for s in sections.values()):
            raw = copy.deepcopy(self.base)
            for dotted, value, _ in overrides:
                deep_set(raw, dotted, value)
            return CellConfig.from_dict(raw)
        config = CellConfig(**sections)
        config.check("cell")
        return config


def _exclusions(entries: list[dict], names: list[str], choices: list[list]) -> list[tuple]:
    """Each exclude entry as ((axis index, label), ...), every axis and label checked."""
    out = []
    for i, entry in enumerate(entries):
        pairs = []
        for axis, label in entry.items():
            if axis not in names:
                raise ConfigError(
                    f"matrix.exclude[{i}]: unknown axis '{axis}'{_did_you_mean(axis, names)}; "
                    f"axes: {', '.join(names) or '(none)'}"
                )
            a = names.index(axis)
            labels = [lab for lab, _ in choices[a]]
            slug = _label_of(label, labels)
            if slug is None:
                raise ConfigError(
                    f"matrix.exclude[{i}].{axis}: axis {axis} has no label '{label}'"
                    f"{_did_you_mean(label, labels)}; labels: {', '.join(labels)}"
                )
            pairs.append((a, slug))
        out.append(tuple(pairs))
    return out


def _label_of(given: str, labels: list[str]) -> str | None:
    """The label `given` refers to: the label itself, a mapping key or value before slugging
    (x2_plus_y2 -> x2-plus-y2), or a number spelled another way ("1.0" -> 1, "1e-3" -> 0.001)."""
    candidates = [_slug(given)]
    try:
        candidates.append(_slug(float(given)))
    except ValueError:
        pass
    return next((c for c in candidates if c in labels), None)


def _check_labels(names: list[str], choices: list[list]) -> None:
    # Cell names are the ids' readable part and what studies refer to, so they must be unique.
    for axis, items in zip(names, choices):
        labels = [lab for lab, _ in items]
        for j, lab in enumerate(labels):
            if lab in labels[:j]:
                raise ConfigError(
                    f"matrix.axes.{axis}.values: two values have the label '{lab}' (duplicate values, or "
                    "labels that differ only in characters a cell name cannot hold)"
                )


def _make_cell(builder: _CellBuilder, name: str, overrides: list, tag: bool,
               axis_labels: tuple[tuple[str, str], ...] = ()) -> Cell:
    try:
        return Cell(name=name, config=builder.build(overrides), axis_labels=axis_labels)
    except ConfigError as exc:
        raise ConfigError(f"{exc} [matrix cell {name}]" if tag else str(exc)) from None


def _axis_cells(config: dict, builder: _CellBuilder) -> list[Cell]:
    """The cross product of the axes in order (last axis fastest), minus matrix.exclude."""
    axes = config["matrix"]["axes"]
    names = list(axes)
    for n in names:
        check_cell_key(axes[n]["key"], f"matrix.axes.{n}.key")
    choices = [_axis_items(axes[n]) for n in names]
    _check_labels(names, choices)
    for axis, items in zip(names, choices):
        check_case_collisions([lab for lab, _ in items], f"matrix.axes.{axis}.values", "the labels")
    tokens = [[_token(value) for _, value in items] for items in choices]
    excluded = _exclusions(config["matrix"]["exclude"], names, choices)
    cells, seen = [], {}
    for combo in itertools.product(*(range(len(c)) for c in choices)):
        labels = [choices[a][j][0] for a, j in enumerate(combo)]
        if any(all(labels[a] == lab for a, lab in entry) for entry in excluded):
            continue
        name = "__".join(f"{n}~{lab}" for n, lab in zip(names, labels)) or "base"
        overrides = [(axes[n]["key"], choices[a][j][1], tokens[a][j]) for a, (n, j) in enumerate(zip(names, combo))]
        cell = _make_cell(builder, name, overrides, tag=bool(names), axis_labels=tuple(zip(names, labels)))
        if cell.config_hash in seen:
            raise ConfigError(
                f"matrix.axes: cells {seen[cell.config_hash]} and {name} resolve to the same config "
                "(duplicate axis values)"
            )
        seen[cell.config_hash] = name
        cells.append(cell)
    return cells


def _include_cells(config: dict, builder: _CellBuilder, cells: list[Cell]) -> list[Cell]:
    """matrix.include: each a named cell, the base cell with its `set` overrides applied."""
    origin = {c.name: "a cell of matrix.axes" for c in cells}
    by_hash = {c.config_hash: c.name for c in cells}
    extra = []
    for i, spec in enumerate(config["matrix"]["include"]):
        key, name = f"matrix.include[{i}]", spec["name"]
        if name in origin:
            raise ConfigError(f"{key}.name: '{name}' is already the name of {origin[name]}; cell names must be unique")
        folded = {n.casefold(): n for n in origin}
        if name.casefold() in folded:
            other = folded[name.casefold()]
            raise ConfigError(f"{key}.name: '{name}' and '{other}' ({origin[other]}) differ only in case; their "
                              "directories would collide on a case-insensitive file system (macOS, Windows); rename one")
        for dotted in spec["set"]:
            check_cell_key(dotted, f"{key}.set.{dotted}")
        overrides = [(dotted, value, _token(value)) for dotted, value in spec["set"].items()]
        cell = _make_cell(builder, name, overrides, tag=True)
        if cell.config_hash in by_hash:
            raise ConfigError(
                f"{key}: cell {name} resolves to the same config as cell {by_hash[cell.config_hash]} (duplicate cell)"
            )
        origin[name], by_hash[cell.config_hash] = key, name
        extra.append(cell)
    return extra


# -- copies of the claims' studies: the delay ladder's rungs and the robustness replicate ------------

COPY_SEP = "--"          # <cell>--<label>, <study>--<label>: a cell name, a study name and a path accept it
REPLICATE = "replicate"  # the label of the robustness replicate's copies


def copy_name(name: str, label: str) -> str:
    """The name of the copy of cell or study `name` that a ladder rung or the replicate (`label`) makes."""
    return f"{name}{COPY_SEP}{label}"


def copy_label(name: str) -> str:
    """The label of the copy that cell or study `name` is ("" for one of the matrix as written)."""
    return name.rsplit(COPY_SEP, 1)[1] if COPY_SEP in name else ""


@dataclass(frozen=True)
class Rung:
    """One rung of the delay ladder: ladder.key multiplied by `factor` (1: the matrix as written)."""

    label: str
    factor: float

    @property
    def primary(self) -> bool:
        return self.factor == 1

    def name(self, name: str) -> str:
        """The rung's cell or study of `name`: the name itself on the primary rung, else its copy."""
        return name if self.primary else copy_name(name, self.label)


def rungs_of(ladder: dict) -> list[Rung]:
    """A validated `ladder` section's rungs, in config order; ConfigError unless exactly one has factor 1
    and no two share a factor."""
    out = [Rung(label, float(factor)) for label, factor in ladder["rungs"].items()]
    ones = [r.label for r in out if r.primary]
    if len(ones) != 1:
        raise ConfigError(f"ladder.rungs: exactly one rung must have factor 1 (the matrix as written), not "
                          f"{len(ones)}{' (' + ', '.join(ones) + ')' if ones else ''}")
    for i, r in enumerate(out):
        if r.label == REPLICATE:
            raise ConfigError(f"ladder.rungs.{r.label}: the label is taken by the robustness replicate's copies")
        same = next((q for q in out[:i] if q.factor == r.factor), None)
        if same is not None:
            raise ConfigError(f"ladder.rungs.{r.label}: factor {r.factor:g} is also the factor of rung {same.label}")
    return out


def rungs(config: dict) -> list[Rung]:
    return rungs_of(validate(config)["ladder"])


def copied_studies(config: dict) -> list[str]:
    """The studies the ladder and the replicate copy: those that paper.claims name, in config order."""
    named = {c["study"] for c in config["paper"]["claims"]}
    return [s for s in config["studies"] if s in named]


@dataclass(frozen=True)
class _Copy:
    label: str                                  # the copies' names: copy_name(name, label)
    key: str                                    # the config key that asks for it (for errors)
    overrides: Callable[[Cell], dict]           # a copied cell -> dotted key -> its new value
    what: str                                   # appended to a copied study's description


def _cell_value(cell: Cell, dotted: str):
    section, leaf = dotted.split(".", 1)
    values = cell.config.to_dict()[section]
    if leaf not in values:
        raise ConfigError(f"ladder.key: '{dotted}' is not a cell key{_did_you_mean(leaf, values)}; "
                          f"{section} has: {', '.join(sorted(values))}")
    return values[leaf]


def _rung_copy(key: str, rung: Rung, stretch: bool) -> _Copy:
    def overrides(cell: Cell) -> dict:
        value = _cell_value(cell, key)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"ladder.key: {key} is {value!r} in cell {cell.name}, not a number; "
                              "the ladder multiplies a numeric cell key")
        new = float(f"{value * rung.factor:.12g}")        # 0.1 x 0.1 is 0.01, not 0.010000000000000002
        if isinstance(value, int):
            if new != round(new):
                raise ConfigError(f"ladder.rungs.{rung.label}: factor {rung.factor:g} makes the integer key {key} "
                                  f"{new:g} in cell {cell.name}")
            new = int(round(new))
        return {key: new} | (_stretched_budget(cell, rung.factor) if stretch else {})
    return _Copy(rung.label, f"ladder.rungs.{rung.label}", overrides, f"ladder rung {rung.label}: {key} x {rung.factor:g}"
                 + (f", training.steps / {rung.factor:g}" if stretch else ""))


def _stretched_budget(cell: Cell, factor: float) -> dict:
    """training.steps / factor, rounded up to whole evals: the delay grows ~1 / factor when the rung
    scales lr or weight decay, so the baseline's grok stays at the same % of its budget."""
    every = cell.config.training.eval_every
    return {"training.steps": math.ceil(cell.config.training.steps / factor / every) * every}


def _replicate_copy(spec: dict) -> _Copy:
    seeds, split = list(spec["seeds"]), spec["split_seed"]

    def overrides(cell: Cell) -> dict:
        shared = sorted(set(seeds) & set(cell.config.training.seeds))
        if shared:
            raise ConfigError(f"robustness.seeds: {seeds} share {shared} with the seeds {list(cell.config.training.seeds)} "
                              f"of cell {cell.name}; a replicate needs fresh seeds")
        if split == cell.config.task.split_seed:
            raise ConfigError(f"robustness.split_seed: {split} is the split seed of cell {cell.name}; "
                              "a replicate needs another train/test split")
        return {"training.seeds": seeds, "task.split_seed": split}
    return _Copy(REPLICATE, "robustness", overrides, f"robustness replicate: seeds {seeds}, split seed {split}")


def _copies(config: dict) -> list[_Copy]:
    """Every copy the config asks for: each ladder rung but the primary, then the replicate."""
    ladder = config["ladder"]
    stretch = ladder["stretch_budget"] and ladder["key"] != "training.steps"
    out = [_rung_copy(ladder["key"], r, stretch) for r in rungs_of(ladder) if not r.primary]
    return out + ([_replicate_copy(config["robustness"])] if config["robustness"] is not None else [])


def _cells_to_copy(config: dict, by_name: dict[str, Cell]) -> list[Cell]:
    """Every cell of the copied studies (baselines and variants, each once), in study order."""
    names = [n for s in copied_studies(config) for n in (config["studies"][s]["baseline"], *config["studies"][s]["variants"])]
    return [by_name[n] for n in dict.fromkeys(names) if n in by_name]


def copy_cells(config: dict, cells: list[Cell]) -> list[Cell]:
    """The cells the ladder's rungs and the replicate add: one copy of each cell of the claims' studies
    per copy (`_copies`), `copy_name(cell, label)`, the cell's resolved config with the copy's
    overrides. A copy carries no axis labels (like an include: a phase diagram never averages it in).
    ConfigError naming the key for a copy that cannot be made or clashes with another cell."""
    by_name = {c.name: c for c in cells}
    by_hash = {c.config_hash: c.name for c in cells}
    if cells:       # the ladder's key is checked even where no claim's study is in the matrix
        _cell_value(cells[0], config["ladder"]["key"])
    out = []
    for spec in _copies(config):
        for cell in _cells_to_copy(config, by_name):
            name = copy_name(cell.name, spec.label)
            if name in by_name:
                raise ConfigError(f"{spec.key}: the copy of cell {cell.name} would be named {name}, the name of "
                                  "another cell; rename that cell")
            raw = cell.config.to_dict()
            for dotted, value in spec.overrides(cell).items():
                deep_set(raw, dotted, value)
            try:
                copied = Cell(name=name, config=CellConfig.from_dict(raw))
            except ConfigError as exc:
                raise ConfigError(f"{exc} [matrix cell {name}, made by {spec.key}]") from None
            if copied.config_hash in by_hash:
                raise ConfigError(f"{spec.key}: the copy {name} resolves to the same config as cell "
                                  f"{by_hash[copied.config_hash]} (a factor that changes nothing in it)")
            by_name[name], by_hash[copied.config_hash] = copied, name
            out.append(copied)
    return out


def expand(config: dict, check_cell: Callable[[CellConfig, str], None] | None = None) -> list[Cell]:
    """Validate the whole config and return its cells in a deterministic order: the cross product
    of the axes (minus matrix.exclude), then matrix.include in list order, then the copies of the
    claims' studies' cells (`copy_cells`: each ladder rung, then the replicate). Studies are checked too.
    `check_cell(config, prefix)` is a check of a layer above config (groklab.checks passes the
    observables registry's), run on every cell before the studies are checked.

    Raises ConfigError (one line, naming the key) for any bad key, value or combination.
    """
    config = validate(config)
    builder = _CellBuilder(config["cell"])
    cells = _axis_cells(config, builder)
    if not cells and not config["matrix"]["include"]:
        raise ConfigError("matrix: every cell excluded (matrix.exclude drops the whole cross product of matrix.axes)")
    cells += _include_cells(config, builder, cells)
    _check_cells(cells, check_cell)           # a bad cell is named before a study that cannot find it
    rungs_of(config["ladder"])
    studies(config, cells, copies=False)      # the originals first: a copy is made of a study that resolves
    copies = copy_cells(config, cells)
    _check_cells(copies, check_cell)
    cells += copies
    check_case_collisions([c.name for c in cells], "matrix", "the cells")
    found = studies(config, cells)
    check_case_collisions([s.name for s in found], "studies", "the studies")
    return cells


def _check_cells(cells: list[Cell], check_cell: Callable[[CellConfig, str], None] | None) -> None:
    for cell in cells if check_cell else ():
        try:
            check_cell(cell.config, "cell")
        except ConfigError as exc:
            raise ConfigError(f"{exc} [matrix cell {cell.name}]") from None


def _find(by_name: dict[str, Cell], name: str, key: str) -> Cell:
    if name in by_name:
        return by_name[name]
    hint = _did_you_mean(name, by_name)
    stem = re.sub(r"-[0-9a-f]{8}$", "", name)
    if stem != name and stem in by_name and by_name[stem].id == name:
        hint = f" (that is the id of cell '{stem}'; studies name cells without the hash)"
    raise ConfigError(
        f"{key}: no cell named '{name}'{hint}; the matrix has {len(by_name)} cells (`groklab cells` lists them)"
    )


def studies(config: dict, cells: list[Cell], copies: bool = True) -> list[Study]:
    """config["studies"] resolved against `cells` (by name), in config order; then (copies=True) the
    copies of the claims' studies, one per ladder rung but the primary and for the replicate, each
    comparing the copies of the study's cells (`copy_name`), in `_copies` order."""
    config = validate(config)
    by_name = {c.name: c for c in cells}
    out = []
    for study, spec in config["studies"].items():
        key = f"studies.{study}"
        baseline = _find(by_name, spec["baseline"], f"{key}.baseline")
        variants = []
        for j, name in enumerate(spec["variants"]):
            if name == spec["baseline"]:
                raise ConfigError(
                    f"{key}.variants[{j}]: '{name}' is the study's baseline; variants are compared against it"
                )
            variants.append(_find(by_name, name, f"{key}.variants[{j}]"))
        out.append(Study(name=study, baseline=baseline, variants=tuple(variants), description=spec["description"]))
    if not copies:
        return out
    found = {s.name: s for s in out}
    for spec in _copies(config):
        for study in copied_studies(config):
            s, name = found[study], copy_name(study, spec.label)
            if name in config["studies"]:
                raise ConfigError(f"{spec.key}: the copy of study {study} would be named {name}, the name of "
                                  "another study; rename that study")
            out.append(Study(name=name, baseline=_find(by_name, copy_name(s.baseline.name, spec.label), spec.key),
                             variants=tuple(_find(by_name, copy_name(v.name, spec.label), spec.key) for v in s.variants),
                             description=f"{s.description} ({spec.what})" if s.description else spec.what))
    return out


def cell_record(cell: Cell) -> dict:
    """What train jobs read (a rule's params): identity plus the resolved config, less the view keys
    (a job finds those in the workflow config), with sorted keys: Snakemake reruns a job whose params
    change, and neither switching a view nor reordering the keys of a rule in config.yaml should."""
    config = json.loads(json.dumps(cell.config.to_dict(without=VIEW_KEYS), sort_keys=True))
    return {"name": cell.name, "id": cell.id, "hash": cell.config_hash, "config": config}



def map_cells(cells: list[Cell]) -> list[Cell]:
    """The cells the matrix training map is fitted on: those that record observables, except the
    ones with hmm_state interventions (they read the map while training, so they come after it).
    Empty when no cell records observables: then there is no matrix map."""
    readers = [c for c in cells if c.config.reads_training_map]
    out = [c for c in cells if c not in readers and c.config.training.observables.enabled]
    if readers and not out:
        raise ConfigError(f"training.interventions: cell {readers[0].name} has an hmm_state rule, but no cell is left to "
                          "fit the matrix training map on (it needs cells without such a rule that record observables)")
    return out


def check_hmm(config: dict, found: list[Study], matrix_cells: list[Cell] = ()) -> None:
    """hmm.k_max against the runs it will be fitted to: K states need at least K observations
    (evaluations) per run. Raises ConfigError naming the shortest cell."""
    hmm = validate(config)["hmm"]
    if hmm["criterion"] == "heldout" and hmm["held_out_fraction"] == 0:
        raise ConfigError("hmm.criterion: heldout chooses K by the log-likelihood of held-out runs, but "
                          "hmm.held_out_fraction is 0 (no run is held out); raise hmm.held_out_fraction or use bic / aic")
    k_max = hmm["k_max"]
    fitted = [(cell, f"study {study.name}") for study in found for cell in (study.baseline, *study.variants)]
    fitted += [(cell, "the matrix training map") for cell in matrix_cells]
    for cell, what in fitted:
        n_evals = cell.config.total_steps // cell.config.training.eval_every + 1
        if n_evals < k_max:
            raise ConfigError(
                f"hmm.k_max: {k_max} states need at least {k_max} evaluations per run, but cell {cell.name} "
                f"of {what} has {n_evals} (training.steps / training.eval_every + 1); "
                f"lower hmm.k_max or evaluate more often"
            )


def check_map_states(config: dict, cells: list[Cell]) -> None:
    """An hmm_state rule's state must exist in a map of at most hmm.k_max states (the fitted map's
    own K, known only after fitting, is checked again when the cell starts training)."""
    k_max = validate(config)["hmm"]["k_max"]
    for cell in cells:
        for i, rule in enumerate(cell.config.training.interventions):
            if rule["when"] == HMM_STATE and rule["state"] != "detour" and rule["state"] >= k_max:
                raise ConfigError(f"cell.training.interventions[{i}].state: {rule['state']}, but the matrix map has at most "
                                  f"hmm.k_max={k_max} states (0..{k_max - 1}) [matrix cell {cell.name}]")
