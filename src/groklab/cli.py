"""Command line: `groklab train` trains one cell outside Snakemake; `groklab cells` lists a config's
matrix and `groklab packs` the packs it trains in; `groklab audit` traces the paper's numbers to
their inputs."""

from __future__ import annotations

import argparse
import sys

import groklab
from groklab.config.cells import ConfigError, load_cell_file


def _train(args) -> int:
    from groklab.training.job import train_cell

    overrides = tuple(args.set) + ((f"training.steps={args.steps}",) if args.steps is not None else ())
    cell = load_cell_file(args.config, overrides)   # --steps is one more override, checked with the rest
    board = args.tensorboard or f"{args.out}/tensorboard"
    metrics = train_cell(cell, args.out, progress=not args.quiet, name=args.name, hmm_map=args.hmm_map, board=board)
    last = metrics.groupby("seed").tail(1)
    print(last.to_string(index=False))
    return 0


def _cells(args) -> int:
    """A table of the config's cells: id, matrix axes (or the include's name), seeds, and the state of
    its run directory under --results (done / partial / missing / damaged, with the problem below)."""
    from pathlib import Path

    from tabulate import tabulate

    from groklab.checks import check_config, load_workflow_config
    from groklab.training.packs import form_packs
    from groklab.training.rundir import RUN_STATUSES

    raw = load_workflow_config(args.config)
    matrix = check_config(raw)
    runs = Path(args.results or raw["results_dir"]) / "runs"
    packs = form_packs({cell_id: cell.config for cell_id, cell in matrix.cells.items()}, args.device)
    states = matrix.run_states(packs, runs)
    rows = [(cell.id, " ".join(f"{axis}={label}" for axis, label in cell.axis_labels) or f"include {cell.name}",
             ",".join(map(str, cell.config.training.seeds)), states[cell.id][0]) for cell in matrix.cells.values()]
    problems = [problem for _, problem in states.values() if problem]
    print(tabulate(rows, headers=("cell", "axes", "seeds", "status"), tablefmt="plain"))
    counts = {s: sum(r[3] == s for r in rows) for s in RUN_STATUSES}
    print(f"{len(rows)} cells in {runs}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
    for problem in problems:
        print(f"groklab: results error: {problem}", file=sys.stderr)
    return 1 if problems else 0


def _packs(args) -> int:
    """The packs the workflow trains this config in: one line per pack, its models and cells."""
    from groklab.checks import check_config, load_workflow_config
    from groklab.training.packs import form_packs

    raw = load_workflow_config(args.config)
    cells = check_config(raw).cells
    for pack in form_packs({cell_id: cell.config for cell_id, cell in cells.items()}, args.device):
        print(f"{pack.id}\t{pack.models} models\t{pack.device}\t{' '.join(pack.cells)}")
    return 0


def _observables_doc(args) -> int:
    from pathlib import Path

    from groklab import io
    from groklab.training.observables.doc import render

    io.write_text(Path(args.out), render())
    print(f"wrote {args.out}")
    return 0


def _audit(args) -> int:
    """Print one number's provenance and recheck it, or recheck every number (--all): re-hash its
    inputs, then re-read its table cell (speedups, claims, lead-lag, forecast) or recompute it."""
    import json
    from pathlib import Path

    from groklab.paper import provenance, queries

    try:
        records = provenance.load(args.provenance)
        selected = list(records.values()) if args.all else [provenance.find(records, args.name)]
    except (FileNotFoundError, KeyError) as exc:
        print(f"groklab audit: {exc.args[0]}", file=sys.stderr)
        return 2
    queries.clear_caches()
    problems, hashes = [], {}      # every input hashed once across the records
    for rec in selected:
        if not args.all:
            print(json.dumps(rec, indent=2))
        problems += provenance.check(rec, Path(args.root), hashes)
    damaged = _damaged_runs(Path(args.root) / args.runs) if args.all else []
    for p in problems + damaged:
        print(f"MISMATCH {p}")
    from_tables = sum(1 for rec in selected if rec.get("source"))
    print(f"audit: {len(selected) - len({p.split(':', 1)[0] for p in problems})} of {len(selected)} numbers "
          f"match their recorded inputs ({from_tables} re-read from their tables, {len(selected) - from_tables} "
          f"recomputed)" + ("" if not problems else f"; {len(problems)} problem(s)"))
    if args.all:
        print(f"audit: {len(damaged)} damaged run file(s) under {args.runs} (every file hashed against its config.json)")
    return 1 if problems or damaged else 0


def _damaged_runs(runs) -> list[str]:
    """Every run directory's files hashed in full against the checksums of its config.json."""
    import json

    from groklab.training.rundir import checksum_problem

    out = []
    for config in sorted(runs.glob("*/config.json")):
        try:
            files = json.loads(config.read_text()).get("files", {})
        except ValueError:
            out.append(f"{config}: not valid JSON")
            continue
        if problem := checksum_problem(config.parent, files, full=True):
            out.append(problem)
    return out


def _summary(args) -> int:
    """Per-cell grok events of a results directory as a Markdown table with issue #20's criteria for
    the division baseline (groklab.analysis.calibration), e.g. config/calibration-results.md."""
    from pathlib import Path

    from groklab.analysis import calibration
    from groklab.analysis.aggregate import summarise_runs

    dirs = sorted(p.parent for p in Path(args.runs).glob("*/metrics.parquet"))
    if not dirs:
        print(f"groklab summary: no finished runs (*/metrics.parquet) under {args.runs}", file=sys.stderr)
        return 2
    runs = summarise_runs(dirs)
    table = calibration.calibration_table(runs)
    met = calibration.chosen(table)
    print(f"{len(runs)} models from {len(dirs)} cells. {calibration.criteria_text()}\n")
    print(calibration.as_markdown(table))
    print(f"\nCells that meet every criterion: {', '.join(met['cell']) if len(met) else 'none'}.")
    return 0


CONFIGFILE_FLAGS = ("--configfile", "--configfiles")


def configfiles_of(args: list[str]) -> list[str]:
    """The files of Snakemake's --configfile / --configfiles options (each takes one or more)."""
    files, taking = [], False
    for arg in args:
        if arg in CONFIGFILE_FLAGS:
            taking = True
        elif arg.startswith(tuple(f"{flag}=" for flag in CONFIGFILE_FLAGS)):
            files.append(arg.split("=", 1)[1])
            taking = False
        elif taking and not arg.startswith("-"):
            files.append(arg)
        else:
            taking = False
    return files


def _snakemake(args: list[str]) -> int:
    """Snakemake with these arguments, after groklab has read each --configfile: Snakemake parses
    those files before the Snakefile runs, and its own error names no line, column or key."""
    import os
    import shutil
    from pathlib import Path

    from groklab.checks import load_workflow_config

    try:
        for path in configfiles_of(args):
            load_workflow_config(path)
    except ConfigError as exc:
        print(f"groklab: config error: {exc}", file=sys.stderr)
        return 2
    beside = Path(sys.executable).with_name("snakemake")   # the snakemake of groklab's environment
    exe = str(beside) if beside.exists() else shutil.which("snakemake")
    if exe is None:
        print("groklab snakemake: snakemake not found (bash scripts/setup.sh installs it)", file=sys.stderr)
        return 2
    sys.stdout.flush()
    os.execv(exe, [exe, *args])
    return 0   # not reached


def main(argv: list[str] | None = None) -> int:
    given = sys.argv[1:] if argv is None else argv
    if given[:1] == ["snakemake"]:   # its arguments are Snakemake's, not for argparse
        return _snakemake(given[1:])
    if argv is None:
        from groklab.training.resources import reexec_with_single_arena

        reexec_with_single_arena()
    parser = argparse.ArgumentParser(prog="groklab", description=__doc__)
    parser.add_argument("--version", action="version", version=f"groklab {groklab.__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train every seed of one cell (a cell config: YAML or JSON)")
    tr.add_argument("--config", required=True, help="cell config file (keys task, model, optimizer, init, training)")
    tr.add_argument("--out", required=True, help="output directory (metrics.parquet, config.json, final.pt)")
    tr.add_argument("--name", default="", help="readable cell name stored with the results")
    tr.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override one key of the cell config (dotted, value read as YAML), e.g. --set optimizer.lr=1e-3 "
                         "--set training.seeds=[0,1]; checked with the file, like a key written in it")
    tr.add_argument("--steps", type=int, default=None, help="override training.steps")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.add_argument("--tensorboard", default=None, metavar="DIR",
                    help="live curves: event files under DIR/seed<k> (default OUT/tensorboard; "
                         "training.tensorboard.enabled: false writes none)")
    tr.add_argument("--hmm-map", default=None,
                    help="training map (model.json) for hmm_state interventions, e.g. results/hmm/_matrix/model.json")
    tr.set_defaults(func=_train)
    cl = sub.add_parser("cells", help="the cells a workflow config expands to, and which are trained (done / partial / "
                        "missing / damaged)")
    cl.add_argument("--config", default="config.yaml")
    cl.add_argument("--results", default=None, help="results directory (default: the config's results_dir)")
    cl.add_argument("--device", default="cpu", choices=["cpu", "cuda"],
                    help="what training.device: auto means (the packs a damaged run's rerun retrains)")
    cl.set_defaults(func=_cells)
    pk = sub.add_parser("packs", help="list the packs (cells trained as one ensemble) of a workflow config")
    pk.add_argument("--config", default="config.yaml")
    pk.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="what training.device: auto means")
    pk.set_defaults(func=_packs)
    sub.add_parser("snakemake", help="run snakemake with the arguments that follow, after checking each --configfile "
                   "with groklab's reader (its YAML errors then give the line and key)")
    od = sub.add_parser("observables-doc", help="regenerate docs/observables.md from the observable registry")
    od.add_argument("--out", default="docs/observables.md")
    od.set_defaults(func=_observables_doc)
    su = sub.add_parser("summary", help="per-cell grok events of a results directory as a Markdown table")
    su.add_argument("runs", help="a results/runs directory")
    su.set_defaults(func=_summary)
    au = sub.add_parser("audit", help="trace a number of the paper to its inputs and recompute it")
    au.add_argument("name", nargs="?", help="a macro name (\\BaselineGrokStep or BaselineGrokStep) or a table-cell key")
    au.add_argument("--all", action="store_true", help="recheck every number; exit 1 if any input changed or any number differs")
    au.add_argument("--provenance", default="paper/generated/provenance.json", help="the paper's provenance records")
    au.add_argument("--root", default=".", help="directory the recorded input paths are relative to (the workflow's)")
    au.add_argument("--runs", default="results/runs",
                    help="with --all: run directories (under --root) whose files are hashed against their config.json")
    au.set_defaults(func=_audit)
    args = parser.parse_args(argv)
    if args.command == "audit" and not (args.all or args.name):
        parser.error("audit: give a NAME or --all")
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"groklab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
