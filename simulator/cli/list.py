"""`npusim list`: the bundled architectures and workloads, one line each."""

from __future__ import annotations

import argparse

from simulator.core.errors import NpusimError
from simulator.io.config import ARCH_DIR, WORKLOAD_DIR, read_yaml
from simulator.report.terminal import print_catalogue


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("list", help="list bundled architectures and workloads")
    parser.set_defaults(func=run)


def _describe(directory, suffixes) -> list[tuple[str, str, str]]:
    rows = []
    for path in sorted(directory.glob("*")):
        if path.suffix not in suffixes or not path.is_file():
            continue
        try:
            data = read_yaml(path)
        except NpusimError as exc:
            rows.append((path.stem, "?", f"(unreadable: {exc.message})"))
            continue
        kind = str(data.get("kind", f"{len(data.get('layers', []))} layers"))
        rows.append((path.stem, kind, str(data.get("description", "")).strip().splitlines()[0]
                     if data.get("description") else ""))
    return rows


def run(args: argparse.Namespace) -> int:
    print_catalogue(_describe(ARCH_DIR, (".yaml", ".yml")),
                    _describe(WORKLOAD_DIR, (".yaml", ".yml")))
    return 0
