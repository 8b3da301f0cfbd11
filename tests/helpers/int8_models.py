"""Full-int8 ONNX models as tf2onnx writes them from a .tflite: an int8 (or uint8) NHWC
input behind a DequantizeLinear and a Transpose (or, with one channel, a Reshape) to
NCHW; int8 weights with per-channel scales and int32 biases behind DequantizeLinear;
layout ops (Reshape, Squeeze) between a QuantizeLinear and its DequantizeLinear; an int8
output written by the last QuantizeLinear."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

RNG = np.random.default_rng(7)
TYPES = {"int8": (TensorProto.INT8, np.int8), "uint8": (TensorProto.UINT8, np.uint8)}


class Builder:
    def __init__(self, dtype="int8"):
        self.nodes, self.inits, self.n = [], [], 0
        self.elem, self.np = TYPES[dtype]
        self.shift = 128 if dtype == "uint8" else 0

    def name(self, base):
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, array, base="c"):
        name = self.name(base)
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, outputs=None, **attrs):
        outputs = outputs or [self.name(op.lower())]
        self.nodes.append(helper.make_node(op, inputs, outputs, name=self.name(op), **attrs))
        return outputs[0]

    def q(self, x, scale, zp, dtype=None):
        np_type = dtype or self.np
        return self.node("QuantizeLinear", [x, self.const(np.float32(scale)), self.const(np_type(zp + self.shift))])

    def dq(self, x, scale, zp, dtype=None):
        np_type = dtype or self.np
        return self.node("DequantizeLinear", [x, self.const(np.float32(scale)), self.const(np_type(zp + self.shift))])

    def qdq(self, x, scale, zp):
        return self.dq(self.q(x, scale, zp), scale, zp)

    def weight(self, shape, axis=0):
        w = RNG.integers(-127, 128, size=shape).astype(np.int8)
        scales = RNG.uniform(0.002, 0.01, size=shape[axis]).astype(np.float32)
        return self.node("DequantizeLinear", [self.const(w, "w"), self.const(scales, "ws"),
                                              self.const(np.zeros(shape[axis], np.int8), "wz")], axis=axis), scales

    def bias(self, n, scales):
        b = RNG.integers(-2000, 2000, size=n).astype(np.int32)
        return self.node("DequantizeLinear", [self.const(b, "b"), self.const(scales.astype(np.float32), "bs"),
                                              self.const(np.zeros(n, np.int32), "bz")], axis=0)


def keras_like(dtype="int8", channels=3, size=8, classes=5, flat_input=False):
    """conv 3x3 s2 + relu, depthwise 3x3 + relu6, pointwise, global average pool with a new
    output scale, Reshape between Q and DQ, Gemm, softmax; int8 in and out."""
    b = Builder(dtype)
    s_in, zp_in = 0.02, -3
    if flat_input:
        in_dims = [1, size * size * channels]
    else:
        in_dims = [1, size, size, channels]
    x = b.dq("input", s_in, zp_in)
    if flat_input or channels == 1:
        x = b.node("Reshape", [x, b.const(np.array([1, channels, size, size], np.int64))]) if channels == 1 else \
            b.node("Transpose", [b.node("Reshape", [x, b.const(np.array([1, size, size, channels], np.int64))])],
                   perm=[0, 3, 1, 2])
    else:
        x = b.node("Transpose", [x], perm=[0, 3, 1, 2])
    c1 = 8
    w, ws = b.weight((c1, channels, 3, 3))
    x = b.node("Conv", [x, w, b.bias(c1, ws * s_in)], kernel_shape=[3, 3], strides=[2, 2], pads=[0, 0, 1, 1])
    x = b.node("Relu", [x])
    s1, zp1 = 0.03, -128
    x = b.qdq(x, s1, zp1)
    w, ws = b.weight((c1, 1, 3, 3))
    x = b.node("Conv", [x, w, b.bias(c1, ws * s1)], kernel_shape=[3, 3], group=c1, pads=[1, 1, 1, 1])
    x = b.node("Clip", [x, b.const(np.float32(0)), b.const(np.float32(6))])
    s2, zp2 = 0.025, -128
    x = b.qdq(x, s2, zp2)
    c2 = 12
    w, ws = b.weight((c2, c1, 1, 1))
    x = b.node("Conv", [x, w, b.bias(c2, ws * s2)], kernel_shape=[1, 1])
    s3, zp3 = 0.05, 4
    x = b.qdq(x, s3, zp3)
    x = b.node("GlobalAveragePool", [x])
    s4, zp4 = 0.02, -10
    x = b.q(x, s4, zp4)
    x = b.node("Reshape", [x, b.const(np.array([1, c2], np.int64))])  # on int8, as tf2onnx writes it
    x = b.dq(x, s4, zp4)
    w, ws = b.weight((classes, c2))
    x = b.node("Gemm", [x, w, b.bias(classes, ws * s4)], transB=1)
    s5, zp5 = 0.1, 7
    x = b.qdq(x, s5, zp5)
    x = b.node("Softmax", [x], axis=1)
    b.q(x, 1 / 256, -128)
    b.nodes[-1].output[0] = "output"
    graph = helper.make_graph(b.nodes, "int8", [helper.make_tensor_value_info("input", b.elem, in_dims)],
                              [helper.make_tensor_value_info("output", b.elem, [1, classes])], b.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    return m
