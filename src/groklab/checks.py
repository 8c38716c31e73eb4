"""The one validation path for a whole config: `groklab cells` and the Snakefile both call
`check_config`, so a config is refused (or accepted) the same way by both, before any job.

It sits above every stage because its checks span them: the schema and matrix (config), the
observables registry (training), the HMM settings (maps) and the paper's claims (analysis)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from groklab.analysis.claims import check_paper
from groklab.config.cells import validate
from groklab.config.matrix import Cell, Study, check_hmm, check_map_states, expand, map_cells, studies
from groklab.training.packs import Pack, check_trainable, describe_rerun, retrained_with
from groklab.training.rundir import run_status


def check_hmm_features(hmm: dict) -> None:
    """hmm.features name registered observables (a definition, or one of its sites `name[site]`),
    and hmm.order_by is first_visit or one of them: refused here, not in the hmm_fit job after
    all the training."""
    from groklab.config.cells import ConfigError
    from groklab.training.observables import check_registered

    for i, feature in enumerate(hmm["features"]):
        check_registered(feature, f"hmm.features[{i}]")
    if hmm["order_by"] != "first_visit" and hmm["order_by"] not in hmm["features"]:
        raise ConfigError(f"hmm.order_by: {hmm['order_by']!r} is neither first_visit nor one of hmm.features")


# Directories of the repository that hold its sources: results_dir may not lie in one (#37).
SOURCE_DIRS = ("src", "workflow", "tests", "docs", "config", "paper", "scripts", "benchmarks", ".git")


def check_results_dir(config: dict, cwd: Path | None = None) -> None:
    """results_dir against the working directory `cwd` (the repository root, where Snakemake runs):
    ConfigError naming results_dir for '' or '.', the root or a directory above it, an existing file,
    a path in the source tree, and a path outside `cwd` unless results_dir_outside is true."""
    from groklab.config.cells import ConfigError

    given, outside_ok = config["results_dir"], config.get("results_dir_outside", False)
    root = (cwd or Path.cwd()).resolve()
    if not given.strip():
        raise ConfigError(f"results_dir: {given!r} is empty, which would mean the working directory {root} itself; "
                          "name a directory of its own, e.g. results")
    path = (root / given).resolve()
    if path == root or root.is_relative_to(path):
        what = "the working directory" if path == root else "a directory above the working directory"
        raise ConfigError(f"results_dir: {given!r} is {what} {root}; name a directory of its own, e.g. results")
    if path.exists() and not path.is_dir():
        raise ConfigError(f"results_dir: {given!r} is an existing file, not a directory")
    if path.is_relative_to(root):
        top = path.relative_to(root).parts[0]
        if top in SOURCE_DIRS:
            raise ConfigError(f"results_dir: {given!r} is inside the source tree ({top}/); generated files go in a "
                              "directory of their own, e.g. results")
    elif not outside_ok:
        raise ConfigError(f"results_dir: {given!r} is outside the working directory {root}; set "
                          "results_dir_outside: true to write there")


SECTIONS = "cell, matrix, studies, hmm, paper, ..."


def load_workflow_config(path: str) -> dict:
    """A workflow config file -> its mapping; ConfigError naming the file for a YAML error (with
    its line), a key given twice, an empty file or a top level that is not a mapping. The
    Snakefile reads every config file with this as well, so both entry points refuse the same."""
    from groklab.config.cells import ConfigError, load_yaml_file

    raw = load_yaml_file(path)
    if raw is None:
        raise ConfigError(f"{path}: empty file; a workflow config is a mapping of sections ({SECTIONS})")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: the top level is a {type(raw).__name__}, not a mapping of sections ({SECTIONS})")
    return raw


@dataclass(frozen=True)
class Matrix:
    """A validated config: its cells by id, studies by name, and the cells the matrix map is fitted on."""
    config: dict
    cells: dict[str, Cell]
    studies: dict[str, Study]
    map_cells: list[Cell]

    @property
    def map_readers(self) -> set[str]:
        """Ids of the cells whose interventions read the matrix training map (hmm_state rules)."""
        return {c.id for c in self.cells.values() if c.config.reads_training_map}

    def run_states(self, packs: list[Pack], runs: Path) -> dict[str, tuple[str, str | None]]:
        """Cell id -> (done / partial / missing / damaged, the problem of a damaged run naming the
        file and what Snakemake retrains once it is deleted), for the run directories under `runs`."""
        fitted = {c.id for c in self.map_cells}
        return {c.id: run_status(runs / c.id, c.config_hash,
                                 describe_rerun(retrained_with(c.id, packs, fitted, self.map_readers)))
                for c in self.cells.values()}


def check_config(config: dict) -> Matrix:
    """Expand and check `config` (defaults filled in place); ConfigError naming the key."""
    check_results_dir(validate(config))
    cells = {cell.id: cell for cell in expand(config, check_cell=check_trainable)}
    found = {s.name: s for s in studies(config, list(cells.values()))}
    # The matrix training map is fitted on every cell except those whose interventions react to it
    # (hmm_state rules), which train after it.
    fitted = map_cells(list(cells.values()))
    check_hmm(config, list(found.values()), fitted)
    check_hmm_features(config["hmm"])
    check_map_states(config, list(cells.values()))
    check_paper(config["paper"], {s.name: [v.name for v in s.variants] for s in found.values()},
                {c.name for c in cells.values()}, list(config["matrix"]["axes"]))
    return Matrix(config, cells, found, fitted)
