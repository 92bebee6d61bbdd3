"""`npusim list`: the bundled architectures, workloads, sweeps and LLM configs, one line each."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("list", help="list bundled architectures, workloads, sweeps and LLMs")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.io.bundled import catalogue
    from simulator.report.llm import print_llm_catalogue
    from simulator.report.terminal import print_catalogue

    entries = catalogue()
    print_catalogue(*([(e.name, e.detail, e.description) for e in entries[key]]
                      for key in ("archs", "workloads", "sweeps")))
    print_llm_catalogue([(e.name, e.detail, e.description) for e in entries["llms"]])
    return 0
