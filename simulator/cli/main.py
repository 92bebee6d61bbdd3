"""The `npusim` command. Thin: parse arguments, call the API, render.

Each verb lives in `simulator/cli/<module>.py`, which defines `register(subparsers)` (adding its
parser, with `func` set to the function that runs it). `VERBS` below names them with their
one-line help, so that `npusim --help` and `npusim --version` import no verb module (hence no
numpy, no pydantic model, no rich): only the verb being run, or whose `--help` is asked for, is
imported. tests/cli/test_main.py checks that the table matches the modules.

Bad input (an `NpusimError`) prints one line and exits with status 2; a bug in npusim prints one
line with a "please report" hint and exits with status 1 (`--debug` shows its traceback).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import traceback

from simulator import __version__

#: (command, module, one-line help) for every verb, in the order `npusim --help` lists them.
VERBS: tuple[tuple[str, str, str], ...] = (
    ("compare", "simulator.cli.compare",
     "run several (arch, workload) pairs and compare them side by side"),
    ("compress-study", "simulator.cli.compress_study",
     "compression settings x chips: speed-up and energy saving"),
    ("explain", "simulator.cli.explain", "show the mapping and formulas behind one layer's figures"),
    ("import", "simulator.cli.import_onnx", "convert an ONNX model into a workload YAML"),
    ("list", "simulator.cli.list", "list bundled architectures, workloads, sweeps and LLMs"),
    ("llm", "simulator.cli.llm", "LLM inference: prefill, decode, time per token, KV cache"),
    ("run", "simulator.cli.run", "simulate a workload on an architecture"),
    ("sparse-study", "simulator.cli.sparse_study", "sweep one parameter of a sparse (EIE) run"),
    ("sweep", "simulator.cli.sweep", "evaluate a design-space sweep into a SQLite results file"),
    ("sweep-report", "simulator.cli.sweep_report",
     "analyse a sweep results file (Pareto front, best points, plots)"),
)


class _Parser(argparse.ArgumentParser):
    """argparse that exits with status 2 and one line on usage errors (its default is 2, too)."""

    def error(self, message: str) -> None:  # pragma: no cover - argparse plumbing
        self.exit(2, f"npusim: error: {message} (see `{self.prog} --help`)\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `npusim` parser. Only `command`'s module is imported and registers its full parser
    (all of them when `command` is "*"); every other verb is listed by name and help alone."""
    parser = _Parser(prog="npusim", description="Cycle-approximate simulator of deep-learning "
                     "accelerators (systolic, sparse, tensor-core).")
    parser.add_argument("--version", action="version", version=f"npusim {__version__}")
    parser.add_argument("--debug", action="store_true",
                        help="show the Python traceback of an internal error (also: NPUSIM_DEBUG=1)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module, help_text in VERBS:
        if command in (name, "*"):
            importlib.import_module(module).register(sub)
        else:
            sub.add_parser(name, help=help_text)
    return parser


def _command_in(argv: list[str]) -> str | None:
    """The verb on the command line: the first word that is not an option (the top-level
    options, --help and --version, take no value)."""
    return next((word for word in argv if not word.startswith("-")), None)


#: Exit statuses: 2 for bad input (and usage errors), 1 for a bug in npusim, 130 for Ctrl-C.
EXIT_INPUT, EXIT_BUG, EXIT_INTERRUPTED = 2, 1, 130

#: The hint printed with an internal error.
REPORT_HINT = ("this is a bug in npusim, not in your input: please report it with the command "
               "line and the input files; run again with --debug to see the traceback")


def main(argv: list[str] | None = None) -> int:
    """Run one command line. Bad input (an `NpusimError`, from any loader or engine) prints one
    line, `npusim: error: FILE: field 'F': what (fix)`, and returns 2; any other exception is a
    bug in npusim and prints one line with a "please report" hint and returns 1, unless
    `--debug` (anywhere on the line) or NPUSIM_DEBUG=1 asks for the traceback."""
    argv = sys.argv[1:] if argv is None else list(argv)
    debug = "--debug" in argv or os.environ.get("NPUSIM_DEBUG", "") not in ("", "0")
    argv = [word for word in argv if word != "--debug"]
    command = _command_in(argv)
    parser = build_parser(command if command in {v[0] for v in VERBS} else None)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_INPUT
    from simulator.core.errors import NpusimError

    try:
        return int(args.func(args) or 0)
    except NpusimError as exc:
        if debug:
            traceback.print_exc()
        print(f"npusim: error: {exc.one_line()}", file=sys.stderr)
        return EXIT_INPUT
    except KeyboardInterrupt:
        print("npusim: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # e.g. `npusim run ... | head`
        return 0
    except MemoryError as exc:
        # free what the failed computation still holds (its frames) before printing anything
        traceback.clear_frames(exc.__traceback__)
        if debug:
            raise
        print(f"npusim: internal error: {_describe(exc)} ({REPORT_HINT})", file=sys.stderr)
        return EXIT_BUG
    except Exception as exc:  # noqa: BLE001 - the last line of defence: one line, not a traceback
        if debug:
            raise
        print(f"npusim: internal error: {_describe(exc)} ({REPORT_HINT})", file=sys.stderr)
        return EXIT_BUG


def _describe(exc: BaseException) -> str:
    """`TypeError: message` on one line, cut to a readable length."""
    if isinstance(exc, MemoryError):
        return "out of memory (MemoryError)"
    if isinstance(exc, RecursionError):
        return "maximum recursion depth exceeded (RecursionError)"
    text = " ".join(str(exc).split())
    text = text if len(text) <= 200 else text[:197] + "..."
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
