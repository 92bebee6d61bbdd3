"""`npusim import MODEL.onnx -o workloads/mynet.yaml`: turn an ONNX model into an editable
workload YAML (one line per layer), which `npusim run ARCH mynet.yaml` then simulates."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path

from simulator.cli.common import input_shapes, positive_batch, write_text


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "import", help="convert an ONNX model into a workload YAML",
        description="Import an ONNX model (weights optional: shape-only exports work) as an "
        "npusim workload. Unsupported ops stop the import unless --skip-unknown is given.")
    parser.add_argument("model", help="the .onnx file")
    parser.add_argument("-o", "--output", default=None,
                        help="write the workload YAML here (default: print it)")
    parser.add_argument("--batch", type=int, default=None,
                        help="batch size (default: the model's, or 1 when it is symbolic)")
    parser.add_argument("--input-shape", action="append", default=[], metavar="[NAME=]SHAPE",
                        help="fixed input shape with the batch, e.g. 1x3x224x224 (repeat as "
                        "NAME=SHAPE for several inputs); needed when dims are symbolic")
    parser.add_argument("--skip-unknown", action="store_true",
                        help="import even if some ops cannot be mapped (they are listed in the "
                        "description and treated as free pass-through)")
    parser.add_argument("--no-fuse", action="store_true",
                        help="keep activations as separate layers instead of fusing them into "
                        "the conv / linear / add before them")
    parser.add_argument("--name", default=None, help="workload name (default: the model's)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.core.workload import workload_from_dict
    from simulator.io.onnx.reader import import_onnx, workload_to_yaml

    path = Path(args.model)
    report = import_onnx(path, batch=positive_batch(args.batch),
                         input_shapes=input_shapes(args.input_shape),
                         skip_unknown=args.skip_unknown, fuse_activations=not args.no_fuse,
                         name=args.name)
    workload = workload_from_dict(report.workload, path)  # validate before writing
    header = [f"Imported from {path} by `npusim import` on {date.today().isoformat()}.",
              f"{len(workload.layers)} layers, {workload.macs:,} MACs, {workload.params:,} "
              f"parameters at batch {workload.batch}.",
              "Edit freely: each layer's input comes from the layer above unless it names "
              "`inputs`; see docs/onnx.md."]
    if report.skipped:
        header.append("WARNING: " + report.skipped_message())
        print(f"npusim: warning: {report.skipped_message()}", file=sys.stderr)
    write_text(workload_to_yaml(report.workload, header), args.output)
    if args.output:
        print(f"wrote {args.output}: {len(workload.layers)} layers, {workload.macs / 1e9:.3f} "
              f"GMACs, {workload.params / 1e6:.3f} M parameters", file=sys.stderr)
    return 0
