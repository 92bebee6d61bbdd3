"""Speed of the ONNX importer: build ResNet-50 in code (shape-only and with 25.6 M weights),
import it, and print the wall time per step. Run: python benchmarks/bench_onnx_import.py"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from onnx_builders import resnet50  # noqa: E402

from simulator.core.workload import workload_from_dict  # noqa: E402
from simulator.io.onnx.reader import import_onnx, workload_to_yaml  # noqa: E402


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for weights in ("external", "full"):
            path = resnet50(weights).save(Path(tmp) / f"resnet50_{weights}.onnx")
            size_mb = path.stat().st_size / 1e6
            start = time.perf_counter()
            report = import_onnx(path)
            imported = time.perf_counter()
            workload = workload_from_dict(report.workload, path)
            workload_to_yaml(report.workload)
            done = time.perf_counter()
            print(f"resnet50 ({weights:8s}, {size_mb:7.2f} MB): import {1e3 * (imported - start):7.1f} ms, "
                  f"validate + YAML {1e3 * (done - imported):6.1f} ms; {len(workload.layers)} layers, "
                  f"{workload.macs / 1e9:.3f} GMACs")


if __name__ == "__main__":
    main()
