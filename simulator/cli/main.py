"""The `npusim` command. Thin: parse arguments, call the API, render.

Subcommands live in `simulator/cli/<name>.py`; each module defines `register(subparsers)`
and is discovered automatically. Bad input (an `NpusimError`) prints one line and exits with 2.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from simulator.api import __version__
from simulator.core.errors import NpusimError


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and one line on usage errors (its default is 2, too)."""

    def error(self, message: str) -> None:  # pragma: no cover - argparse plumbing
        self.exit(2, f"npusim: error: {message} (see `{self.prog} --help`)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="npusim", description="Cycle-approximate simulator of deep-learning "
                     "accelerators (systolic, sparse, tensor-core).")
    parser.add_argument("--version", action="version", version=f"npusim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    package = importlib.import_module("simulator.cli")
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in ("main", "common"):
            continue
        module = importlib.import_module(f"simulator.cli.{info.name}")
        if hasattr(module, "register"):
            module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except NpusimError as exc:
        print(f"npusim: error: {exc.one_line()}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("npusim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. `npusim run ... | head`
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
