"""`npusim list`: the bundled architectures, workloads and sweeps, one line each."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("list", help="list bundled architectures, workloads and sweeps")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.io.bundled import catalogue
    from simulator.report.terminal import print_catalogue

    entries = catalogue()
    print_catalogue(*([(e.name, e.detail, e.description) for e in entries[key]]
                      for key in ("archs", "workloads", "sweeps")))
    return 0
