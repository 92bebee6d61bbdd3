"""Repeated units (an LLM's decoder blocks, a ResNet's identical blocks) emitted once.

In split placement every unit starts with a barrier on all ops of the unit before it, so when
the barrier is done every earlier op is done and every resource free: the machine is idle. A
unit whose every op depends (through its other ops) on its barrier, and on nothing before it
("self-contained"), therefore takes times that depend only on its own ops: the same ops (kinds,
cycles, bytes, dependencies inside the unit, the same pattern of shared resources) take the same
times relative to the barrier, wherever the unit sits in the program.

The ops a unit gets are a function of what the emitter reads (mac_pass.py, elementwise.py):
its layers (everything but their names), the unit's fields, its mapping, cores, residency and
precision target, and the size, rows, width and DRAM placement of the tensors it reads and
writes, with the banks they start at and, when it moves weight blocks, its weights' bank
(7u + 3), relative to each other (a block's bank is its stream's first bank plus the block
index, so only the differences decide which transfers share a bank; whether a unit moves weight
blocks is itself decided by the rest of the key); staging streams are keyed by the unit index,
so no state passes between units. `unit_key` collects exactly these. Two units with the same
key but for the weights' bank may still have the same ops up to a renaming of the banks (a
bijection, which leaves every time unchanged): `_renames` checks it on the reference's routes
(each route's bank is its stream's first bank plus its block index, recorded by the emitter);
byte counts do not depend on banks at all. A unit with the key of an earlier unit (its
reference) is not emitted: one zero-resource op standing for it is done the reference's
duration after its barrier; its byte counts are the reference's, renamed; its layers report the
reference's figures shifted in time (engine.py). Every emitted unit is checked to be
self-contained (`self_contained`); when one is not, the program is compiled again with every
unit emitted. LSTM units, units that share a layer with another unit, the first unit and
pipeline placement are always emitted.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from simulator.core.workload import Workload
from simulator.kinds.tensorcore.compiler.allocation import Tensor
from simulator.kinds.tensorcore.compiler.emitter import Emitter
from simulator.kinds.tensorcore.compiler.units import Unit
from simulator.kinds.tensorcore.ops import Op


@dataclass(frozen=True)
class Replay:
    """Unit `unit` was not emitted: it repeats unit `ref`. `barrier` / `ref_barrier`: the ops
    that start them; `standin`: the zero-resource op done the reference's duration after
    `barrier`; `layers`: (layer, the reference's layer at the same place in its unit)."""

    unit: int
    ref: int
    barrier: int
    ref_barrier: int
    standin: int
    layers: tuple[tuple[int, int], ...]


@dataclass
class _Reference:
    """An emitted unit that later units may repeat: its op ids [start, end), its barrier, the
    bytes it counted (per unit / tensor name) and its duration (computed on first reuse)."""

    start: int
    end: int
    barrier: int
    names: tuple[str, ...]
    weight_bytes: int
    tensor_bytes: dict[str, int]
    sram_extra_bytes: dict[str, int]
    duration: float | None = None


def _names(unit: Unit) -> tuple[str, ...]:
    """The tensors a unit reads and writes, in a fixed order (inputs, rhs, output)."""
    return tuple(unit.inputs) + ((unit.rhs,) if unit.rhs else ()) + (unit.output,)


def _layer_key(workload: Workload, i: int) -> tuple:
    layer = workload.layers[i]
    return (type(layer).__name__, repr(layer.model_dump(exclude={"name", "inputs"})),
            tuple(map(tuple, layer.input_shapes)), tuple(layer.output_shape))


class Replayer:
    """Finds the units that repeat an earlier one and emits their stand-ins (module docstring)."""

    def __init__(self, em: Emitter, workload: Workload, units: list[Unit],
                 tensors: dict[str, Tensor]) -> None:
        self.em, self.workload, self.units, self.tensors = em, workload, units, tensors
        claims: dict[int, int] = defaultdict(int)   # layer -> units that cover it
        for unit in units:
            for i in {unit.layer, *unit.layers, *unit.pre_layers}:
                claims[i] += 1
        #: layers covered by more than one unit (their rows come from several units' ops)
        self.shared = {i for i, n in claims.items() if n > 1}
        #: key -> the emitted units with it and their weights' bank relative to their first
        #: tensor's (None: the unit moves no weight block)
        self.refs: dict[tuple, list[tuple[int, int | None]]] = {}
        self.info: dict[int, _Reference] = {}
        self.replays: list[Replay] = []
        #: an emitted unit was not self-contained: the program must be emitted in full
        self.broken = False
        if not em.count_only:
            em.bank_src = {}

    def unit_key(self, u: int, mapping: object, resident: bool, cores: list[int],
                 target: object) -> tuple | None:
        """What unit u's ops are a function of but the weights' bank (module docstring);
        None: always emitted."""
        unit = self.units[u]
        if unit.kind not in ("mac", "elt") or any(
                i in self.shared for i in (unit.layer, *unit.layers, *unit.pre_layers)):
            return None
        if unit.kind == "mac" and unit.output + "#gates" in self.tensors:   # an LSTM
            return None
        banks = self.em.arch.sram.banks
        names = _names(unit)
        first = {n: names.index(n) for n in names}
        bank0 = self.tensors[names[0]].base_bank
        tensors = tuple(
            (first[n], t.nbytes, t.rows, t.channels, t.in_dram, t.element_bytes,
             (t.base_bank - bank0) % banks)
            for n in names for t in (self.tensors[n],))
        layers = tuple(_layer_key(self.workload, i) for i in unit.layers + unit.pre_layers)
        fields = (unit.kind, unit.engine, unit.post_ops, unit.act_ops, unit.gate_engine,
                  unit.vector_ops, unit.passes, unit.ops_label, len(unit.layers),
                  len(unit.pre_layers), len(unit.inputs), bool(unit.rhs))
        return (fields, layers, tensors, repr(mapping), resident, tuple(cores), id(target))

    # ------------------------------------------------------------------ emission
    def _weight_bank(self, u: int) -> int:
        """Unit u's weight bank relative to its first tensor's first bank."""
        banks = self.em.arch.sram.banks
        return (7 * u + 3 - self.tensors[_names(self.units[u])[0]].base_bank) % banks

    def reference(self, u: int, key: tuple | None) -> int | None:
        """The emitted unit that unit u (with `key`) repeats, if one may stand in for it."""
        if key is None:
            return None
        wbank = self._weight_bank(u)
        refs = self.refs.get(key, ())
        ref = next((r for r, w in refs if w is None or w == wbank), None)
        if ref is None and refs and self.em.count_only:
            ref = refs[0][0]       # byte counts do not depend on banks
        if ref is None:
            ref = next((r for r, _ in refs if self._renames(r, u)), None)
        if ref is None:
            return None
        info = self.info[ref]
        if not self.em.count_only and info.duration is None:
            info.duration = self._duration(info)
        return ref

    def _renames(self, ref: int, u: int) -> bool:
        """Whether moving the reference's streams to unit u's first banks renames its banks
        one to one (then unit u's ops are the reference's with the banks renamed)."""
        banks = self.em.arch.sram.banks
        moved: dict[int, int] = {(7 * ref + 3) % banks: (7 * u + 3) % banks}
        for a, b in zip(_names(self.units[ref]), _names(self.units[u])):
            x, y = self.tensors[a].base_bank % banks, self.tensors[b].base_bank % banks
            if moved.setdefault(x, y) != y:
                return False
        info = self.info[ref]
        src = self.em.bank_src
        fwd: dict[int, int] = {}
        back: dict[int, int] = {}
        for op_id in range(info.start, info.end):
            where = src.get(op_id)
            if where is None:
                continue
            first, block = where
            old = (first + block) % banks
            if first % banks not in moved:
                return False
            new = (moved[first % banks] + block) % banks
            if fwd.setdefault(old, new) != new or back.setdefault(new, old) != old:
                return False
        return True

    def snapshot(self) -> tuple:
        t = self.em.traffic
        return (dict(t.weight_dram_bytes), dict(t.tensor_dram_bytes),
                dict(t.tensor_sram_extra_bytes), self.em.weight_blocks)

    def emitted(self, u: int, key: tuple | None, start: int, barrier: int | None,
                before: tuple | None) -> None:
        """Unit u was emitted as ops [start, now): check it, and keep it as a reference."""
        end = self.em.mark()
        if not self.em.count_only and barrier is not None \
                and not self_contained(self.em.ops, start, end, barrier):
            self.broken = True
            return
        if key is None or barrier is None or before is None:
            return
        wbank = self._weight_bank(u) if self.em.weight_blocks > before[3] else None
        if any(w is None or w == wbank for _, w in self.refs.get(key, ())):
            return     # an equivalent reference exists
        t = self.em.traffic
        names = _names(self.units[u])
        tb = _delta(before[1], t.tensor_dram_bytes)
        sb = _delta(before[2], t.tensor_sram_extra_bytes)
        wb = _delta(before[0], t.weight_dram_bytes)
        if set(tb) - set(names) or set(sb) - set(names) or set(wb) - {u}:
            return     # it counted bytes of something it does not name: not repeatable
        self.refs.setdefault(key, []).append((u, wbank))
        self.info[u] = _Reference(start, end, barrier, names, wb.get(u, 0), tb, sb)

    def replay(self, u: int, ref: int, barrier: int) -> None:
        """Emit the stand-in of unit u (which repeats `ref`) and count its bytes."""
        em, info, unit = self.em, self.info[ref], self.units[u]
        rename = dict(zip(info.names, _names(unit)))
        t = em.traffic
        if info.weight_bytes:
            t.weight_dram_bytes[u] += info.weight_bytes
        for name, nbytes in info.tensor_bytes.items():
            t.tensor_dram_bytes[rename[name]] += nbytes
        for name, nbytes in info.sram_extra_bytes.items():
            t.tensor_sram_extra_bytes[rename[name]] += nbytes
        standin = em.emit("barrier", unit.layer, (), 0,
                          0 if em.count_only else int(info.duration), [barrier], 0,
                          label=f"repeats unit {ref}")
        ref_unit = self.units[ref]
        layers = tuple(zip(unit.layers + unit.pre_layers, ref_unit.layers + ref_unit.pre_layers))
        self.replays.append(Replay(u, ref, barrier, info.barrier, standin, layers))

    def _duration(self, info: _Reference) -> float:
        """Cycles from the reference's barrier done to its last op done (an idle machine)."""
        ops = sorted(self.em.ops[info.start:info.end], key=lambda op: (op.seq, op.id))
        done: dict[int, float] = {info.barrier: 0.0}
        release: dict[str, float] = {}
        end = 0.0
        for op in ops:
            if op.id == info.barrier:
                continue
            start = max(done[d] for d in op.deps)
            for res in op.resources:
                start = max(start, release.get(res, 0.0))
            rel = start + op.busy_cycles
            for res in op.resources:
                release[res] = rel
            done[op.id] = rel + op.latency_cycles
            end = max(end, done[op.id])
        assert end == int(end)
        return end


def self_contained(ops: list[Op], start: int, end: int, barrier: int) -> bool:
    """Whether every op of ids [start, end) but the barrier depends on some op of the range
    and on none before it (then each depends, through the range, on the barrier)."""
    if barrier != start:
        return False
    for op in ops[start + 1:end]:
        if not op.deps or op.deps[0] < start:   # deps are sorted
            return False
    return True


def _delta(before: dict, after: dict) -> dict:
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}
