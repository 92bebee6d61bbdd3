"""Physical invariants of the tensor-core engine on many random valid configs: how many break
each one (run: python benchmarks/tensorcore_invariants.py [configs] [seed] [mode]).

Modes: `latency` (the mapper free, default objective), `dram` (the mapper free, minimising DRAM
bytes), `pinned` (every run after the first pinned to the first run's mapping: the machine's own
behaviour). Checks: utilization <= 1 and cycles >= the compute, MAC and DRAM bounds per layer
and in total; energy > 0; doubling the shared SRAM or a core buffer never increases DRAM bytes;
doubling the DRAM, bridge-port or bank bandwidth never increases cycles.
tests/kinds/tensorcore/test_tensorcore_invariants.py asserts what holds (docs/models/tensorcore.md
§5 says what does not, and why).
"""
import random, sys, traceback
sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent.parent))
from simulator.api import simulate
from simulator.core.errors import NpusimError
from simulator.core.workload import workload_from_dict
from simulator.io.load import load_arch, load_workload

def rand_net(rnd):
    c = rnd.choice([3, 8, 16, 32, 48, 64])
    size = rnd.choice([8, 14, 16, 28])
    layers = []
    n = rnd.randint(1, 5)
    ch = c
    for i in range(n):
        kind = rnd.choice(["conv", "conv", "dw", "pool", "linear_end", "resid"])
        if kind == "conv":
            k = rnd.choice([1, 3, 5]); ch = rnd.choice([8, 16, 24, 32, 40, 64, 72, 96, 128])
            layers.append({"name": f"l{i}", "type": "conv", "out_channels": ch, "kernel": k,
                           "padding": k // 2, "stride": rnd.choice([1, 1, 2]),
                           **({"activation": rnd.choice(["relu", "relu6", "hardswish", "swish"])} if rnd.random() < .5 else {})})
        elif kind == "dw":
            layers.append({"name": f"l{i}", "type": "conv", "out_channels": ch, "kernel": rnd.choice([3, 5]),
                           "padding": 1, "groups": ch, **({"activation": "relu"} if rnd.random() < .5 else {})})
            layers[-1]["padding"] = layers[-1]["kernel"] // 2
        elif kind == "pool":
            layers.append({"name": f"l{i}", "type": "maxpool", "kernel": 2})
        elif kind == "resid" and layers:
            prev = layers[-1]["name"]
            layers.append({"name": f"l{i}a", "type": "conv", "out_channels": ch, "kernel": 3, "padding": 1})
            layers.append({"name": f"l{i}", "type": "add", "inputs": [prev, f"l{i}a"]})
        elif kind == "linear_end":
            layers.append({"name": f"l{i}", "type": "globalavgpool"})
            layers.append({"name": f"l{i}f", "type": "linear", "out_features": rnd.choice([10, 100, 1000])})
            break
    if not layers:
        layers = [{"name": "l0", "type": "conv", "out_channels": 16, "kernel": 3, "padding": 1}]
    return {"name": "r", "input": [c, size, size], "batch": rnd.choice([1, 1, 2]), "layers": layers}

def rand_arch(rnd):
    return [f"cores={rnd.choice([1, 2, 2, 4])}",
            f"core.mac_rows={rnd.choice([8, 16, 32])}", f"core.mac_cols={rnd.choice([8, 16, 32])}",
            f"core.input_buffer_bytes={rnd.choice([8192, 32768, 131072])}",
            f"core.weight_buffer_bytes={rnd.choice([8192, 29696, 131072])}",
            f"core.output_buffer_bytes={rnd.choice([16384, 65536, 131072])}",
            f"sram.size_bytes={rnd.choice([300000, 524288, 2097152, 8388608])}",
            f"sram.bytes_per_cycle_per_bank={rnd.choice([16, 64])}",
            f"bridge.bytes_per_cycle_per_port={rnd.choice([8, 32, 64])}",
            f"dram.bandwidth_gbps={rnd.choice([3.2, 12.8, 51.2])}",
            f"compiler.placement={rnd.choice(['split', 'pipeline'])}",
            f"compiler.fusion={rnd.choice(['true', 'false'])}",
            f"compiler.weight_residency={rnd.choice(['stream', 'resident'])}"]

def scaled(sets, key, f):
    out = []
    for s in sets:
        k, v = s.split("=")
        out.append(f"{k}={int(float(v) * f) if k != 'dram.bandwidth_gbps' else float(v) * f}" if k == key else s)
    return out

def dram(r): return r.totals.dram_read_bytes + r.totals.dram_write_bytes

MODE = sys.argv[3] if len(sys.argv) > 3 else "latency"

def pinned(r):
    keys = ("split", "tile_pixels", "tile_channels", "tile_input_channels", "loop_order")
    return {l.name: {k: l.mapping[k] for k in keys} for l in r.layers if "split" in getattr(l, "mapping", {})}

def sim(arch, wl, base=None):
    if MODE == "pinned" and base is not None:
        try:
            return simulate(arch, wl, mapping=pinned(base))
        except NpusimError:
            return None
    return simulate(arch, wl, objective="dram" if MODE == "dram" else None)

def check(arch_name, sets, wl):
    fails = set()
    arch = load_arch(arch_name, sets)
    r = sim(arch, wl)
    peak = arch.peak_macs_per_cycle; bpc = arch.dram_bytes_per_cycle
    for l in r.layers:
        if l.utilization > 1 + 1e-9: fails.add("util>1")
        if l.cycles + 1e-6 < l.macs / peak: fails.add("cycles<mac bound")
        bc = getattr(l, "bound_cycles", {})
        if bc and l.cycles + 1e-6 < bc.get("compute", 0): fails.add("cycles<compute bound")
        if l.cycles + 1 < l.dram_bytes / bpc: fails.add("cycles<dram bound")
        if (l.macs or l.dram_bytes or l.sram_read_bytes) and l.energy_pj <= 0: fails.add("energy<=0")
    t = r.totals
    if t.cycles + 1 < (t.dram_read_bytes + t.dram_write_bytes) / bpc: fails.add("total<dram bound")
    if t.cycles + 1e-6 < t.macs / peak: fails.add("total<mac bound")
    for key in ("sram.size_bytes", "core.weight_buffer_bytes", "core.input_buffer_bytes", "core.output_buffer_bytes"):
        r2 = sim(load_arch(arch_name, scaled(sets, key, 2)), wl, r)
        if r2 is not None and dram(r2) > dram(r): fails.add(f"more {key} -> more DRAM")
    for key in ("dram.bandwidth_gbps", "bridge.bytes_per_cycle_per_port", "sram.bytes_per_cycle_per_bank"):
        r2 = sim(load_arch(arch_name, scaled(sets, key, 2)), wl, r)
        if r2 is not None and r2.totals.cycles > r.totals.cycles: fails.add(f"more {key} -> more cycles")
    return fails

def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    seed = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    rnd = random.Random(seed)
    counts = {}; bad = 0; errors = 0; done = 0
    for i in range(n):
        sets = rand_arch(rnd); wld = rand_net(rnd)
        try:
            wl = workload_from_dict(wld)
            f = check(rnd.choice(["bpu", "bpu_no_hswish"]), sets, wl)
        except NpusimError as e:
            errors += 1; continue
        except Exception as e:
            print("EXC", sets, wld, repr(e)); errors += 1; continue
        done += 1
        if f:
            bad += 1
            for k in f: counts[k] = counts.get(k, 0) + 1
    print(f"mode {MODE}: {done} configs run ({errors} refused), {bad} break at least one "
          "invariant")
    for k, v in sorted(counts.items(), key=lambda kv: -kv[1]):
        print(f"  {v:4d}  {k}")

if __name__ == "__main__":
    main()
