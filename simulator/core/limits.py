"""The documented limits of what npusim accepts (docs/formats.md, section 6 "Limits").

Every count npusim reports (cycles, MACs, bytes, element operations) is an integer that must fit
the 64-bit integers of numpy arrays, of SQLite columns and of other tools reading the JSON, so
sizes are checked against these limits before any work, where they are read, with a one-line
error naming the file and the field. The limits are far above any real network (GPT-3's
largest layer is 2^28 MACs per token) and far below where the counts would overflow.
"""

from __future__ import annotations

#: The largest integer any field of any input file may hold (a dimension, a batch, a size in
#: bytes, a cycle count): 2^62, so that a sum of two such counts still fits a signed int64.
MAX_INT = 2**62

#: What a reported count may reach at most (a signed 64-bit integer).
INT64_MAX = 2**63 - 1

#: Per layer: MACs, element operations, and bytes of each operand (elements x batch x the
#: widest word any engine moves, 8 bytes) must stay below 2^62; so must the workload's totals.
MAX_COUNT = 2**62

#: The widest word an engine moves for one element (a 64-bit accumulator), in bytes: an
#: operand of E elements is counted as at most 8 E bytes against `MAX_COUNT`.
MAX_WORD_BYTES = 8

#: Layers in one workload (a 10,000-layer network loads in about a second).
MAX_LAYERS = 100_000

#: Sizes of input files, checked with stat() before anything is read.
MAX_YAML_BYTES = 64 * 2**20
MAX_CSV_BYTES = 64 * 2**20
MAX_CFG_BYTES = 2**20
#: ONNX files hold the weights too (VGG-16: 528 MB); protobuf refuses messages over 2 GiB.
MAX_ONNX_BYTES = 2 * 2**30

#: YAML: nodes after expanding every alias (a "billion laughs" file is a few hundred bytes that
#: expand to 10^9 nodes), and nesting depth. A 10,000-layer workload has about 150,000 nodes.
MAX_YAML_NODES = 5_000_000
MAX_YAML_DEPTH = 100

#: Rows of a sweep (design points x workloads), counted before the points are expanded;
#: `npusim sweep --max-rows N` or the environment variable NPUSIM_MAX_SWEEP_ROWS change it.
#: Every point is validated before the first one runs (about 0.2 ms each) and a run evaluates
#: some 20 points per second per CPU, so 100,000 rows is already hours of work.
MAX_SWEEP_ROWS = 100_000


def power_of_two(value: int) -> str:
    """`2^62` for 2**62, else the number with separators (for messages)."""
    if value > 0 and value & (value - 1) == 0:
        return f"2^{value.bit_length() - 1}"
    return f"{value:,}"


def describe_int(value: int) -> str:
    """A huge integer, shortened for a one-line message (`a 401-digit integer`)."""
    text = str(abs(value))
    return f"a {len(text)}-digit integer" if len(text) > 24 else f"{value:,}"
