"""Softmax over the last axis, int8 in, int8 out with scale 1/256 and zero point -128, as
TFLite's int8 SOFTMAX (reference_ops::Softmax; CMSIS-NN's arm_softmax_s8 is the same in C).

With d = x - max(x) <= 0, rescaled to Q5.26 by beta * s_in (a Q31 multiplier and a left
shift), e = gemmlowp's fixed-point exp(d) in Q0.31. The row's sum of e / 2^12 (Q12.19)
gives 1/sum by gemmlowp's Newton-Raphson reciprocal; each output is e / sum rounded to
1/256, - 128. Differences below diff_min count as exp 0 (their real exp is < e^-15.5).
"""

import math

import numpy as np

from mcugen.fixedpoint import (
    INT32_MAX,
    exp_on_negative_values,
    one_over_one_plus_x_for_x_in_0_1,
    quantize_multiplier,
    requantize,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    wrap32,
)
from mcugen.ir import QParams
from mcugen.ops import common

KIND = "softmax"
RESHAPE_READ = "last_axis"
OUTPUT_Q = QParams(1.0 / 256.0, -128)  # TFLite's fixed softmax output quantization
BETA = 1.0  # ONNX's Softmax has none
DIFF_INTEGER_BITS = 5  # TFLite's kScaledDiffIntegerBits: d in Q5.26
SUM_INTEGER_BITS = 12  # TFLite's kAccumulationIntegerBits: the sum in Q12.19


C_KERNELS = {
    "s8": common.CKernel("mcugen_softmax_s8", (("mcugen_softmax_s8_params_t", "p", (
        "rows", "classes", "input_mult", "input_shift", "diff_min")),), common.UNARY),
    "f32": common.CKernel("mcugen_softmax_f32", (("mcugen_softmax_f32_params_t", "p", ("rows", "classes")),),
                          common.UNARY),
}


def output_shape(node, in_shape):
    return tuple(in_shape)


def run_float(node, x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def output_qparams(node, qin, observed):
    return OUTPUT_Q


def quantize(node, qin, qout):
    """TFLite's PreprocessSoftmaxScaling and CalculateInputRadius. TFLite refuses an input
    scale below 2^-26 (a multiplier < 1); mcugen takes it, as a right shift."""
    real = min(BETA * qin.scale * (1 << (31 - DIFF_INTEGER_BITS)), 2.0**31 - 1)
    mult, shift = quantize_multiplier(real)
    radius = ((1 << DIFF_INTEGER_BITS) - 1) * 2.0 ** (31 - DIFF_INTEGER_BITS - shift)
    return dict(input_mult=mult, input_shift=shift, diff_min=-min(math.floor(radius), 256))


def run_int8(node, x):
    p = node.params
    x = x.astype(np.int64)
    diff = x - x.max(axis=-1, keepdims=True)
    e = exp_on_negative_values(requantize(diff, p["input_mult"], p["input_shift"]), DIFF_INTEGER_BITS)
    e = np.where(diff >= p["diff_min"], e, 0)  # dropped: its output is -128
    # Saturated where TFLite's int32 sum would overflow (4,096 classes near the maximum):
    # from 2^28 on every output is 0 anyway.
    total = np.minimum(rounding_divide_by_pot(e, SUM_INTEGER_BITS).sum(axis=-1, keepdims=True), INT32_MAX)
    headroom = 32 - np.frexp(total.astype(np.float64))[1]  # leading zeros of the sum (> 0: it holds exp(0))
    scale = one_over_one_plus_x_for_x_in_0_1(wrap32((total << headroom) - 2**31))
    exponent = SUM_INTEGER_BITS - headroom + 31 - 8  # to 1/256 (beyond 31, where TFLite stops, every output is 0)
    out = rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scale, e), exponent) + OUTPUT_Q.zero_point
    return np.clip(out, -128, 127).astype(np.int8)


def arrays(node):
    return []


def c_fields(node, in_shape, out_shape):
    return dict(rows=int(np.prod(in_shape[:-1])), classes=in_shape[-1])


def access(node, in_shape, out_shape):
    """Row by row; each row is read whole (max, sum) before it is written."""
    rows, classes = int(np.prod(in_shape[:-1])), in_shape[-1]
    return common.Access(np.arange(rows) * classes, classes)


def cost(node, in_shape, out_shape):
    return common.Cost(0, 0)


def error_bound(graph, node, e_in):
    """e / 2 (the softmax Jacobian's max-norm is at most 1/2) + 2^-16 per class and one
    (the fixed-point exp is within 2^-22, each term of the sum is rounded to 2^-20, the
    reciprocal is within 2^-28, and the sum is at least 1; a difference below diff_min,
    dropped, has exp < e^-15.5 < 2^-22) + one output LSB (rounding, and the clamp of
    p = 1 to 255/256)."""
    classes = graph.shape(node.input)[-1]
    return e_in / 2 + (classes + 1) / 65536 + graph.tensors[node.output].q.scale
