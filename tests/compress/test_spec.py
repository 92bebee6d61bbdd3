"""The compact string and the YAML `compression:` block: parsing, strict validation, per-type
and per-layer overrides, the canonical order, weight files."""

from pathlib import Path

import numpy as np
import pytest

from simulator.compress import apply_block, parse_compress_string
from simulator.core.errors import NpusimError
from simulator.io.load import load_workload


def test_compact_string_all_settings():
    block = parse_compress_string("prune=0.9,adensity=0.35,ibits=5,channels=0.25,wbits=4,"
                                  "abits=8,share=16,huffman,winograd=f4,lowrank=64")
    assert (block.prune, block.adensity, block.ibits, block.channels) == (0.9, 0.35, 5, 0.25)
    assert (block.wbits, block.abits, block.share, block.huffman) == (4, 8, 16, True)
    assert (block.winograd, block.lowrank) == ("f4", 64)


def test_compact_string_scopes():
    block = parse_compress_string(" prune=0.9, conv.wbits=8 ,linear.wbits=5,fc8.prune=none,"
                                  "fc6.huffman=false")
    assert block.types["conv"].wbits == 8 and block.types["linear"].wbits == 5
    assert block.layers["fc8"].prune is None and "prune" in block.layers["fc8"].model_fields_set
    assert block.layers["fc6"].huffman is False


@pytest.mark.parametrize("text,words", [
    ("prune=0.9,pruen=0.5", "unknown compression setting 'pruen'"),
    ("prune=1", "prune"), ("prune=-0.1", "prune"), ("wbits=0", "wbits"), ("wbits=17", "wbits"),
    ("share=1", "share"), ("winograd=f3", "winograd"), ("lowrank=0", "lowrank"),
    ("wbits", "needs a value"), ("wbits=4,wbits=8", "given twice"), ("", "no compression"),
    ("adensity=0", "adensity"), ("ibits=0", "ibits"), ("prune=lots", "prune"),
])
def test_compact_string_refusals(text, words):
    with pytest.raises(NpusimError) as info:
        parse_compress_string(text)
    assert words in str(info.value) and "\n" not in str(info.value)


def write(tmp_path: Path, compression: str, name: str = "net.yaml") -> Path:
    path = tmp_path / name
    path.write_text(f"""name: tiny
input: [8, 16, 16]
compression:
{compression}
layers:
  - {{name: c1, type: conv, out_channels: 16, kernel: 3, padding: 1}}
  - {{name: c2, type: conv, out_channels: 16, kernel: 5, padding: 2}}
  - {{name: pool, type: globalavgpool}}
  - {{name: fc, type: linear, in_features: 16, out_features: 10}}
""")
    return path


def test_yaml_block_network_type_layer(tmp_path):
    path = write(tmp_path, """  prune: 0.5
  wbits: 8
  winograd: f2
  types: {linear: {wbits: 4}}
  layers: {fc: {prune: 0.9, huffman: true}, c1: {prune: null}}""")
    w = load_workload(path)
    c1, c2, pool, fc = w.layers
    assert c1.weight_density == 1.0 and c2.weight_density == 0.5 and fc.weight_density == 0.1
    assert (c1.weight_bits, c2.weight_bits, fc.weight_bits) == (8, 8, 4)
    assert c1.winograd == "f2" and c2.winograd is None         # 5x5 skipped network-wide
    assert fc.huffman is not None and c1.huffman is None
    # canonical order whatever the order in the file: winograd before prune before quantize
    assert [t.name for t in w.transforms] == ["winograd", "prune", "prune", "quantize",
                                               "quantize", "huffman"]
    assert w.summary()["transforms"][0]["name"] == "winograd"


def test_yaml_block_explicit_misfit_refused(tmp_path):
    path = write(tmp_path, "  layers: {c2: {winograd: f2}}")
    with pytest.raises(NpusimError) as info:
        load_workload(path)
    text = str(info.value)
    assert str(path) in text and "compression (c2.winograd)" in text and "5x5" in text


@pytest.mark.parametrize("block,field", [
    ("  prunee: 0.5", "compression.prunee"),
    ("  layers: {nope: {prune: 0.5}}", "compression.layers.nope"),
    ("  types: {convv: {prune: 0.5}}", "compression"),
    ("  huffman: {weights_file: w.npy}", "compression"),
    ("  wbits: 0", "compression.wbits"),
])
def test_yaml_block_strict(tmp_path, block, field):
    with pytest.raises(NpusimError) as info:
        load_workload(write(tmp_path, block))
    assert f"field '{field}" in str(info.value)


def test_yaml_huffman_weights_file(tmp_path):
    rng = np.random.default_rng(0)
    weights = rng.normal(size=(10, 16)) * (rng.random((10, 16)) < 0.5)
    density = np.count_nonzero(weights) / weights.size
    np.save(tmp_path / "fc.npy", weights)
    path = write(tmp_path, f"""  layers: {{fc: {{prune: {1 - density}, share: 8,
             huffman: {{weights_file: fc.npy}}}}}}""")
    fc = load_workload(path).layer("fc")
    assert fc.huffman.source == "fc.npy"
    assert sum(fc.huffman.weight_histogram) == sum(fc.huffman.index_histogram)
    missing = write(tmp_path, "  layers: {fc: {prune: 0.5, share: 8, huffman: "
                    "{weights_file: nope.npy}}}", "missing.yaml")
    with pytest.raises(NpusimError) as info:
        load_workload(missing)
    assert "weights_file" in str(info.value)


def test_compress_argument_after_the_block(tmp_path):
    path = write(tmp_path, "  prune: 0.5")
    w = load_workload(path, compress="wbits=4")
    assert w.layer("c1").weight_density == 0.5 and w.layer("c1").weight_bits == 4


def test_network_prune_skips_layers_already_sparser():
    w = apply_block(load_workload("eie_benchmarks"), "prune=0.8")
    # Alex-6 is at 9 % already: left alone; NT-We... at 10 %: left alone; none pruned to 20 %
    assert all(l.weight_density <= 0.2 for l in w.layers)
    assert w.layer("Alex-8").weight_density == 0.2           # was 25 %


def test_apply_block_accepts_dict_and_string():
    base = load_workload("alexnet")
    a = apply_block(base, {"prune": 0.9, "share": 32})
    b = apply_block(base, "prune=0.9,share=32")
    assert a.model_dump() == b.model_dump()
