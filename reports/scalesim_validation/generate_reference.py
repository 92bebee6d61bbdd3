#!/usr/bin/env python
"""Generate SCALE-Sim 3.0.0 reference cycle counts for npusim's systolic engine.

Run with the separate SCALE-Sim venv (never the project's python):

    python3 -m venv /work/scalesim-venv
    /work/scalesim-venv/bin/pip install scalesim==3.0.0 "numpy<2"
    /work/scalesim-venv/bin/python reports/scalesim_validation/generate_reference.py [--markdown]

Writes scalesim_reference.json next to this script (a list of records, one per
layer x array x dataflow).  SCALE-Sim's own output folders go to /tmp/scalesim_reference.
Every record is also checked against the closed-form formulas documented in
docs/scalesim_formulas.md (function `scalesim_cycles` below); the script exits non-zero
if any formula disagrees with SCALE-Sim.  A small stall demo (USER bandwidth mode,
1 word/cycle) goes to scalesim_stall_demo.json.  With --markdown it prints the verification table
used in that doc.

Stall-free setup: InterfaceBandwidth = CALC ("estimate bandwidth" mode: reads always hit)
and 1 MiB SRAMs so the OFMAP write buffer never blocks.  The stall column is still recorded
and compute cycles are taken as Total Cycles - Stall Cycles.
"""
import contextlib
import io
import json
import math
import os
import sys
import time

from scalesim.scale_sim import scalesim

HERE = os.path.dirname(os.path.abspath(__file__))
OUT_JSON = os.path.join(HERE, "scalesim_reference.json")
OUT_STALL_JSON = os.path.join(HERE, "scalesim_stall_demo.json")
WORK = "/tmp/scalesim_reference"
SRAM_KB = 1024

CFG_TEMPLATE = """[general]
run_name = {run_name}

[architecture_presets]
ArrayHeight:    {rows}
ArrayWidth:     {cols}
IfmapSramSzkB:    {sram_kb}
FilterSramSzkB:   {sram_kb}
OfmapSramSzkB:    {sram_kb}
IfmapOffset:    0
FilterOffset:   10000000
OfmapOffset:    20000000
Bandwidth : 10
Dataflow : {dataflow}
MemoryBanks:   1
ReadRequestBuffer: 32
WriteRequestBuffer: 32

[sparsity]
SparsitySupport : false
SparseRep : ellpack_block
OptimizedMapping : false
BlockSize : 8
RandomNumberGeneratorSeed : 40

[layout]
IfmapCustomLayout: False
IfmapSRAMBankBandwidth: 10
IfmapSRAMBankNum: 10
IfmapSRAMBankPort: 2
FilterCustomLayout: False
FilterSRAMBankBandwidth: 10
FilterSRAMBankNum: 10
FilterSRAMBankPort: 2

[run_presets]
InterfaceBandwidth: CALC
UseRamulatorTrace: False
"""

CONV_HEADER = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
               "Channels, Num Filter, Strides,\n")
GEMM_HEADER = "Layer, M, N, K,\n"

# Conv form: name, ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filters, stride
# (IFMAP already padded; SCALE-Sim uses the same stride for rows and cols).
# NB: never put "DP" in a layer name: SCALE-Sim treats such layers as depthwise.
CONV_LAYERS = [
    ["conv1x1", 8, 8, 1, 1, 16, 24, 1],           # 1x1 conv
    ["conv3x3_s1", 10, 10, 3, 3, 8, 16, 1],       # 3x3 stride 1
    ["conv3x3_s2", 11, 11, 3, 3, 4, 12, 2],       # 3x3 stride 2, exact fit
    ["conv3x3_s2_ceil", 8, 8, 3, 3, 3, 10, 2],    # (H-R)%s != 0: ceil convention -> 4x4 (floor would give 3x3)
    ["conv_rect", 13, 7, 3, 2, 5, 19, 1],         # non-square ifmap/filter, odd dims
    ["conv5x5_s3", 17, 17, 5, 5, 2, 7, 3],        # stride 3
    ["fc_1x1", 1, 1, 1, 1, 100, 37, 1],           # FC-like: ifmap 1x1
    ["fc_flatten", 4, 4, 4, 4, 6, 20, 1],         # FC written as full-size conv (AlexNet FC6 style)
    ["tall_k", 6, 6, 3, 3, 40, 6, 1],             # K = 360 >> array rows
    ["tiny", 3, 3, 2, 2, 1, 2, 1],                # smaller than every array
    ["many_filters", 4, 4, 1, 1, 3, 70, 1],       # N >> array cols, K tiny
]
# GEMM form (-i gemm / input_type_gemm=True): name, M, N, K
#   M = rows of the output (= ofmap pixels), N = output columns (= filters), K = reduction.
GEMM_LAYERS = [
    ["gemm_37x23x19", 37, 23, 19],
    ["gemm_100x3x5", 100, 3, 5],
    ["gemm_fc_1x50x64", 1, 50, 64],
]
ARRAYS = [(4, 4), (8, 8), (8, 16), (16, 8), (32, 32)]
DATAFLOWS = ["os", "ws", "is"]


# ----------------------------------------------------------------------------------------
# Closed-form model (identical to the reference function in docs/scalesim_formulas.md)
def ofmap_dim(in_dim, filt_dim, stride):
    """SCALE-Sim's ofmap size on an already padded IFMAP."""
    return math.ceil((in_dim - filt_dim + stride) / stride)


def conv_to_mnk(ifmap_h, ifmap_w, filter_h, filter_w, channels, num_filters, stride):
    M = ofmap_dim(ifmap_h, filter_h, stride) * ofmap_dim(ifmap_w, filter_w, stride)
    return M, num_filters, filter_h * filter_w * channels


def scalesim_cycles(M, N, K, rows, cols, dataflow):
    """Return a dict with SCALE-Sim's mapping and cycle numbers for GEMM (M x K) @ (K x N)."""
    if dataflow == "os":
        Sr, Sc, T = M, N, K
        per_fold = T + rows + cols - 2
        util_cycles = per_fold
    elif dataflow == "ws":
        Sr, Sc, T = K, N, M
        per_fold = T + 2 * rows + cols - 2
        util_cycles = per_fold + cols - 1
    elif dataflow == "is":
        Sr, Sc, T = K, M, N
        per_fold = T + 2 * rows + cols - 2
        util_cycles = per_fold + cols - 1
    else:
        raise ValueError(dataflow)
    row_folds = math.ceil(Sr / rows)
    col_folds = math.ceil(Sc / cols)
    folds = row_folds * col_folds
    trace_cycles = folds * per_fold          # rows of SCALE-Sim's demand matrices
    total = trace_cycles - 1                 # 'Total Cycles' column (last 0-based cycle), no stalls
    mapping_eff = 100.0 * Sr * Sc / (rows * cols * folds)
    compute_util = 100.0 * Sr * Sc * T / (rows * cols * folds * util_cycles)
    overall_util = 100.0 * M * N * K / (total * rows * cols)
    return dict(Sr=Sr, Sc=Sc, T=T, row_folds=row_folds, col_folds=col_folds, folds=folds,
                per_fold_cycles=per_fold, trace_cycles=trace_cycles, total_cycles=total,
                mapping_efficiency=mapping_eff, compute_util=compute_util,
                overall_util=overall_util)
# ----------------------------------------------------------------------------------------


def user_bw_cfg(text):
    """USER bandwidth mode with 1 word/cycle everywhere: makes SCALE-Sim stall."""
    return (text.replace("InterfaceBandwidth: CALC", "InterfaceBandwidth: USER")
                .replace("Bandwidth : 10", "Bandwidth : 1")
                .replace("SRAMBankBandwidth: 10", "SRAMBankBandwidth: 1")
                .replace("SRAMBankNum: 10", "SRAMBankNum: 1"))


def run_scalesim(layers, rows, cols, dataflow, gemm, sram_kb=SRAM_KB, stall_demo=False):
    tag = f"{dataflow}_{rows}x{cols}_{'gemm' if gemm else 'conv'}"
    if stall_demo:
        tag += f"_userbw_{sram_kb}kb"
    d = os.path.join(WORK, tag)
    os.makedirs(d, exist_ok=True)
    cfg, topo, layout = (os.path.join(d, n) for n in ("scale.cfg", "topo.csv", "layout.csv"))
    text = CFG_TEMPLATE.format(run_name=tag, rows=rows, cols=cols, sram_kb=sram_kb,
                               dataflow=dataflow)
    with open(cfg, "w") as f:
        f.write(user_bw_cfg(text) if stall_demo else text)
    with open(topo, "w") as f:
        f.write(GEMM_HEADER if gemm else CONV_HEADER)
        for row in layers:
            f.write(",".join(map(str, row)) + ",\n")   # trailing comma is required
    with open(layout, "w") as f:   # scalesim 3.0.0 insists on a layout file; unused here
        f.write("Layer name,\n")
    s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo,
                 layout=layout, input_type_gemm=gemm)
    with contextlib.redirect_stdout(io.StringIO()):
        s.run_scale(top_path=os.path.join(d, "out"))
    out = []
    for lyr in s.runner.single_layer_sim_object_list:
        out.append(lyr.get_compute_report_items())
    # cross-check against the CSV report SCALE-Sim wrote
    with open(os.path.join(d, "out", tag, "COMPUTE_REPORT.csv")) as f:
        csv_rows = [r.split(",") for r in f.read().strip().splitlines()[1:]]
    for items, r in zip(out, csv_rows):
        assert int(r[2]) == int(items[1]) and int(r[3]) == int(items[2])
    return out


def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))


def main():
    os.makedirs(WORK, exist_ok=True)
    records = []
    t0 = time.time()
    for rows, cols in ARRAYS:
        for df in DATAFLOWS:
            for gemm, layers in ((False, CONV_LAYERS), (True, GEMM_LAYERS)):
                items = run_scalesim(layers, rows, cols, df, gemm)
                for row, it in zip(layers, items):
                    overall_incl_prefetch, total, stall, overall_util, map_eff, comp_util = it
                    if gemm:
                        name, M, N, K = row
                        # SCALE-Sim's internal conv equivalent of a GEMM row
                        geo = dict(ifmap_h=M, ifmap_w=K, filter_h=1, filter_w=K, channels=1,
                                   num_filters=N, stride=1)
                    else:
                        name, H, W, fh, fw, ch, nf, st = row
                        geo = dict(ifmap_h=H, ifmap_w=W, filter_h=fh, filter_w=fw, channels=ch,
                                   num_filters=nf, stride=st)
                        M, N, K = conv_to_mnk(H, W, fh, fw, ch, nf, st)
                    f = scalesim_cycles(M, N, K, rows, cols, df)
                    compute = int(total) - int(stall)
                    rec = dict(layer=name, topology_form="gemm" if gemm else "conv", **geo,
                               array_rows=rows, array_cols=cols, dataflow=df,
                               M=M, N=N, K=K,
                               scalesim_total_cycles=int(total),
                               scalesim_compute_cycles=compute,
                               scalesim_stall_cycles=int(stall),
                               scalesim_total_cycles_incl_prefetch=int(overall_incl_prefetch),
                               mapping_efficiency=float(map_eff),
                               compute_util=float(comp_util),
                               overall_util=float(overall_util),
                               Sr=f["Sr"], Sc=f["Sc"], T=f["T"], folds=f["folds"],
                               per_fold_cycles=f["per_fold_cycles"],
                               formula_compute_cycles=f["total_cycles"],
                               formula_matches=(f["total_cycles"] == compute
                                                and close(f["mapping_efficiency"], map_eff)
                                                and close(f["compute_util"], comp_util)
                                                and close(100.0 * M * N * K / (int(total) * rows * cols),
                                                          overall_util)),
                               sram_kb=SRAM_KB, bandwidth_mode="CALC")
                    records.append(rec)
    with open(OUT_JSON, "w") as fh:
        json.dump(records, fh, indent=1)
    bad = [r for r in records if not r["formula_matches"]]

    # Stall demo: USER bandwidth mode, 1 word/cycle, 1 KiB vs 1 MiB SRAMs.  Shows that
    # 'Total Cycles' includes stalls and that Total - Stall still equals the formula.
    demo = []
    layer = ["stall_demo", 12, 12, 3, 3, 8, 20, 1]
    M, N, K = conv_to_mnk(*layer[1:])
    for df in DATAFLOWS:
        for kb in (1, SRAM_KB):
            it = run_scalesim([layer], 4, 4, df, False, sram_kb=kb, stall_demo=True)[0]
            f = scalesim_cycles(M, N, K, 4, 4, df)
            demo.append(dict(layer=layer[0], M=M, N=N, K=K, array_rows=4, array_cols=4,
                             dataflow=df, sram_kb=kb, bandwidth_mode="USER, 1 word/cycle",
                             scalesim_total_cycles=int(it[1]), scalesim_stall_cycles=int(it[2]),
                             scalesim_compute_cycles=int(it[1]) - int(it[2]),
                             formula_compute_cycles=f["total_cycles"],
                             formula_matches=int(it[1]) - int(it[2]) == f["total_cycles"]))
    with open(OUT_STALL_JSON, "w") as fh:
        json.dump(demo, fh, indent=1)
    bad += [r for r in demo if not r["formula_matches"]]
    print(f"{len(records)} records, {len(bad)} formula mismatches, "
          f"{time.time() - t0:.1f}s -> {OUT_JSON}", file=sys.stderr)
    for r in bad:
        print("MISMATCH", r, file=sys.stderr)
    if "--markdown" in sys.argv:
        print("| df | SRAM KiB | Total Cycles | Stall Cycles | Total - Stall | formula | match |")
        print("|" + "---|" * 7)
        for r in demo:
            print(f"| {r['dataflow']} | {r['sram_kb']} | {r['scalesim_total_cycles']} | "
                  f"{r['scalesim_stall_cycles']} | {r['scalesim_compute_cycles']} | "
                  f"{r['formula_compute_cycles']} | {'yes' if r['formula_matches'] else 'NO'} |")
        print()
        print("| layer | form | M | N | K | array | df | Sr | Sc | T | folds | per fold | "
              "formula | SCALE-Sim total | stalls | map eff % | compute util % | match |")
        print("|" + "---|" * 18)
        for r in records:
            print(f"| {r['layer']} | {r['topology_form']} | {r['M']} | {r['N']} | {r['K']} | "
                  f"{r['array_rows']}x{r['array_cols']} | {r['dataflow']} | {r['Sr']} | {r['Sc']} | "
                  f"{r['T']} | {r['folds']} | {r['per_fold_cycles']} | {r['formula_compute_cycles']} | "
                  f"{r['scalesim_total_cycles']} | {r['scalesim_stall_cycles']} | "
                  f"{r['mapping_efficiency']:.2f} | {r['compute_util']:.2f} | "
                  f"{'yes' if r['formula_matches'] else 'NO'} |")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
