"""Element-wise Mul of two int8 tensors, as TFLite's int8 MUL: the squeeze-and-excitation
scaling x[N,H,W,C] * s[N,1,1,C], or two tensors of the same shape.

The second input holds either as many values as the first, or one per channel (the last
axis, NHWC), broadcast over the pixels. out = zp_out + (q_a - zp_a)(q_b - zp_b) * M with
M = s_a s_b / s_out as a Q31 multiplier and shift, then the fused activation's clamp.
|q - zp| <= 255, so the product fits int32.
"""

import numpy as np

from mcugen.fixedpoint import quantize_multiplier, requantize
from mcugen.ops import common

KIND = "mul"
TAKES_ACTIVATION = True
RESHAPE_READ = "flat"


C_KERNELS = {
    "s8": common.CKernel("mcugen_mul_s8", (("mcugen_mul_s8_params_t", "p", (
        "outer", "inner", "a_zp", "b_zp", "output_zp", "mult", "shift", "act_min", "act_max")),), common.BINARY),
    "f32": common.CKernel("mcugen_mul_f32", (("mcugen_mul_f32_params_t", "p", ("outer", "inner", "act_min", "act_max")),),
                          common.BINARY),
}


def output_shape(node, a_shape, b_shape):
    return tuple(a_shape)


def _broadcast(a, b):
    """b [N, ...] as a's shape: the same values, or one per channel repeated per pixel."""
    inner = int(np.prod(b.shape[1:]))
    flat = a.reshape(len(a), -1, inner)
    return np.broadcast_to(b.reshape(len(b), 1, inner), flat.shape).reshape(a.shape)


def run_float(node, a, b):
    return common.clamp_float(a * _broadcast(a, b), node)


output_qparams = common.observed_qparams


def quantize(node, qa, qb, qout):
    mult, shift = quantize_multiplier(qa.scale * qb.scale / qout.scale)
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(a_zp=qa.zero_point, b_zp=qb.zero_point, output_zp=qout.zero_point, mult=mult, shift=shift,
                act_min=act_min, act_max=act_max)


def run_int8(node, a, b):
    p = node.params
    product = (a.astype(np.int64) - p["a_zp"]) * (_broadcast(a, b).astype(np.int64) - p["b_zp"])
    out = requantize(product, p["mult"], p["shift"]) + p["output_zp"]
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    return []


def c_fields(node, a_shape, b_shape, out_shape):
    inner = int(np.prod(b_shape[1:]))
    return dict(outer=int(np.prod(a_shape[1:])) // inner, inner=inner)


def access(node, a_shape, b_shape, out_shape):
    """Element by element over the first input (the planner keeps both inputs apart anyway)."""
    return common.Access(np.arange(int(np.prod(a_shape[1:]))), 1)


def cost(node, a_shape, b_shape, out_shape):
    return common.Cost(int(np.prod(out_shape[1:])), 0)


def error_bound(graph, node, e_a, e_b):
    """A e_b + B e_a + e_a e_b + one output LSB (A, B: the inputs' largest magnitudes)."""
    a, b = (common.largest_magnitude(graph.tensors[name].q) for name in node.inputs)
    return a * e_b + b * e_a + e_a * e_b + graph.tensors[node.output].q.scale
