"""Residual Add of two int8 tensors of the same shape, as TFLite's int8 ADD.

Both inputs are brought to a common scale, twice the larger input scale, with 20 bits of
headroom: q_i' = ((q_i - zp_i) << 20) * m_i, m_i = s_i / (2 max(s_a, s_b)) <= 1/2. The sum
is then requantized to the output: (q_a' + q_b') * s_common / (2**20 s_out), + zp_out,
clamped to the fused activation. Each product is a Q31 multiplier + shift with TFLite's
rounding (fixedpoint.requantize). |q - zp| <= 255, so every step fits int32.
"""

import numpy as np

from mcugen.fixedpoint import quantize_multiplier, requantize
from mcugen.ops import common

KIND = "add"
TAKES_ACTIVATION = True
RESHAPE_READ = "flat"
LEFT_SHIFT = 20  # TFLite's headroom for 8-bit inputs


C_KERNELS = {
    "s8": common.CKernel("mcugen_add_s8", (("mcugen_add_s8_params_t", "p", (
        "size", "a_zp", "a_mult", "a_shift", "b_zp", "b_mult", "b_shift", "output_zp", "output_mult",
        "output_shift", "act_min", "act_max")),), common.BINARY),
    "f32": common.CKernel("mcugen_add_f32", (("mcugen_add_f32_params_t", "p", ("size", "act_min", "act_max")),),
                          common.BINARY),
}


def output_shape(node, a_shape, b_shape):
    return tuple(a_shape)


def run_float(node, a, b):
    return common.clamp_float(a + b.reshape(a.shape), node)


output_qparams = common.observed_qparams


def quantize(node, qa, qb, qout):
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(multipliers(qa, qb, qout), act_min=act_min, act_max=act_max)


def multipliers(qa, qb, qout) -> dict:
    """TFLite's ADD parameters (also a lut's add of a quantized constant: ops/tflite_tables.py)."""
    twice_max = 2.0 * max(qa.scale, qb.scale)
    (ma, sa), (mb, sb) = quantize_multiplier(qa.scale / twice_max), quantize_multiplier(qb.scale / twice_max)
    mo, so = quantize_multiplier(twice_max / ((1 << LEFT_SHIFT) * qout.scale))
    return dict(a_zp=qa.zero_point, a_mult=ma, a_shift=sa, b_zp=qb.zero_point, b_mult=mb, b_shift=sb,
                output_zp=qout.zero_point, output_mult=mo, output_shift=so)


def run_int8(node, a, b):
    p = node.params
    scaled_a = requantize((a.astype(np.int64) - p["a_zp"]) << LEFT_SHIFT, p["a_mult"], p["a_shift"])
    scaled_b = requantize((b.astype(np.int64).reshape(a.shape) - p["b_zp"]) << LEFT_SHIFT, p["b_mult"], p["b_shift"])
    out = requantize(scaled_a + scaled_b, p["output_mult"], p["output_shift"]) + p["output_zp"]
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    return []


def c_fields(node, a_shape, b_shape, out_shape):
    return dict(size=int(np.prod(out_shape[1:])))


def access(node, a_shape, b_shape, out_shape):
    """Element by element (the planner keeps both inputs apart from the output anyway)."""
    return common.Access(np.arange(int(np.prod(a_shape[1:]))), 1)


def row_window(node) -> tuple[int, int, int]:
    """(kernel_h, stride_h, pad_top): element by element, so one output row reads its own
    row of each input (a fused segment's residual add, planner/rows.py: the segment's row
    from its window, the block input's from the arena at the output row)."""
    return 1, 1, 0


def row_fields(node, in_shape) -> dict:
    """A row's call: one row's values."""
    return dict(size=str(int(np.prod(in_shape[2:]))))


def cost(node, a_shape, b_shape, out_shape):
    return common.Cost(int(np.prod(out_shape[1:])), 0)


def error_bound(graph, node, e_a, e_b):
    """Both errors, plus one output LSB (both inputs are rescaled with 20 bits of headroom,
    then requantized)."""
    return e_a + e_b + graph.tensors[node.output].q.scale
