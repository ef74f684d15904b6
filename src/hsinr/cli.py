"""The ``hsinr`` command line: a thin layer that parses arguments, calls the library and prints.

Each subcommand lives in its own module under :mod:`hsinr.commands` and provides ``add_parser(subparsers)`` (which
registers the subcommand and sets ``func``) . User errors (:class:`hsinr.errors.HsinrError`) end with one line on
stderr and exit code 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from . import __version__, commands
from .errors import HsinrError

EXIT_USER_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """The top-level parser with every subcommand found in :mod:`hsinr.commands`."""
    parser = argparse.ArgumentParser(
        prog="hsinr",
        description="Hyperspectral image reconstruction with implicit neural representations.",
    )
    parser.add_argument("--version", action="version", version=f"hsinr {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        importlib.import_module(f"{commands.__name__}.{info.name}").add_parser(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        result = args.func(args)
    except HsinrError as exc:
        print(f"hsinr {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print(f"hsinr {args.command}: interrupted", file=sys.stderr)
        return 130
    return int(result or 0)


if __name__ == "__main__":
    sys.exit(main())
