"""`npusim run ARCH WORKLOAD`: simulate one network on one chip and report it."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.cli.common import (
    add_arch_options,
    add_compress_option,
    add_format_options,
    add_mapping_options,
    compress_workload,
    input_shapes,
    mapping_overrides,
    name_mapping_source,
    output_format,
    parse_precision,
    positive_batch,
    start_up,
    write_text,
)

FORMATS = ("table", "json", "csv", "md", "html")


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("run", help="simulate a workload on an architecture",
                            description="Simulate WORKLOAD on ARCH. Both may be bundled names "
                            "(see `npusim list`) or paths (YAML, SCALE-Sim .cfg/.csv, ONNX).")
    parser.add_argument("arch", help="arch name or file (YAML or SCALE-Sim .cfg)")
    parser.add_argument("workload", help="workload name or file (YAML, SCALE-Sim CSV, ONNX)")
    add_arch_options(parser)
    add_compress_option(parser)
    add_format_options(parser, FORMATS)
    parser.add_argument("--report", default=None, metavar="DIR",
                        help="also write an HTML report with plots into DIR")
    parser.add_argument("--png", action="store_true",
                        help="with --report: also write each plot as PNG (110 dpi) beside the "
                        "SVG")
    parser.add_argument("--objective", choices=("latency", "energy", "edp", "dram"),
                        default=None, help="what the mapper minimises (default: the arch's "
                        "mapping_objective, latency)")
    add_mapping_options(parser)
    parser.add_argument("--trace", default=None, metavar="FILE",
                        help="write a Chrome trace-event timeline (engines that simulate events)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="[NAME=]SHAPE",
                        help="ONNX only: fixed input shape with the batch, e.g. 1x3x224x224")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="ONNX only: treat ops that cannot be mapped as free pass-through")
    parser.add_argument("--ascii", action="store_true",
                        help="also draw a text roofline in the terminal")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only errors")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    with start_up():
        from simulator import api
        from simulator.core.errors import NpusimError
        from simulator.io.load import load_arch, load_workload
        from simulator.report import files, terminal
        from simulator.report.progress import progress, progress_enabled

        fmt = output_format(args.format, args.output, FORMATS)  # a bad -o fails before the run
        arch = load_arch(args.arch, args.overrides)
        workload = load_workload(args.workload, batch=positive_batch(args.batch),
                                 input_shapes=input_shapes(args.input_shape),
                                 skip_unknown=args.skip_unknown)
        precision = parse_precision(args.precision)
        if precision is not None:
            workload.precision = precision
        workload = compress_workload(workload, arch, args.compress)
        mapping = mapping_overrides(arch, args)
    with progress(f"simulating {workload.name} on {arch.name}",
                  enabled=progress_enabled(args.quiet)):
        try:
            result = api.simulate(arch, workload, trace=bool(args.trace),
                                  objective=args.objective, mapping=mapping)
        except NpusimError as exc:
            name_mapping_source(exc, args)
            raise
    if args.trace:
        events = result.trace_events
        if events is None:
            raise NpusimError(f"the {arch.kind} engine has no event timeline", field="--trace",
                              fix="use --trace with a tensorcore arch")
        write_text(files.trace_json(events), args.trace)
    if args.report:
        from simulator.report.html import write_report
        with progress(f"writing the report into {args.report}",
                      enabled=progress_enabled(args.quiet)):
            write_report(result, Path(args.report), png=args.png)
    if args.quiet and args.output is None:
        return 0
    if fmt == "table" and args.output is None:
        terminal.print_run_to_stdout(result)
        if args.ascii:
            from simulator.core.roofline_plot import default_x_axis, roofline_plot_data
            from simulator.report.ascii import roofline
            print(roofline(roofline_plot_data(result, default_x_axis(result))))
    elif fmt == "html":
        from simulator.report.html import standalone_page
        write_text(standalone_page(result), args.output)
    else:
        write_text(files.render(result, fmt), args.output)
    return 0
