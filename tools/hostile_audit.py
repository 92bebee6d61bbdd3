"""Run a corpus of hostile and extreme inputs through `python -m simulator` and tabulate how
each ends (issue 15): `ok` (exit 0), `one line` (exit 2, one `npusim: error:` line), or a
failure: `bug` (exit 1, an internal error), `traceback`, `timeout`, `crash` (a signal).

Each command runs in its own process under a 2 GiB address-space limit and a 60 s time limit.
The regression tests (tests/cli/test_hostile_inputs.py, tests/io/test_hostile_files.py,
tests/dse/test_store_hostile.py, tests/core/test_limits.py) pin the behaviour; this script is
the quick audit over the whole corpus, per class:

    python3 tools/hostile_audit.py            # the table
    python3 tools/hostile_audit.py -v         # and every case's last stderr line
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import sqlite3
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SMALL = ("name: t\ninput: [3, 16, 16]\nlayers:\n"
         "  - {name: c1, type: conv, out_channels: 8, kernel: 3}\n"
         "  - {name: fc, type: linear, out_features: 10}\n")
FC = ("name: w\nsource: \"a paper\"\nlayers:\n"
      "  - {{name: fc, type: linear, input: [96], out_features: 64, weights_file: {file}}}\n")
CFG = ("[architecture_presets]\nArrayHeight : {rows}\nArrayWidth : 8\nIfmapSramSzkB : 64\n"
       "FilterSramSzkB : 64\nOfmapSramSzkB : 64\nDataflow : ws\nBandwidth : {bw}\n")
CONV_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\n")


def net(top: str = "", layer: str = "{name: c1, type: conv, out_channels: 8, kernel: 3}") -> str:
    return f"name: t\ninput: [3, 16, 16]\n{top}layers:\n  - {layer}\n"


def npy(shape: tuple, data: bytes = b"\0" * 16, descr: str = "<f4") -> bytes:
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    header += " " * (63 - (10 + len(header)) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode() + data


def bomb(key: str = "layers") -> str:
    lines = ["name: t", "base: tpu_v1", "workloads: [w.yaml]", "a: &a [8, 8, 8, 8, 8, 8, 8, 8]"]
    for prev, name in zip("abcdefgh", "bcdefghi"):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    return "\n".join(lines + [f"{key}: *i"]) + "\n"


def sweep(vary: str, extra: str = "") -> str:
    return f"name: s\nbase: tpu_v1\nworkloads: [w.yaml]\nvary: {vary}\n{extra}"


def arch(extra: str) -> str:
    return ("name: a\nkind: systolic\nclock_mhz: 700\narray: {rows: 8, cols: 8}\n"
            "memory: {style: split, ifmap_sram_bytes: 65536, filter_sram_bytes: 65536, "
            "ofmap_sram_bytes: 65536}\ndram: {bandwidth_gbps: 10}\n" + extra)


RUN = ["run", "tpu_v1", "w.yaml"]
SW = ["sweep", "s.yaml", "-o", "r.sqlite", "-q", "--workers", "1"]

# (class, label, files, argv); files map a name to text, bytes or a builder keyword
CASES: list[tuple[str, str, dict, list[str]]] = [
    ("sizes", "dims 2^40 on bpu", {"w.yaml": net().replace("[3, 16, 16]", "[3, 1099511627776, 1099511627776]")}, ["run", "bpu", "w.yaml"]),
    ("sizes", "dims 2^40 on tpu_v1", {"w.yaml": net().replace("[3, 16, 16]", "[3, 1099511627776, 1099511627776]")}, RUN),
    ("sizes", "400-digit batch", {"w.yaml": net(f"batch: {'9' * 400}\n")}, RUN),
    ("sizes", "batch 1e30 (int)", {"w.yaml": net(f"batch: {10**30}\n")}, RUN),
    ("sizes", "batch 1.0e+30 (float)", {"w.yaml": net("batch: 1.0e+30\n")}, RUN),
    ("sizes", "--batch 400 digits", {"w.yaml": SMALL}, RUN + ["--batch", "9" * 400]),
    ("sizes", "/dev/zero as workload", {}, ["run", "tpu_v1", "/dev/zero"]),
    ("sizes", "100 MB workload file", {"w.yaml": "sparse:100000000"}, RUN),
    ("sizes", "named pipe as workload", {"w.yaml": "fifo"}, RUN),
    ("sizes", "adaptive pool to 10^8", {"w.yaml": net(layer="{name: p, type: adaptiveavgpool, output_size: 100000000}")}, RUN),
    ("sizes", "YAML alias bomb (workload)", {"w.yaml": bomb()}, RUN),
    ("sizes", "YAML recursive alias", {"w.yaml": "name: t\nlayers: &a [*a]\n"}, RUN),
    ("sizes", "YAML nested 30,000 deep", {"w.yaml": "name: x\nlayers: " + "[" * 30000 + "]" * 30000 + "\n"}, RUN),
    ("sizes", "--input-shape 2^70", {"m.onnx": "onnx:gemm"}, ["run", "tpu_v1", "m.onnx", "--input-shape", f"1x{2**70}"]),
    ("sizes", "a run beyond 2^63 cycles", {"w.yaml": SMALL.replace("[3, 16, 16]", "[64, 4096, 4096]")}, RUN + ["--batch", "1024", "--set", "dram.bandwidth_gbps=0.000001", "--set", "clock_mhz=1000000"]),
    ("non-finite", "clock_mhz .inf (YAML)", {"a.yaml": arch("").replace("700", ".inf"), "w.yaml": SMALL}, ["run", "a.yaml", "w.yaml"]),
    ("non-finite", "--set clock_mhz=.inf", {"w.yaml": SMALL}, RUN + ["--set", "clock_mhz=.inf"]),
    ("non-finite", "--set clock_mhz=.nan", {"w.yaml": SMALL}, RUN + ["--set", "clock_mhz=.nan"]),
    ("non-finite", "--set dram.latency_ns=.inf", {"w.yaml": SMALL}, RUN + ["--set", "dram.latency_ns=.inf"]),
    ("non-finite", "--set technology_nm=.inf", {"w.yaml": SMALL}, RUN + ["--set", "technology_nm=.inf"]),
    ("non-finite", "infinite energy override", {"w.yaml": SMALL}, RUN + ["--set", "energy.overrides_pj.int8_mult=.inf"]),
    ("non-finite", "--set clock_mhz=true", {"w.yaml": SMALL}, RUN + ["--set", "clock_mhz=true"]),
    ("non-finite", "--set array.rows=true", {"w.yaml": SMALL}, RUN + ["--set", "array.rows=true"]),
    ("non-finite", "--set bandwidth 1e-300", {"w.yaml": SMALL}, RUN + ["--set", "dram.bandwidth_gbps=1e-300"]),
    ("non-finite", "--set clock 1e300", {"w.yaml": SMALL}, RUN + ["--set", "clock_mhz=1e300"]),
    ("non-finite", "weight_density .nan", {"w.yaml": net(layer="{name: c1, type: conv, out_channels: 8, kernel: 3, weight_density: .nan}")}, RUN),
    ("non-finite", "out_channels: true", {"w.yaml": net(layer="{name: c1, type: conv, out_channels: true, kernel: 3}")}, RUN),
    ("non-finite", "dram .inf stays allowed (tpu_v1)", {"w.yaml": SMALL}, RUN + ["--set", "dram.bandwidth_gbps=.inf"]),
    ("non-finite", "dram .inf stays allowed (bpu)", {"w.yaml": SMALL}, ["run", "bpu", "w.yaml", "--set", "dram.bandwidth_gbps=.inf"]),
    ("sweeps", "a billion points", {"s.yaml": sweep("{array.rows: {start: 1, stop: 1e9, step: 1}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "product over the cap", {"s.yaml": sweep("{array.rows: {start: 1, stop: 1000, step: 1}, array.cols: {start: 1, stop: 1000, step: 1}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "factor .inf", {"s.yaml": sweep("{array.rows: {start: 1, stop: 64, factor: .inf}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "factor 1+2e-16", {"s.yaml": sweep("{array.rows: {start: 1, stop: 64, factor: 1.0000000000000002}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "NaN range start", {"s.yaml": sweep("{array.rows: {start: .nan, stop: 64, step: 1}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "step 1e-300", {"s.yaml": sweep("{clock_mhz: {start: 100, stop: 1000, step: 1.0e-300}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "num 10^12", {"s.yaml": sweep("{clock_mhz: {start: 100, stop: 1000, num: 1000000000000}}"), "w.yaml": SMALL}, SW),
    ("sweeps", "alias bomb in vary", {"s.yaml": bomb("vary: {array.rows").replace("vary: {array.rows: *i", "vary: {array.rows: *i}"), "w.yaml": SMALL}, SW),
    ("sweeps", "constraint on unknown metric", {"s.yaml": sweep("{array.rows: [8]}", "constraints: ['latencyy <= 1']\n"), "w.yaml": SMALL}, SW),
    ("sweeps", "constraint 1e999", {"s.yaml": sweep("{array.rows: [8]}", "constraints: ['latency <= 1e999']\n"), "w.yaml": SMALL}, SW),
    ("sweeps", "unknown objective", {"s.yaml": sweep("{array.rows: [8]}", "objectives: [speed]\n"), "w.yaml": SMALL}, SW),
    ("sweeps", "--dask unreachable", {"s.yaml": sweep("{array.rows: [8]}"), "w.yaml": SMALL}, SW + ["--dask", "tcp://127.0.0.1:9"]),
    ("sweeps", "--dask malformed", {"s.yaml": sweep("{array.rows: [8]}"), "w.yaml": SMALL}, SW + ["--dask", "foo:bar:baz"]),
    ("weights", ".npy declaring 10^18 elements", {"w.yaml": FC.format(file="h.npy"), "h.npy": npy((10**9, 10**9))}, ["run", "eie", "w.yaml"]),
    ("weights", ".npy truncated", {"w.yaml": FC.format(file="h.npy"), "h.npy": npy((64, 96))}, ["run", "eie", "w.yaml"]),
    ("weights", ".npy object array", {"w.yaml": FC.format(file="h.npy"), "h.npy": npy((2,), b"", "|O")}, ["run", "eie", "w.yaml"]),
    ("weights", ".npz member declaring 4 GB", {"w.yaml": FC.format(file="h.npz"), "h.npz": "zipbomb"}, ["run", "eie", "w.yaml"]),
    ("weights", "not numpy at all", {"w.yaml": FC.format(file="h.npy"), "h.npy": b"hello"}, ["run", "eie", "w.yaml"]),
    ("weights", "shape mismatch", {"w.yaml": FC.format(file="h.npy"), "h.npy": npy((64, 50), b"\0" * (64 * 50 * 4))}, ["run", "eie", "w.yaml"]),
    ("weights", "weights_file beside a source: text", {"sub/w.yaml": FC.format(file="gone.npy")}, ["run", "eie", "sub/w.yaml"]),
    ("onnx", "declared dim 2^40", {"m.onnx": "onnx:huge"}, ["run", "tpu_v1", "m.onnx"]),
    ("onnx", "conv weight contradicts input", {"m.onnx": "onnx:mismatch"}, ["run", "tpu_v1", "m.onnx"]),
    ("onnx", "gemm weight contradicts input", {"m.onnx": "onnx:gemm"}, ["run", "tpu_v1", "m.onnx"]),
    ("onnx", "conv group 0", {"m.onnx": "onnx:group0"}, ["run", "tpu_v1", "m.onnx"]),
    ("onnx", "directory named x.onnx", {"m.onnx/keep": ""}, ["run", "tpu_v1", "m.onnx"]),
    ("onnx", "garbage bytes", {"m.onnx": b"garbage"}, ["run", "tpu_v1", "m.onnx"]),
    ("scalesim", "commas in Bandwidth", {"s.cfg": CFG.format(rows=8, bw=","), "w.yaml": SMALL}, ["run", "s.cfg", "w.yaml"]),
    ("scalesim", "huge ArrayHeight", {"s.cfg": CFG.format(rows="9" * 40, bw=10), "w.yaml": SMALL}, ["run", "s.cfg", "w.yaml"]),
    ("scalesim", "CSV huge dim", {"t.csv": CONV_CSV + "c1, " + "9" * 30 + ", 9, 3, 3, 4, 8, 1,\n"}, ["run", "tpu_v1", "t.csv"]),
    ("scalesim", "GEMM CSV over the MAC limit", {"t.csv": "Layer, M, N, K,\ng, 4000000, 4000000, 4000000,\n"}, ["run", "tpu_v1", "t.csv"]),
    ("stores", "foreign DB with a results table (sweep)", {"r.sqlite": "foreign", "s.yaml": sweep("{array.rows: [8]}"), "w.yaml": SMALL}, SW),
    ("stores", "foreign DB with a results table (--fresh)", {"r.sqlite": "foreign", "s.yaml": sweep("{array.rows: [8]}"), "w.yaml": SMALL}, SW + ["--fresh"]),
    ("stores", "foreign DB (sweep-report)", {"r.sqlite": "foreign"}, ["sweep-report", "r.sqlite"]),
    ("stores", "another application's DB", {"r.sqlite": "otherapp"}, ["sweep-report", "r.sqlite"]),
    ("stores", "text file as a store", {"r.sqlite": "not a database\n", "s.yaml": sweep("{array.rows: [8]}"), "w.yaml": SMALL}, SW),
    ("stores", "directory as a store", {"r.sqlite/keep": "", "s.yaml": sweep("{array.rows: [8]}"), "w.yaml": SMALL}, SW),
    ("reports", "$\\frac{ in layer names (--report)", {"w.yaml": net(layer="{name: 'c$\\frac{1$', type: conv, out_channels: 8, kernel: 3}")}, RUN + ["--report", "rep"]),
    ("unknown keys", "misspelt key in defaults", {"w.yaml": net("defaults: {linear: {bais: true}}\n")}, RUN),
    ("unknown keys", "unknown layer type in defaults", {"w.yaml": net("defaults: {cnov: {bias: true}}\n")}, RUN),
    ("paths", "energy.table relative to the arch", {"d/a.yaml": arch("energy: {table: nothere.yaml}\n"), "w.yaml": SMALL}, ["run", "d/a.yaml", "w.yaml"]),
    ("paths", "negative energy override", {"a.yaml": arch("energy: {overrides_pj: {int8_mult: -0.2}}\n"), "w.yaml": SMALL}, ["run", "a.yaml", "w.yaml"]),
    ("paths", "misspelt energy override", {"a.yaml": arch("energy: {overrides_pj: {int8_mlt: 1}}\n"), "w.yaml": SMALL}, ["run", "a.yaml", "w.yaml"]),
    ("paths", "--set kind=sparse", {"w.yaml": SMALL}, RUN + ["--set", "kind=sparse"]),
    ("paths", "conv layer on EIE", {"w.yaml": SMALL}, ["run", "eie", "w.yaml"]),
    ("paths", "stride: x (union labels)", {"w.yaml": net(layer="{name: c1, type: conv, out_channels: 8, kernel: 3, stride: x}")}, RUN),
    ("paths", "workloads: [3] (union labels)", {"s.yaml": "name: s\nbase: tpu_v1\nworkloads: [3]\n"}, SW),
    ("outputs", "-o /dev/full", {"w.yaml": SMALL}, RUN + ["-o", "/dev/full"]),
    ("outputs", "-o a directory", {"w.yaml": SMALL}, RUN + ["-o", "."]),
]


def _onnx(kind: str, path: Path) -> None:
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]
    from helpers.onnx_builders import Builder

    b = Builder("inputs" if kind == "huge" else "external")
    if kind == "huge":
        b.output(b.conv(b.input("x", [1, 3, 2**40, 2**40]), 3, 8, 3))
    elif kind == "gemm":
        b.output(b.node("Gemm", [b.input("x", [1, 100]), b.weight("w", [10, 7])], "fc", transB=1))
    else:
        x = b.input("x", [1, 3 if kind == "mismatch" else 4, 8, 8])
        w = b.weight("w", [8, 5, 3, 3] if kind == "mismatch" else [4, 4, 3, 3])
        b.output(b.node("Conv", [x, w], "conv", kernel_shape=[3, 3],
                        **({"group": 0} if kind == "group0" else {})))
    b.save(path)


def _write(folder: Path, files: dict) -> None:
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content.startswith("onnx:"):
            _onnx(content[5:], path)
        elif content.startswith("sparse:"):
            with open(path, "wb") as handle:
                handle.truncate(int(content[7:]))
        elif content == "fifo":
            os.mkfifo(path)
        elif content == "zipbomb":
            with zipfile.ZipFile(path, "w") as archive:
                archive.writestr("weight.npy", npy((2**16, 2**14)))
        elif content in ("foreign", "otherapp"):
            conn = sqlite3.connect(path)
            if content == "foreign":
                conn.execute("CREATE TABLE results (id INTEGER PRIMARY KEY, patient TEXT)")
                conn.execute("INSERT INTO results (patient) VALUES ('a')")
            else:
                conn.execute("PRAGMA application_id = 1234")
                conn.execute("CREATE TABLE t (x)")
            conn.commit()
            conn.close()
        else:
            path.write_text(content)


def _limit() -> None:  # in the child, before exec
    resource.setrlimit(resource.RLIMIT_AS, (2 * 2**30, 2 * 2**30))


def run_case(files: dict, argv: list[str]) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        _write(folder, files)
        stores = {p: hashlib.sha256(p.read_bytes()).hexdigest()
                  for p in folder.glob("*.sqlite") if p.is_file()}
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        try:
            proc = subprocess.run([sys.executable, "-m", "simulator", *argv], cwd=folder,
                                  capture_output=True, text=True, timeout=60, env=env,
                                  preexec_fn=_limit)
        except subprocess.TimeoutExpired:
            return "timeout", ""
        lines = proc.stderr.strip().splitlines()
        last = lines[-1] if lines else ""
        changed = [p.name for p, digest in stores.items()
                   if hashlib.sha256(p.read_bytes()).hexdigest() != digest]
        if changed:
            return "store changed", last
        if proc.returncode < 0:
            return "crash", f"signal {-proc.returncode}"
        if "Traceback" in proc.stderr:
            return "traceback", last
        if proc.returncode == 0:
            return "ok", last
        if proc.returncode == 2 and len(lines) == 1 and last.startswith("npusim: error:"):
            return "one line", last
        return "bug" if proc.returncode == 1 else f"exit {proc.returncode}", last


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-v", "--verbose", action="store_true")
    args = parser.parse_args()
    by_class: dict[str, Counter] = defaultdict(Counter)
    bad = 0
    for cls, label, files, argv in CASES:
        outcome, last = run_case(files, argv)
        by_class[cls][outcome] += 1
        bad += outcome not in ("ok", "one line")
        if args.verbose or outcome not in ("ok", "one line"):
            print(f"{cls:13} {label:42} {outcome:10} {last[:150]}")
    print(f"\n{'class':13} {'cases':>5}  outcomes")
    for cls, counts in by_class.items():
        print(f"{cls:13} {sum(counts.values()):5}  " +
              ", ".join(f"{n} {o}" for o, n in counts.most_common()))
    print(f"{'all':13} {len(CASES):5}  {len(CASES) - bad} end as they should")
    shutil.rmtree(ROOT / "rep", ignore_errors=True)
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
