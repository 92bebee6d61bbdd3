"""Speed of the ONNX importer: ResNet-50 built in code (shape-only and with 25.6 M weights),
then every real PyTorch export in tests/data/onnx (largest graph: swin_t, 7,639 nodes), with
the time of the shape/constant pass (folding.propagate) and of the whole import. The target is
under 2 s for the largest export. Run: python benchmarks/bench_onnx_import.py"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

from helpers.onnx_builders import resnet50  # noqa: E402

from simulator.core.workload import workload_from_dict  # noqa: E402
from simulator.io.onnx.common import node_views  # noqa: E402
from simulator.io.onnx.folding import propagate  # noqa: E402
from simulator.io.onnx.reader import _weight_like_inputs, import_onnx, load_model, workload_to_yaml  # noqa: E402

DATA = ROOT / "tests" / "data" / "onnx"


def best_of(runs: int, fn) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    import_onnx(DATA / "resnet18.onnx")  # warm up: importing onnx itself takes a second
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
            print(f"resnet50 built ({weights:8s}, {size_mb:7.2f} MB): import "
                  f"{1e3 * (imported - start):7.1f} ms, validate + YAML "
                  f"{1e3 * (done - imported):6.1f} ms; {len(workload.layers)} layers, "
                  f"{workload.macs / 1e9:.3f} GMACs")
    reference = json.loads((DATA / "reference.json").read_text())["models"]
    print(f"\n{'export':20s} {'nodes':>6s} {'kB':>7s} {'propagate':>10s} {'import':>8s} "
          f"{'layers':>6s}  (best of 3)")
    slowest = ("", 0.0)
    for name in sorted(reference, key=lambda n: -reference[n]["nodes"]):
        path = DATA / f"{name}.onnx"
        model = load_model(path)
        nodes = node_views(model.graph)
        weights = _weight_like_inputs(model.graph, nodes)
        t_prop = best_of(3, lambda: propagate(model, weights, nodes=nodes))
        t_import = best_of(3, lambda: import_onnx(path))
        layers = len(import_onnx(path).workload["layers"])
        print(f"{name:20s} {reference[name]['nodes']:6d} {path.stat().st_size / 1e3:7.1f} "
              f"{1e3 * t_prop:8.0f} ms {1e3 * t_import:5.0f} ms {layers:6d}")
        if t_import > slowest[1]:
            slowest = (name, t_import)
    print(f"\nslowest import: {slowest[0]} {slowest[1]:.2f} s (target < 2 s)")


if __name__ == "__main__":
    main()
