"""Argument helpers shared by subcommands."""

from __future__ import annotations

import argparse
from pathlib import Path

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError

PRECISIONS = {
    "int4": Precision(weight_bits=4, activation_bits=4),
    "int8": Precision(weight_bits=8, activation_bits=8),
    "int8x16": Precision(weight_bits=8, activation_bits=16),
    "int16": Precision(weight_bits=16, activation_bits=16),
    "fp16": Precision(weight_bits=16, activation_bits=16, number_format="fp"),
    "fp32": Precision(weight_bits=32, activation_bits=32, number_format="fp"),
}


def add_arch_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="PATH=VALUE",
                        help="override an arch field, e.g. --set array.rows=128 (repeatable)")
    parser.add_argument("--batch", type=int, default=None, help="override the workload batch size")
    parser.add_argument("--precision", choices=sorted(PRECISIONS), default=None,
                        help="operand precision of the run (default: the workload's, else the arch's)")


def parse_precision(name: str | None) -> Precision | None:
    return PRECISIONS[name].model_copy() if name else None


def write_text(text: str, output: str | None) -> None:
    """Print to stdout, or write to a file when `output` is given."""
    if output is None:
        print(text)
        return
    path = Path(output)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text + ("\n" if not text.endswith("\n") else ""), encoding="utf-8")
    except OSError as exc:
        raise NpusimError(f"cannot write output: {exc.strerror}", file=output,
                          fix="choose a writable path") from None


def positive_batch(batch: int | None) -> int | None:
    if batch is not None and batch <= 0:
        raise NpusimError(f"batch must be positive, got {batch}", field="--batch",
                          fix="use --batch 1 or more")
    return batch
