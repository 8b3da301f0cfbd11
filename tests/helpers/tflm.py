"""Comparing mcugen's int8 arithmetic with TFLite Micro's, op by op (tests/ops/test_tflm_*.py).

A test draws quantization parameters and inputs (seeded), asks TFLM for the output of a
one-op .tflite model (tflite_builder), builds the same op as mcugen's IR by hand (tensors
whose quantization the model fixes, weights as float attributes, as the importers leave
them), quantizes it, and compares mcugen's reference and its C kernel with TFLM byte for
byte. Import after pytest.importorskip("tflite_micro").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from helpers import COMPILERS, kernel_driver
from mcugen import ops
from mcugen.ir import Graph, Node, QParams, Tensor
from mcugen.quant import quantize

CC = COMPILERS[0] if COMPILERS else None
SAMPLES = 100  # random inputs per parameter set


def draw_q(rng, low=1e-3, high=1.0) -> QParams:
    """A random activation quantization: a scale that float32 holds exactly (TFLite stores
    float32), log-uniform in [low, high], and any zero point."""
    scale = float(np.float32(np.exp(rng.uniform(np.log(low), np.log(high)))))
    return QParams(scale, int(rng.integers(-128, 128)))


def pair(q: QParams) -> tuple[float, int]:
    return q.scale, q.zero_point


def samples(rng, shape, count=SAMPLES) -> np.ndarray:
    """Random int8 inputs; each sample in a random range of its own, so that means and sums
    spread over the whole range too instead of all sitting near the middle."""
    bounds = np.sort(rng.integers(-128, 128, size=(count, 2)), axis=1)
    u = rng.random(size=(count, *shape[1:]))
    low, high = (b.reshape(count, *[1] * (len(shape) - 1)) for b in bounds.T)
    return np.floor(low + u * (high - low + 1)).astype(np.int8)


def centered(rng, qin: QParams, low: float, high: float) -> QParams:
    """An output quantization whose scale is qin's times [low, high] and whose zero point
    keeps the input's range centered, so that outputs rarely saturate."""
    scale = float(np.float32(qin.scale * np.exp(rng.uniform(np.log(low), np.log(high)))))
    middle = qin.scale * (-0.5 - qin.zero_point)
    return QParams(scale, int(np.clip(np.round(-middle / scale), -128, 127)))


def quantized(node: Node, in_shapes, qins, qout) -> Graph:
    """A graph of the one node, its tensors fixed to the model's quantization, quantized by
    mcugen (no calibration: the parameters are all fixed)."""
    names = [f"x{i}" for i in range(len(in_shapes))]
    node.inputs, node.outputs = names, ["y"]
    out_shape = ops.get(node.op).output_shape(node, *in_shapes)
    # A second input has no producer in this graph: its quantization is set, not derived.
    tensors = {name: Tensor(name, tuple(shape), q, fixed=q) for name, shape, q in zip(names, in_shapes, qins)}
    tensors["y"] = Tensor("y", tuple(out_shape), fixed=qout)
    graph = quantize.quantize(Graph(tensors, [node], names[0], "y", source="tflm"), {})
    assert graph.tensors["y"].q == qout, "mcugen chose other output parameters than the model's"
    return graph


def run_int8(graph: Graph, *xs) -> np.ndarray:
    """The graph's one node's integer reference."""
    node = graph.nodes[0]
    return ops.get(node.op).run_int8(node, *xs)


@dataclass
class Comparison:
    """The outputs of TFLM and mcugen for each parameter set of one op."""

    kind: str
    cases: list  # kernel_driver.Case, one per parameter set, all its samples
    tflm: list  # TFLM's outputs, one array per case

    def add(self, graph: Graph, xs: list, want: np.ndarray) -> None:
        """One parameter set: mcugen's reference on xs must give TFLM's bytes, `want`."""
        got = run_int8(graph, *xs)
        np.testing.assert_array_equal(got.reshape(want.shape), want, err_msg=f"{self.kind}: {graph.nodes[0].params}")
        self.cases.append(kernel_driver.Case(self.kind, [graph.nodes[0]], list(xs)))
        self.tflm.append(want)

    def check_c(self) -> None:
        """The C kernel on the same inputs gives TFLM's bytes too (one build for all)."""
        if CC is None:
            return
        for case, got, want in zip(self.cases, kernel_driver.run(self.cases, CC), self.tflm):
            np.testing.assert_array_equal(got, want.reshape(-1), err_msg=f"{self.kind} in C: {case.describe()}")


def comparison(kind: str) -> Comparison:
    return Comparison(kind, [], [])


def weighted(kind: str, attrs: dict, w: np.ndarray, w_scales, bias: np.ndarray, s_in: float, axis: int) -> Node:
    """A weighted node as the importers leave a QDQ model's: float weight and bias, the
    model's weight scale per output channel (`axis` of w) and its int32 bias with its scale."""
    channels = w.shape[axis]
    scales = np.broadcast_to(np.asarray(w_scales, np.float64), (channels,)).copy()
    shape = [-1 if i == axis else 1 for i in range(w.ndim)]
    bias_scale = (np.float32(s_in) * scales.astype(np.float32)).astype(np.float64)
    return Node(kind, kind, [], [], dict(attrs, weight=w * scales.reshape(shape), bias=bias * bias_scale,
                                         weight_scale=scales, bias_q=bias.astype(np.int64), bias_scale=bias_scale))


def output_scale_for(rng, s_in: float, w_scales, taps: int) -> float:
    """An output scale at which typical sums spread over int8, some saturating."""
    spread = s_in * float(np.mean(w_scales)) * np.sqrt(taps) * 128 * 73 / 128
    return float(np.float32(spread * rng.uniform(0.3, 3.0)))
