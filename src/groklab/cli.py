"""Command line: `groklab train` trains one cell outside Snakemake; `groklab cells` lists a config's matrix."""

from __future__ import annotations

import argparse
import sys

import yaml

from .config import ConfigError, load_cell_file


def _train(args) -> int:
    from .train import train_cell

    cell = load_cell_file(args.config)
    if args.steps is not None:
        cell = cell.replace_training(steps=args.steps)
    metrics = train_cell(cell, args.out, progress=not args.quiet, name=args.name)
    last = metrics.groupby("seed").tail(1)
    print(last.to_string(index=False))
    return 0


def _cells(args) -> int:
    from .matrix import expand

    try:
        with open(args.config) as fh:
            raw = yaml.safe_load(fh) or {}
    except FileNotFoundError:
        raise ConfigError(f"{args.config}: file not found") from None
    for cell in expand(raw):
        print(f"{cell.id}\t{len(cell.config.training.seeds)} seeds")
    return 0


def _observables_doc(args) -> int:
    from pathlib import Path

    from . import io
    from .observables.doc import render

    io.write_text(Path(args.out), render())
    print(f"wrote {args.out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    if argv is None:
        from .resources import reexec_with_single_arena

        reexec_with_single_arena()
    parser = argparse.ArgumentParser(prog="groklab", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    tr = sub.add_parser("train", help="train every seed of one cell (a cell config: YAML or JSON)")
    tr.add_argument("--config", required=True, help="cell config file (keys task, model, optimizer, init, training)")
    tr.add_argument("--out", required=True, help="output directory (metrics.parquet, config.json, final.pt)")
    tr.add_argument("--name", default="", help="readable cell name stored with the results")
    tr.add_argument("--steps", type=int, default=None, help="override training.steps")
    tr.add_argument("--quiet", action="store_true", help="no progress bar")
    tr.set_defaults(func=_train)
    cl = sub.add_parser("cells", help="list the cells a workflow config expands to")
    cl.add_argument("--config", default="config.yaml")
    cl.set_defaults(func=_cells)
    od = sub.add_parser("observables-doc", help="regenerate docs/observables.md from the observable registry")
    od.add_argument("--out", default="docs/observables.md")
    od.set_defaults(func=_observables_doc)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"groklab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
