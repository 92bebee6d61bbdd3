"""The mapper's costs over many candidates at once (batch_costs.py, numpy) and the scalar
coster's caches (costs.PassCoster) give every candidate the same figures, bit for bit, as a
fresh coster per candidate: the mapper ranks by the batch figures and reports the scalar
PassCost of the winner, so the two must never differ."""

from __future__ import annotations

import math
from fractions import Fraction

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from simulator.core.arch import Precision
from simulator.core.errors import NpusimError
from simulator.io.load import load_arch
from simulator.io.tables import energy_table_for
from simulator.kinds.tensorcore.compiler import MacSpec
from simulator.kinds.tensorcore.compiler.batch_costs import figures
from simulator.kinds.tensorcore.compiler.costs import PassContext, PassCoster, Prices
from simulator.kinds.tensorcore.compiler.placement import core_shares, split_options
from simulator.kinds.tensorcore.compiler.target import Target
from simulator.kinds.tensorcore.compiler.tiling import candidate_tilings


FP16 = Precision(weight_bits=16, activation_bits=16, accumulator_bits=32, number_format="fp")
INT16 = Precision(weight_bits=16, activation_bits=16, accumulator_bits=32)


def _arch(cores: int, multicast: bool, ports: int, dram_gbps: float):
    # int16 at 0.4 of the int8 rate: 5/2 cycles per native cycle (MacRate.cycles rounds up)
    return load_arch("bpu", [f"cores={cores}", f"bridge.multicast={str(multicast).lower()}",
                             f"bridge.ports={ports}", f"dram.bandwidth_gbps={dram_gbps}",
                             "mac_rates.int16=0.4"])


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@st.composite
def problems(draw):
    cin = draw(st.sampled_from([3, 16, 24, 64, 96, 200, 512]))
    h = draw(st.sampled_from([1, 7, 14, 28, 56]))
    k = draw(st.sampled_from([1, 3, 5]))
    stride = draw(st.sampled_from([1, 2]))
    kind = draw(st.sampled_from(["dense", "depthwise", "grouped"]))
    if kind == "depthwise":
        groups, cout = cin, cin
    elif kind == "grouped" and cin % 8 == 0:
        groups, cout = 8, draw(st.sampled_from([8, 64, 128]))
    else:
        groups, cout = 1, draw(st.sampled_from([8, 40, 64, 96, 256, 1000]))
    pad = k // 2
    ho = (h + 2 * pad - k) // stride + 1
    batch = draw(st.sampled_from([1, 2]))
    spec = MacSpec(batch, cin, h, h, cout, ho, ho, k, k, stride, 1, pad, groups,
                   work_fraction=draw(st.sampled_from([1.0, 1.0, 0.37])))
    arch = _arch(draw(st.integers(1, 3)), draw(st.booleans()), draw(st.integers(1, 4)),
                 draw(st.sampled_from([3.2, 12.8, 25.6])))
    ctx = PassContext(in_dram=draw(st.booleans()), out_dram=draw(st.booleans()),
                      weights=draw(st.sampled_from(["dram", "dram_once", "sram",
                                                    "tensor_dram"])),
                      out_bytes=float(spec.m * cout), extra_bytes=draw(st.sampled_from(
                          [0.0, float(spec.m * cout)])),
                      extra_dram_bytes=draw(st.sampled_from([0, 4096])),
                      post_per_out=draw(st.sampled_from([0.0, 1.0, 2.5])),
                      rhs_bytes=draw(st.sampled_from([1.0, 0.5])))
    # int8 (native), fp16 (1/30 of the int8 rate on bpu), int16 (5/2 cycles per cycle)
    precision = draw(st.sampled_from([None, FP16, INT16]))
    return spec, arch, ctx, draw(st.booleans()), draw(st.integers(0, 1)), precision


@settings(max_examples=60, deadline=None)
@given(problems())
def test_batch_figures_are_the_scalar_costs_bit_for_bit(problem):
    spec, arch, ctx, priced, which, precision = problem
    target = Target.of(arch, precision or arch.precision)
    assert target.mac.slowdown == (1 if precision is None else 30 if precision is FP16
                                   else Fraction(5, 2))
    prices = Prices.of(energy_table_for(arch), target) if priced else None
    cores = list(range(arch.cores))
    splits = split_options(spec, len(cores), target.rows, target.cols)
    shares = core_shares(spec, cores, target.rows, target.cols, splits[which % len(splits)])
    try:
        tilings = candidate_tilings(spec, target, max(s.m for s in shares),
                                    max(s.n for s in shares), 0.0, "l")
    except NpusimError:     # not even the smallest tile fits (wide operands): no candidates
        assume(False)
    # one coster over all candidates (its caches shared, in reverse order) vs a fresh
    # coster per candidate, vs the batch over all candidates at once
    shared = PassCoster(spec, target, shares, ctx, prices, 12.5)
    kept = {t: shared(t) for t in reversed(tilings)}
    batch = figures(PassCoster(spec, target, shares, ctx, prices, 12.5), tilings,
                    scalar_below=0)       # numpy whatever the number of candidates
    for tiling, fig in zip(tilings, batch):
        fresh = PassCoster(spec, target, shares, ctx, prices, 12.5)(tiling)
        assert kept[tiling] == fresh
        for name in ("cycles", "tiles", "dram_bytes", "energy_pj"):
            assert _same(float(getattr(fig, name)), float(getattr(fresh, name))), name
        assert fig.tiles == fresh.tiles


def test_the_batch_of_a_known_pass():
    # 1x1, 64 -> 64 on 8x8 on bpu, one core, everything on chip, one tile (64 px x 64 ch x 64):
    # compute 64 x ceil(64/32) x ceil(64/32) = 256 cycles, as the scalar coster says
    arch = load_arch("bpu", ["cores=1"])
    target = Target.of(arch, arch.precision)
    spec = MacSpec(1, 64, 8, 8, 64, 8, 8, 1, 1, 1, 1, 0, 1)
    shares = core_shares(spec, [0], target.rows, target.cols, "none")
    ctx = PassContext(False, False, "sram", 4096.0, 0.0, 0, 0.0)
    tilings = candidate_tilings(spec, target, 64, 64, 0.0, "l")
    coster = PassCoster(spec, target, shares, ctx, None, 0.0)
    (one,) = [f for t, f in zip(tilings, figures(coster, tilings))
              if (t.mt, t.nt, t.kc, t.channels_outer) == (64, 64, 64, True)]
    assert coster.compute(0, tilings[0]) == 256 and one.cycles > 256
    assert one.tiles == 1 and one.dram_bytes == 0.0 and one.energy_pj == 0.0
