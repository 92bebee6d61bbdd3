"""Fuzzed mapping overrides (`--map LAYER.KEY=VALUE`, `--mapping FILE`) on `run` and `explain`
for the systolic and tensor-core kinds: random layer names, keys (real and not) and values
(sizes, loop orders, splits, huge, negative, non-finite, strings, YAML collections), and
mapping files of any shape. Exit 0 with physics that hold, or exit 2 with one line."""

from __future__ import annotations

import tempfile
from pathlib import Path

from helpers.fuzz import error_path_problem, fuzz_settings, parse_json, physics_problems
from hypothesis import given
from hypothesis import strategies as st

ONE_CONV = str(Path(__file__).resolve().parents[2] / "docs" / "labs" / "one_conv.yaml")
ARCHS = ("edge_32x32", "bpu")
KEYS = ("tile_m", "tile_k", "tile_n", "loop_order", "sub_batch", "split", "tile_pixels",
        "tile_channels", "tile_input_channels", "dataflow", "candidates", "bogus")
VALUES = st.one_of(
    st.integers(-10, 2000), st.sampled_from([0, 2**62, 10**400, "1e999", ".nan", ".inf"]),
    st.sampled_from(["mkn", "nkm", "kmn", "rows", "channels", "none", "pixels_outer",
                     "channels_outer", "diagonal", "", "[1, 2]", "{a: 1}", "true"]))


def _item(layer: str, key: str, value) -> str:
    return f"{layer}.{key}={value}"


@fuzz_settings(examples=30)
@given(arch=st.sampled_from(ARCHS), verb=st.sampled_from(["run", "explain"]),
       items=st.lists(st.tuples(st.sampled_from(["conv", "nope", "conv.x", ""]),
                                st.sampled_from(KEYS), VALUES), max_size=3),
       file_text=st.one_of(st.none(), st.sampled_from([
           "conv: {tile_m: 64}\n", "conv: {split: rows}\n", "conv: 3\n", "[1, 2]\n", "",
           "layers: [{name: conv, mapping: {tile_m: 32, objective: latency}}]\n",
           "layers: [{mapping: {}}]\n", "conv: {tile_n: -1}\n", "a: &a [*a]\n"])))
def test_mapping_overrides_are_honoured_or_refused_in_one_line(cli, arch, verb, items,
                                                                file_text):
    with tempfile.TemporaryDirectory() as folder:
        argv = [verb, arch, ONE_CONV, "--format", "json"]
        if verb == "explain":
            argv.append("--no-what-if")
        for layer, key, value in items:
            argv += ["--map", _item(layer, key, value)]
        if file_text is not None:
            path = Path(folder) / "m.yaml"
            path.write_text(file_text)
            argv += ["--mapping", str(path)]
        outcome = cli.run(argv, folder)
    assert error_path_problem(outcome) is None, error_path_problem(outcome)
    if outcome.code == 0 and verb == "run":
        assert physics_problems(parse_json(outcome)) == []
