"""`npusim sparse-study ARCH WORKLOAD --vary FIELD=v1,v2,...`: sweep one parameter of a sparse
(EIE-style) run and print latency and load balance per layer.

FIELD is an arch field (queue_depth, pes, index_bits, ...; any dotted path `--set` accepts) or a
workload density: `density` / `weight_density` sets the weight density of every layer with
weights, `activation_density` its input density. The study is a sweep preset
(`simulator.dse.sparse_study`), rendered by `simulator.report.sparse_study`.
"""

from __future__ import annotations

import argparse

from simulator.cli.common import add_format_options, output_format, write_text

FORMATS = ("table", "json", "csv")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("sparse-study", help="sweep one parameter of a sparse (EIE) run",
                            description="Run WORKLOAD on a sparse ARCH once per value of one "
                            "parameter and print per-layer latency (us) and load-balance "
                            "efficiency (time at perfect balance / actual time).")
    parser.add_argument("arch", help="sparse arch name or file, e.g. eie")
    parser.add_argument("workload", help="workload name or file, e.g. eie_benchmarks")
    parser.add_argument("--vary", required=True, metavar="FIELD=V1,V2,...",
                        help="e.g. queue_depth=1,2,4,8 or pes=64,256 or density=0.01,0.1,1")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE", help="fixed arch override (repeatable)")
    parser.add_argument("--layers", default=None, help="comma-separated layer names to keep")
    add_format_options(parser, FORMATS, "the study")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.dse import sparse_study
    from simulator.io.load import load_workload
    from simulator.report import sparse_study as report

    fmt = output_format(args.format, args.output, FORMATS)
    field, values = sparse_study.parse_vary(args.vary)
    workload = load_workload(args.workload)
    if args.layers:
        workload = sparse_study.keep_layers(
            workload, [n.strip() for n in args.layers.split(",") if n.strip()])
    rows = sparse_study.study(args.arch, workload, field, values, args.overrides)
    if fmt == "table" and args.output is None:
        report.print_study(field, rows)
    else:
        write_text(report.render(field, rows, fmt), args.output)
    return 0
