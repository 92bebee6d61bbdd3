"""The Deep-Compression-style model-size table."""

from simulator.compress import model_size, prune, quantize, share_weights
from simulator.core.workload import workload_from_dict
from simulator.report.model_size import model_size_markdown


def test_model_size_markdown():
    w = workload_from_dict({"name": "tiny", "layers": [
        {"name": "fc", "type": "linear", "input": [8], "out_features": 16, "bias": False}]})
    compressed = share_weights(quantize(prune(w, 0.25), 8), 16)
    text = model_size_markdown(model_size(compressed))
    rows = [line for line in text.splitlines() if line.startswith("| fc ")]
    # 128 weights, 25 %, CSC, 4-bit symbols and indices; 512 B dense, 151 B after P, 55 B
    # after P+Q (tests/compress/test_storage.py derives them), ratio 512 / 55 = 9.3x
    assert rows == ["| fc | 128 | 25.0 % | csc | 4 | 4 | 512 B | 151 B | 55 B | 55 B | 9.3x |"]
    assert "P+Q 9.3x" in text and "share_weights(entries=16)" in text
