"""A worst-case bound on how far mcugen's int8 output can be from the float model, derived
from the quantization scales alone. The conformance suite (scripts/conformance.py) uses it
as its int8 tolerance: a case passes when every output element is within the bound.

The bound carries a max-norm error e (in real units) from the input through the graph,
layer by layer: e_out = L * e_in + own, where L is the layer's Lipschitz constant in the
max norm (how much it can amplify an error) and `own` is what the layer's own
quantization adds. It assumes the calibration covers the inputs, so nothing is clipped (the
suite calibrates on the test's own inputs), and that the int8 kernels do what the numeric
contract says (the C is bit-exact with the reference; verify checks that separately).

    input                 half an input LSB: rounding to the nearest int8
    conv, depthwise,      L = max_c sum|w_c| (the filter's L1 norm); own = X * max_c sum|w^_c - w_c|
    pointwise, fully      (each weight's rounding, X the largest input magnitude the input
    connected             scale can hold) + half a bias LSB (s_in s_w / 2) + one output LSB
                          (requantization rounds twice: the doubling high multiply, the shift)
    add                   e_a + e_b + one output LSB (both inputs are rescaled with 20 bits
                          of headroom, then requantized)
    mul                   A e_b + B e_a + e_a e_b + one output LSB (A, B: the largest magnitudes)
    lut (tables)          L = the function's largest slope over the input's range, measured on
                          a fine grid; own = half an output LSB (a table entry is rounded once)
    avg_pool, global      e + half an LSB (the integer mean is rounded once; same scale)
    max_pool              e (a maximum is 1-Lipschitz and needs no rounding)
    softmax               e / 2 (the softmax Jacobian's max-norm is at most 1/2) + the exp
                          table's rounding, (0.5 + 0.5 n) / 2^15 for n classes + one output LSB
                          (rounding, and the clamp of p = 1 to 127/256 + 1/2)

Fused activations are clamps, 1-Lipschitz, applied alike to both results: they add nothing.
"""

from __future__ import annotations

import numpy as np

from mcugen import ops
from mcugen.ir import Graph, QParams

CHANNEL_AXIS = {"conv": 0, "depthwise_conv": 2, "pointwise_conv": 0, "fully_connected": 0}
GRID = 1 << 14  # points per table's input range when measuring its slope


def largest_magnitude(q: QParams) -> float:
    """The largest |real value| an int8 tensor with these parameters can hold."""
    return q.scale * max(127 - q.zero_point, q.zero_point + 128)


def output_bound(graph: Graph) -> float:
    """The bound on max |int8 output (dequantized) - float output| for the quantized graph."""
    errors = {graph.input: graph.tensors[graph.input].q.scale / 2}
    for node in graph.nodes:
        errors[node.output] = RULES[node.op](graph, node, *(errors[name] for name in node.inputs))
    return errors[graph.output]


def _q(graph, name) -> QParams:
    return graph.tensors[name].q


def _weighted(graph, node, e_in):
    qin, qout = _q(graph, node.input), _q(graph, node.output)
    w, p = node.attrs["weight"], node.params
    axis = CHANNEL_AXIS[node.op]
    others = tuple(i for i in range(w.ndim) if i != axis)
    shape = [-1 if i == axis else 1 for i in range(w.ndim)]
    multiplier = p["mult"].astype(np.float64) * np.exp2(p["shift"].astype(np.float64) - 31)
    w_scale = multiplier * qout.scale / qin.scale  # M = s_in s_w / s_out, as quantize_weighted set it
    rounding = np.abs(p["weight"] * w_scale.reshape(shape) - w).sum(axis=others)
    lipschitz = np.abs(w).sum(axis=others).max()
    own = largest_magnitude(qin) * rounding.max() + (qin.scale * w_scale).max() / 2 + qout.scale
    return lipschitz * e_in + own


def _add(graph, node, e_a, e_b):
    return e_a + e_b + _q(graph, node.output).scale


def _mul(graph, node, e_a, e_b):
    a, b = (largest_magnitude(_q(graph, name)) for name in node.inputs)
    return a * e_b + b * e_a + e_a * e_b + _q(graph, node.output).scale


def _lut(graph, node, e_in):
    reach = largest_magnitude(_q(graph, node.input)) + e_in
    x = np.linspace(-reach, reach, GRID)
    slope = np.max(np.abs(np.diff(ops.get("lut").run_float(node, x))) / (x[1] - x[0]))
    return slope * e_in + _q(graph, node.output).scale / 2


def _mean(graph, node, e_in):
    return e_in + _q(graph, node.output).scale / 2


def _max(graph, node, e_in):
    return e_in


def _softmax(graph, node, e_in):
    classes = graph.shape(node.input)[-1]
    return e_in / 2 + (0.5 + 0.5 * classes) / 32768 + _q(graph, node.output).scale


RULES = {
    "conv": _weighted, "depthwise_conv": _weighted, "pointwise_conv": _weighted, "fully_connected": _weighted,
    "add": _add, "mul": _mul, "lut": _lut, "avg_pool": _mean, "global_avg_pool": _mean, "max_pool": _max,
    "softmax": _softmax,
}
assert set(RULES) == set(ops.REGISTRY), "every op kind needs an error rule (mcugen/errorbound.py)"
