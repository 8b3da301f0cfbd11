"""A float network and its ONNX graph built side by side, for the MobileNet v2/v3 examples.

Every layer is computed in numpy on the calibration batch while its ONNX nodes are
written, so each BatchNorm's running mean and variance can be the real statistics of its
input (as examples/make_vww.py does for v1): random weights then give activations that
neither die nor saturate, and int8 calibration means something. Squeeze-and-excitation
and classifier layers, which have a bias and no BatchNorm, get the same fit folded into
their weights and bias.

The activations are written the way the exporters write them:
  relu6      Clip(x, 0, 6) with constant inputs (tf2onnx, torch)
  relu6_mm   Max(x, 0) -> Min(x, 6)
  hswish     x * Clip(x + 3, 0, 6) / 6 (Add, Clip, Mul, Div: older torch exports)
  hswish_b   x * (Clip(x + 3, 0, 6) * 1/6) (Add, Clip, Mul by 1/6, Mul)
  hsigmoid   Clip(x + 3, 0, 6) / 6 (Add, Clip, Div)
"""

from __future__ import annotations

import numpy as np
from make_vww import conv2d, he_normal  # the v1 example's numpy conv and init
from onnx import TensorProto, helper, numpy_helper

BN_EPS = 1e-3


def make_divisible(v, divisor=8):
    """Channel counts rounded to multiples of 8, never down by more than 10% (Keras, torchvision)."""
    n = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return n + divisor if n < 0.9 * v else n


def hswish(x):
    return x * np.clip(x + 3.0, 0.0, 6.0) / 6.0


def hsigmoid(x):
    return np.clip(x + 3.0, 0.0, 6.0) / 6.0


FLOAT_ACTS = {None: lambda x: x, "relu": lambda x: np.maximum(x, 0.0), "relu6": lambda x: np.clip(x, 0.0, 6.0),
              "relu6_mm": lambda x: np.clip(x, 0.0, 6.0), "hswish": hswish, "hswish_b": hswish,
              "hsigmoid": hsigmoid}


class NetBuilder:
    """x is always a pair (numpy batch NCHW float64, ONNX tensor name)."""

    def __init__(self, rng, input_name="input"):
        self.rng, self.nodes, self.inits, self.count = rng, [], [], 0
        self.input_name = input_name
        self.consts = {v: self.init(f"const_{name}", np.array(v, np.float32))
                       for name, v in (("0", 0.0), ("3", 3.0), ("6", 6.0), ("1_6", 1.0 / 6.0))}

    # ------------------------------------------------------------------ ONNX plumbing

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, inputs, prefix, **attrs):
        self.count += 1
        out = f"{prefix}/{op}_{self.count}"
        self.nodes.append(helper.make_node(op, inputs, [out], name=out, **attrs))
        return out

    # ------------------------------------------------------------------ layers

    def conv_bn(self, x, prefix, cout, k=1, stride=1, groups=1, act=None, pads=None):
        """Conv (no bias) + BatchNorm with statistics from the batch + activation."""
        data, name = x
        cin = data.shape[1]
        w = he_normal(self.rng, (cout, cin // groups, k, k))
        pads = pads or [k // 2] * 4
        y = conv2d(data, w, stride, pads, depthwise=groups > 1)
        mean, var = y.mean(axis=(0, 2, 3)), y.var(axis=(0, 2, 3))
        gamma, beta = self.rng.uniform(0.5, 1.5, cout), self.rng.normal(0.2, 0.3, cout)
        y = (y - mean[None, :, None, None]) / np.sqrt(var[None, :, None, None] + BN_EPS)
        y = y * gamma[None, :, None, None] + beta[None, :, None, None]
        name = self.node("Conv", [name, self.init(f"{prefix}/weights", w.astype(np.float32))], prefix,
                         kernel_shape=[k, k], strides=[stride, stride], pads=pads, group=groups)
        bn = [self.init(f"{prefix}/bn_{n}", v.astype(np.float32))
              for n, v in (("gamma", gamma), ("beta", beta), ("mean", mean), ("var", var))]
        name = self.node("BatchNormalization", [name] + bn, prefix, epsilon=BN_EPS)
        return self.act((y, name), act, prefix)

    def conv_bias(self, x, prefix, cout, act=None, spread=1.5):
        """1x1 conv with a bias fitted to the batch (squeeze-and-excitation layers): each
        output channel has mean ~N(0.2, 0.3) and standard deviation `spread`."""
        data, name = x
        w = he_normal(self.rng, (cout, data.shape[1], 1, 1))
        y = np.einsum("nchw,oc->nohw", data, w[:, :, 0, 0])
        std = y.std(axis=(0, 2, 3)) + 1e-6
        w = w * (spread / std)[:, None, None, None]
        b = self.rng.normal(0.2, 0.3, cout) - y.mean(axis=(0, 2, 3)) * spread / std
        y = np.einsum("nchw,oc->nohw", data, w[:, :, 0, 0]) + b[None, :, None, None]
        name = self.node("Conv", [name, self.init(f"{prefix}/weights", w.astype(np.float32)),
                                  self.init(f"{prefix}/bias", b.astype(np.float32))], prefix, kernel_shape=[1, 1])
        return self.act((y, name), act, prefix)

    def gemm(self, x, prefix, cout, act=None, spread=1.5):
        """Gemm (transB) with weights and bias fitted like conv_bias."""
        data, name = x
        w = self.rng.standard_normal((cout, data.shape[1]))
        y = data @ w.T
        std = y.std(axis=0) + 1e-6
        w = w * (spread / std)[:, None]
        b = self.rng.normal(0.0, 0.1, cout) - y.mean(axis=0) * spread / std
        y = data @ w.T + b
        name = self.node("Gemm", [name, self.init(f"{prefix}/weights", w.astype(np.float32)),
                                  self.init(f"{prefix}/bias", b.astype(np.float32))], prefix, transB=1)
        return self.act((y, name), act, prefix)

    def act(self, x, kind, prefix):
        data, name = x
        c = self.consts
        if kind is None:
            return x
        if kind == "relu":
            name = self.node("Relu", [name], prefix)
        elif kind == "relu6":
            name = self.node("Clip", [name, c[0.0], c[6.0]], prefix)
        elif kind == "relu6_mm":
            name = self.node("Min", [self.node("Max", [name, c[0.0]], prefix), c[6.0]], prefix)
        elif kind in ("hswish", "hswish_b", "hsigmoid"):
            gate = self.node("Clip", [self.node("Add", [name, c[3.0]], prefix), c[0.0], c[6.0]], prefix)
            if kind == "hswish":
                name = self.node("Div", [self.node("Mul", [name, gate], prefix), c[6.0]], prefix)
            elif kind == "hswish_b":
                name = self.node("Mul", [name, self.node("Mul", [gate, c[1.0 / 6.0]], prefix)], prefix)
            else:
                name = self.node("Div", [gate, c[6.0]], prefix)
        return FLOAT_ACTS[kind](data), name

    def squeeze_excite(self, x, prefix, squeeze):
        """GlobalAveragePool -> 1x1 conv -> ReLU -> 1x1 conv -> HardSigmoid -> Mul(x, s)."""
        data, name = x
        s = (data.mean(axis=(2, 3), keepdims=True), self.node("GlobalAveragePool", [name], prefix))
        s = self.conv_bias(s, prefix + "/fc1", squeeze, "relu")
        s = self.conv_bias(s, prefix + "/fc2", data.shape[1], "hsigmoid", spread=2.0)
        return data * s[0], self.node("Mul", [name, s[1]], prefix)

    def add(self, a, b, prefix):
        return a[0] + b[0], self.node("Add", [a[1], b[1]], prefix)

    def head(self, x, prefix):
        """GlobalAveragePool -> Flatten: [N, C]."""
        data, name = x
        name = self.node("Flatten", [self.node("GlobalAveragePool", [name], prefix)], prefix)
        return data.mean(axis=(2, 3)), name

    def classifier(self, x, prefix, classes):
        """Gemm to `classes` logits (spread ~1 between images, so no class always wins) + Softmax."""
        data, name = self.gemm(x, prefix, classes, spread=1.0)
        e = np.exp(data - data.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True), self.node("Softmax", [name], prefix, axis=1)

    def model(self, x, graph_name, doc, opset=13):
        data, name = x
        shape = [1, *self.input_shape]
        graph = helper.make_graph(
            self.nodes, graph_name, [helper.make_tensor_value_info(self.input_name, TensorProto.FLOAT, shape)],
            [helper.make_tensor_value_info(name, TensorProto.FLOAT, [1, data.shape[1]])], initializer=self.inits)
        m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                              producer_name="mcugen-examples", doc_string=doc)
        m.ir_version = 8
        return m

    def start(self, calib):
        self.input_shape = calib.shape[1:]
        return calib.astype(np.float64), self.input_name
