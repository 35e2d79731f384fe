"""The ``phantom`` command: build the book, run one notebook, and the long jobs.

``phantom book`` and ``phantom run`` live here; the long jobs (``data``, ``bench``,
``sweep``) are contributed by their modules, each of which exposes
``configure(subparser)`` that adds its arguments and sets ``func``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path

from phantom_lib.book import build as book
from phantom_lib.book import profiles

# subcommand -> module exposing ``configure(parser: argparse.ArgumentParser) -> None``
COMMAND_MODULES = {
    "data": "phantom_lib.data.standin",
    "bench": "phantom_lib.perf.bench",
    "sweep": "phantom_lib.study.runner",
}


def _book(args: argparse.Namespace) -> int:
    book.build_book(args.profile, args.only)
    return 0


def _run(args: argparse.Namespace) -> int:
    source = book.find_notebook(args.notebook)
    overrides = {name: book.parse_value(value) for name, value in args.parameters}
    output = Path(args.output) if args.output else Path(f"{source.stem}.executed.ipynb")
    book.run_notebook(source, output, args.profile, overrides)
    print(f"[phantom] executed notebook written to {output}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``phantom`` command."""
    parser = argparse.ArgumentParser(prog="phantom", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p_book = sub.add_parser("book", help="execute every notebook and build the HTML book")
    p_book.add_argument("--profile", choices=profiles.names(), default=profiles.DEFAULT_PROFILE)
    p_book.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="NN",
        help="re-execute only this notebook (repeatable); other chapters reuse their last execution",
    )
    p_book.set_defaults(func=_book)

    p_run = sub.add_parser("run", help="execute one notebook with papermill-style parameters")
    p_run.add_argument("notebook", help="path, stem or number of a notebook, e.g. notebooks/03_coi.md or 03")
    p_run.add_argument(
        "-p",
        "--parameter",
        dest="parameters",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="override a parameter (VALUE read as a Python literal, else as a string)",
    )
    p_run.add_argument("--profile", choices=profiles.names(), default=profiles.DEFAULT_PROFILE)
    p_run.add_argument("-o", "--output", help="executed notebook path (default: NN_name.executed.ipynb)")
    p_run.set_defaults(func=_run)

    for name, module_name in COMMAND_MODULES.items():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as err:
            if err.name != module_name:
                raise
            continue
        module.configure(sub.add_parser(name, help=(module.__doc__ or name).strip().splitlines()[0]))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``phantom`` console script."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except (book.NotebookError, FileNotFoundError, ValueError, RuntimeError) as err:
        print(f"phantom {args.command}: error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
