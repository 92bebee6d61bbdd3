"""The mapper ranks only the candidates that can be chosen (`tiling.ranked_columns`): for any
problems, contexts and objective, that gives exactly the choice that ranking every candidate
gives (same tiling, loop order and figures), and the candidate counts a choice reports are still
those of the whole set."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.kinds.systolic.mapper import GemmContext, Prices, rank
from simulator.kinds.systolic.tiling import ORDERS, TilingProblem, candidates

_CAP = st.one_of(st.none(), st.sampled_from([64.0, 1024.0, 16384.0, 262144.0, 4e6]))


@st.composite
def _problem(draw, dataflow: str, rows: int, cols: int, mode: str, acc_rows: bool):
    m, k, n = (draw(st.integers(1, 3000)) for _ in range(3))
    a_bytes = draw(st.sampled_from([0.5, 1.0, 2.0]))
    a_in = draw(st.booleans())
    return TilingProblem(
        m=m, k=k, n=n, rows=rows, cols=cols, dataflow=dataflow,
        a_unique_bytes=m * k * a_bytes, b_elem_bytes=draw(st.sampled_from([0.5, 1.0, 2.0])),
        out_elem_bytes=a_bytes, acc_elem_bytes=4.0, a_in_dram=a_in,
        b_in_dram=draw(st.booleans()), c_to_dram=draw(st.booleans()),
        cap_a=draw(_CAP) if a_in else None, cap_b=draw(_CAP),
        cap_c=draw(st.sampled_from([256.0, 4096.0, 65536.0, 4e6])),
        allow_psum_spill=draw(st.booleans()), conv_rows=m, overhead_mode=mode,
        fold_overhead_cycles=rows + cols, shift_cycles=rows, rate_slowdown=1.0,
        accumulator_rows=acc_rows, a_elem_bytes=a_bytes,
        force_order=draw(st.sampled_from(["", "", "", *ORDERS])),
        force_m=draw(st.sampled_from([0, 0, 0, 7, 64])))


@st.composite
def _jobs(draw):
    dataflow = draw(st.sampled_from(["os", "ws", "is"]))
    rows, cols = draw(st.sampled_from([4, 16, 32])), draw(st.sampled_from([4, 16, 32]))
    mode = draw(st.sampled_from(["scalesim", "pipelined"]))
    acc_rows = draw(st.booleans())
    objective = draw(st.sampled_from(["latency", "dram", "energy", "edp"]))
    bandwidth = draw(st.sampled_from([0.5, 4.0, 64.0, float("inf")]))
    latency = draw(st.sampled_from([0.0, 100.0]))
    problems = draw(st.lists(_problem(dataflow, rows, cols, mode, acc_rows), min_size=1,
                             max_size=4))
    prices = (Prices(dram=draw(st.sampled_from([20.0, 160.0])), a_sram=1.0, b_sram=2.0,
                     c_sram=3.0, out_sram=1.5, write_ratio=1.2, fixed_pj=1e4)
              if objective in ("energy", "edp") else None)
    jobs = []
    for p in problems:
        steps = draw(st.sampled_from([1, 1, 3]))
        groups = draw(st.sampled_from([1, 2]))
        jobs.append((p, GemmContext(
            inst_compute=float(draw(st.integers(1, 10**6))), reps=groups * steps,
            groups=groups, steps=steps, bytes_per_cycle=bandwidth, latency_cycles=latency,
            first_exposed=float(rows), objective=objective, unified=acc_rows, prices=prices)))
    return jobs


@settings(max_examples=150, deadline=None)
@given(_jobs())
def test_ranking_the_choosable_candidates_gives_the_full_ranking_choice(jobs):
    problems = [p for p, _ in jobs]
    full = candidates(problems)
    ranked = candidates(problems, ranked_only=True)
    assert len(ranked.seg) <= len(full.seg)
    assert ranked.candidate_counts() == full.candidate_counts()
    assert rank(jobs, ranked) == rank(jobs, full)
