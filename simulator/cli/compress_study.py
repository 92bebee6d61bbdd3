"""`npusim compress-study [WORKLOAD...] --chips CHIP... --settings SPEC...`: the same networks
under a list of compression settings on several chips, in one table (and one plot) of speed-up
and energy saving against the uncompressed network on the same chip.

The study is a sweep preset (`simulator.dse.compress_study`), rendered by
`simulator.report.compress_study`.
"""

from __future__ import annotations

import argparse

from simulator.cli.common import add_format_options, output_format, positive_batch, write_text

FORMATS = ("table", "json", "csv", "md")

_EPILOG = """\
default settings (label: compact string; docs/compression.md):
  none                uncompressed (each chip's baseline)
  prune 90%           prune=0.9                   unstructured, 10 % of the weights kept
  channels -50%       channels=0.5                structured: half the filters removed
  int4 weights        wbits=4
  share 16 + Huffman  share=16,huffman
  Deep Compression    prune=0.9,share=16,huffman
  Winograd F2         winograd=f2                 F(2x2,3x3) on 3x3 stride-1 convs
  Winograd F4         winograd=f4                 F(4x4,3x3)

examples:
  npusim compress-study
  npusim compress-study alexnet --chips tpu_v1 eie --settings prune=0.9 wbits=4
  npusim compress-study resnet50 --chips edge_32x32 'edge_wino:edge_32x32@datapath.winograd=[f2,f4]' \\
      --settings winograd=f2 winograd=f4 --plot winograd.png
"""


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "compress-study", help="compression settings x chips: speed-up and energy saving",
        description="Run each WORKLOAD under each compression setting on each chip, against "
        "the uncompressed workload on the same chip: latency, energy, DRAM bytes, model size, "
        "speed-up, energy saving and warnings in one table. A chip that computes only part of "
        "a network (EIE: FC and LSTM layers) runs that part and the table says so.",
        epilog=_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("workloads", nargs="*", metavar="WORKLOAD",
                        help="workload names or files (default: alexnet resnet50)")
    parser.add_argument("--chips", nargs="+", metavar="CHIP", default=None,
                        help="arch names or files, each optionally with its own overrides "
                        "and a label: [LABEL:]NAME[@PATH=VALUE]... (default: tpu_v1 eie bpu)")
    parser.add_argument("--settings", nargs="+", metavar="SPEC", default=None,
                        help="compression settings: none, a compact string such as "
                        "prune=0.9,wbits=4, or LABEL:SPEC (default: the eight below); the "
                        "uncompressed baseline is always run")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE", help="override a field of every chip (repeatable)")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size of every network (default: each one's own)")
    parser.add_argument("--plot", default=None, metavar="FILE",
                        help="also write the speed-up / energy-saving figure (.png or .svg)")
    parser.add_argument("--workers", type=int, default=1,
                        help="processes per chip's sweep (default 1: in this process)")
    add_format_options(parser, FORMATS, "the study")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar; print only errors (and --format output)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import time
    from pathlib import Path

    from simulator.core.errors import NpusimError
    from simulator.dse import compress_study as study
    from simulator.report import compress_study as report
    from simulator.report.progress import progress, progress_enabled

    fmt = output_format(args.format, args.output, FORMATS)  # a bad -o fails before the runs
    plot_format = None
    if args.plot:
        plot_format = Path(args.plot).suffix.lower().lstrip(".")
        if plot_format not in ("png", "svg"):
            raise NpusimError(f"cannot tell the plot format from {args.plot!r}", field="--plot",
                              fix="end the file name in .png or .svg")
    if args.workers < 1:
        raise NpusimError(f"workers must be at least 1, got {args.workers}", field="--workers",
                          fix="use --workers 1 or more")
    settings = ([study.parse_setting(s) for s in args.settings] if args.settings
                else list(study.DEFAULT_SETTINGS))
    started = time.perf_counter()
    with progress("compression study", enabled=progress_enabled(args.quiet)):
        plan = study.plan(args.workloads or list(study.DEFAULT_WORKLOADS),
                          args.chips or list(study.DEFAULT_CHIPS), settings, args.overrides,
                          positive_batch(args.batch))
        rows = study.run_study(plan, workers=args.workers)
    elapsed = time.perf_counter() - started
    if args.plot:
        from simulator.report.plotting import figure_bytes
        path = Path(args.plot)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(figure_bytes(report.figure(rows), str(plot_format)))
        except OSError as exc:
            raise NpusimError(f"cannot write the plot: {exc.strerror}", file=args.plot,
                              fix="choose a writable path") from None
    if fmt == "table" and args.output is None:
        if not args.quiet:
            report.print_study(rows, elapsed_s=elapsed)
    else:
        write_text(report.render(rows, fmt), args.output)
    return 0
