"""`npusim explain ARCH WORKLOAD [--layer NAME]`: why one layer costs what it costs."""

from __future__ import annotations

import argparse

from simulator.cli.common import (
    add_arch_options,
    add_compress_option,
    add_mapping_options,
    compress_workload,
    mapping_overrides,
    name_mapping_source,
    parse_precision,
    positive_batch,
    start_up,
    write_text,
)

FORMATS = ("table", "md", "json")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "explain", help="show the mapping and formulas behind one layer's figures",
        description="Explain one layer of WORKLOAD on ARCH (default: the layer that takes the "
        "most cycles): how it is mapped, each formula behind its cycles, traffic and energy in "
        "symbols and with its numbers, its stalls, the binding resource, and what re-simulated "
        "changes to the chip would do to it.")
    parser.add_argument("arch", help="arch name or file")
    parser.add_argument("workload", help="workload name or file")
    parser.add_argument("--layer", default=None, help="layer name (default: the slowest layer)")
    add_arch_options(parser)
    add_compress_option(parser)
    parser.add_argument("--objective", choices=("latency", "energy", "edp", "dram"),
                        default=None, help="mapping objective (default: the arch's)")
    add_mapping_options(parser)
    parser.add_argument("--no-what-if", action="store_true",
                        help="skip the re-simulated what-if changes (faster)")
    parser.add_argument("--format", choices=FORMATS, default=None,
                        help="output format (default: from the -o suffix, else a terminal view)")
    parser.add_argument("-o", "--output", default=None, help="write the output to this file")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with start_up():
        from simulator import api
        from simulator.core.errors import NpusimError
        from simulator.io.load import load_arch, load_workload
        from simulator.report import explain as render

        arch = load_arch(args.arch, args.overrides)
        workload = load_workload(args.workload, batch=positive_batch(args.batch))
        precision = parse_precision(args.precision)
        if precision is not None:
            workload.precision = precision
        workload = compress_workload(workload, arch, args.compress)
    try:
        explanation = api.explain(arch, workload, layer=args.layer, objective=args.objective,
                                  what_ifs=not args.no_what_if,
                                  mapping=mapping_overrides(arch, args))
    except NpusimError as exc:
        name_mapping_source(exc, args)
        raise
    fmt = args.format
    if fmt is None:
        suffix = (args.output or "").rsplit(".", 1)[-1].lower() if args.output else ""
        fmt = {"json": "json", "md": "md", "markdown": "md"}.get(suffix, "table")
    if fmt == "json":
        write_text(render.to_json(explanation), args.output)
    elif fmt == "md" or args.output:
        write_text(render.to_markdown(explanation), args.output)
    else:
        render.print_explanation(explanation)
    return 0
