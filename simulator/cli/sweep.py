"""`npusim sweep SWEEP.yaml -o results.sqlite`: evaluate a design-space sweep (resumable)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "sweep", help="evaluate a design-space sweep into a SQLite results file",
        description="Evaluate every design point x workload of a sweep file (docs/sweeps.md) "
        "and store each result as it finishes. Re-running the same command resumes: points "
        "already in the results file are skipped. After the sweep file's points change, the "
        "old results file is refused unless --extend or --fresh says what to do with it.")
    parser.add_argument("sweep", help="sweep file (YAML), or a bundled sweep name (tpu_sram_pe)")
    parser.add_argument("-o", "--output", default=None,
                        help="results file (SQLite; default: <sweep name>.sqlite)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes (default: all CPUs; 1 runs in this process)")
    parser.add_argument("--dask", default=None, metavar="ADDRESS",
                        help="run on a Dask cluster: a scheduler address, or 'local' "
                             "(needs the optional extra npusim[dask])")
    parser.add_argument("--limit", type=int, default=None, metavar="N",
                        help="stop after N new points (resume later)")
    parser.add_argument("--retry-errors", action="store_true",
                        help="re-evaluate points stored with an unexpected error")
    parser.add_argument("--fresh", action="store_true",
                        help="discard the points stored in the results file and start over")
    parser.add_argument("--max-rows", type=int, default=None, metavar="N",
                        help="refuse a sweep of more than N rows (design points x workloads; "
                             "default 100,000, or NPUSIM_MAX_SWEEP_ROWS)")
    parser.add_argument("--extend", action="store_true",
                        help="after editing the sweep file: keep the points the results file "
                        "holds and add the new ones (reports read only the current points)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar or summary")
    parser.set_defaults(func=run)


def resolve_sweep_path(text: str) -> Path:
    """A path, or the name of a bundled sweep in arch_configs/sweeps/."""
    from simulator.io.bundled import resolve_sweep
    return resolve_sweep(text)


def run(args: argparse.Namespace) -> int:
    from simulator.core.errors import NpusimError
    from simulator.dse.runner import run_sweep
    from simulator.dse.spec import load_sweep

    if args.workers is not None and args.workers < 1:
        raise NpusimError(f"--workers must be at least 1, got {args.workers}", field="--workers")
    if args.fresh and args.extend:
        raise NpusimError("--fresh discards the stored points and --extend keeps them",
                          field="--extend", fix="give one of them")
    if args.limit is not None and args.limit < 0:
        raise NpusimError(f"--limit must not be negative, got {args.limit}", field="--limit")
    if args.max_rows is not None and args.max_rows < 1:
        raise NpusimError(f"--max-rows must be at least 1, got {args.max_rows}",
                          field="--max-rows")
    sweep = load_sweep(resolve_sweep_path(args.sweep), max_rows=args.max_rows)
    output = Path(args.output or f"{sweep.name}.sqlite")
    try:
        summary = run_sweep(sweep, output, workers=args.workers, dask=args.dask,
                            max_points=args.limit, retry_errors=args.retry_errors,
                            fresh=args.fresh, extend=args.extend, progress=not args.quiet and sys.stderr.isatty())
    except KeyboardInterrupt:
        print(f"npusim: interrupted; finished points are saved in {output}: re-run the same "
              "command to resume", file=sys.stderr)
        return 130
    if not args.quiet:
        from simulator.report.sweep import print_run_summary
        print_run_summary(summary, output)
    return 0
