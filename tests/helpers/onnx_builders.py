"""Build small ONNX models in code for the importer tests (onnx.helper only, no torch).

`weights` chooses how weight tensors are stored, as real exports do:
- "full": initializers with data (deterministic values, optionally with a pruned fraction);
- "external": initializers whose data points at a missing external file (weights stripped);
- "inputs": no initializers, weights declared as graph inputs with their shapes (older
  shape-only exports).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


class Builder:
    def __init__(self, weights: str = "full", opset: int = 17, zero_fraction: float = 0.0) -> None:
        self.weights = weights
        self.opset = opset
        self.zero_fraction = zero_fraction
        self.nodes: list = []
        self.inputs: list = []
        self.initializers: list = []
        self.outputs: list = []
        self.count = 0
        self.rng = np.random.default_rng(0)

    # ---- plumbing -----------------------------------------------------------------------
    def fresh(self, stem: str) -> str:
        self.count += 1
        return f"{stem}_{self.count}"

    def input(self, name: str, shape: list) -> str:
        self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
        return name

    def weight(self, stem: str, shape: list[int], data: np.ndarray | None = None) -> str:
        name = self.fresh(stem)
        if self.weights == "inputs":
            self.inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape))
            return name
        if self.weights == "external":  # weights stripped: dims and a dangling file reference
            tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=shape)
            tensor.data_location = TensorProto.EXTERNAL
            for key, value in (("location", "stripped_weights.bin"), ("offset", "0"),
                               ("length", str(4 * int(np.prod(shape))))):
                entry = tensor.external_data.add()
                entry.key, entry.value = key, value
            self.initializers.append(tensor)
            return name
        if data is None:
            data = self.rng.standard_normal(shape).astype(np.float32) + 3.0  # never zero
            if self.zero_fraction:
                flat = data.reshape(-1)
                flat[: int(round(flat.size * self.zero_fraction))] = 0.0
        tensor = numpy_helper.from_array(np.asarray(data, dtype=np.float32), name)
        self.initializers.append(tensor)
        return name

    def const(self, value, dtype=np.float32) -> str:
        """A small constant (kept inline even in stripped exports, as the docs recommend)."""
        name = self.fresh("const")
        self.initializers.append(numpy_helper.from_array(np.asarray(value, dtype=dtype), name))
        return name

    def node(self, op: str, inputs: list[str], name: str | None = None, outputs: int = 1,
             **attrs) -> str | list[str]:
        outs = [self.fresh(op.lower()) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op, inputs, outs, name=name or "", **attrs))
        return outs[0] if outputs == 1 else outs

    def output(self, name: str) -> None:
        self.outputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))

    def model(self, name: str = "test_net") -> onnx.ModelProto:
        graph = helper.make_graph(self.nodes, name, self.inputs, self.outputs, self.initializers)
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)],
                                  producer_name="npusim-tests")
        return model

    def save(self, path: Path, name: str = "test_net") -> Path:
        onnx.save(self.model(name), str(path))
        return path

    # ---- layers -------------------------------------------------------------------------
    def conv(self, x: str, cin: int, cout: int, k: int, stride: int = 1, pad: int | list = 0,
             groups: int = 1, bias: bool = False, name: str | None = None, **attrs) -> str:
        w = self.weight("w", [cout, cin // groups, k, k])
        inputs = [x, w] + ([self.weight("b", [cout])] if bias else [])
        pads = pad if isinstance(pad, list) else [pad] * 4
        if "auto_pad" in attrs:
            return self.node("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride],
                             group=groups, **attrs)
        return self.node("Conv", inputs, name, kernel_shape=[k, k], strides=[stride, stride],
                         pads=pads, group=groups, **attrs)

    def bn(self, x: str, c: int, name: str | None = None) -> str:
        params = [self.weight(s, [c]) for s in ("gamma", "beta", "mean", "var")]
        return self.node("BatchNormalization", [x] + params, name)

    def conv_bn(self, x, cin, cout, k, stride=1, pad=0, groups=1, relu=True, name=None):
        y = self.bn(self.conv(x, cin, cout, k, stride, pad, groups, name=name), cout)
        return self.node("Relu", [y]) if relu else y

    def gemm(self, x: str, k: int, n: int, name: str | None = None, bias: bool = True) -> str:
        w = self.weight("fc_w", [n, k])
        inputs = [x, w] + ([self.weight("fc_b", [n])] if bias else [])
        return self.node("Gemm", inputs, name, transB=1)

    def matmul_w(self, x: str, k: int, n: int, name: str | None = None, bias: bool = True) -> str:
        y = self.node("MatMul", [x, self.weight("mm_w", [k, n])], name)
        return self.node("Add", [y, self.weight("mm_b", [n])]) if bias else y

    def reshape(self, x: str, shape: list[int]) -> str:
        return self.node("Reshape", [x, self.const(shape, np.int64)])


def bottleneck(b: Builder, x: str, cin: int, mid: int, stride: int, tag: str) -> str:
    """torchvision ResNet v1.5 bottleneck: 1x1 reduce, 3x3 (stride), 1x1 expand, shortcut."""
    cout = 4 * mid
    y = b.conv_bn(x, cin, mid, 1, name=f"/{tag}/conv1/Conv")
    y = b.conv_bn(y, mid, mid, 3, stride, 1, name=f"/{tag}/conv2/Conv")
    y = b.conv_bn(y, mid, cout, 1, relu=False, name=f"/{tag}/conv3/Conv")
    if stride != 1 or cin != cout:
        x = b.conv_bn(x, cin, cout, 1, stride, relu=False, name=f"/{tag}/downsample/0/Conv")
    return b.node("Relu", [b.node("Add", [y, x], f"/{tag}/Add")])


def resnet50(weights: str = "external", batch="N") -> Builder:
    """ResNet-50 (torchvision v1.5) built node by node, like torch.onnx.export would."""
    b = Builder(weights)
    x = b.input("input", [batch, 3, 224, 224])
    y = b.conv_bn(x, 3, 64, 7, 2, 3, name="/conv1/Conv")
    y = b.node("MaxPool", [y], "/maxpool/MaxPool", kernel_shape=[3, 3], strides=[2, 2],
               pads=[1, 1, 1, 1])
    cin = 64
    for stage, (mid, blocks, stride) in enumerate(((64, 3, 1), (128, 4, 2), (256, 6, 2),
                                                   (512, 3, 2)), start=1):
        for block in range(blocks):
            y = bottleneck(b, y, cin, mid, stride if block == 0 else 1, f"layer{stage}/layer{stage}.{block}")
            cin = 4 * mid
    y = b.node("GlobalAveragePool", [y], "/avgpool/GlobalAveragePool")
    y = b.node("Flatten", [y], "/Flatten", axis=1)
    y = b.gemm(y, 2048, 1000, "/fc/Gemm")
    b.output(y)
    return b
