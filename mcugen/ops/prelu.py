"""PRelu with one slope per channel (the last axis, NHWC), as TFLite's int8 PRELU
(reference_ops::BroadcastPrelu4DSlow; TFLM's prelu.cc): y = x for x >= 0, slope[c] * x
for x < 0. Keras PReLU(shared_axes=[1, 2]), torch nn.PReLU(num_parameters=C).

attrs: slope, float64 [C]; from a QDQ model (or a .tflite), also the model's int8 slope:
slope_q [C], slope_scale, slope_zero_point (per tensor, any zero point, as TFLM takes it).
Without them mcugen quantizes the slopes per tensor as TFLite's converter does for PRELU's
alpha: symmetric, scale max|slope| / 127, zero point 0.

int8, with v = q_x - zp_x and a = q_alpha[c] - zp_alpha:
    v >= 0: y = zp_out + MultiplyByQuantizedMultiplier(v, M1)       M1 = s_x / s_out
    v <  0: y = zp_out + MultiplyByQuantizedMultiplier(v * a, M2)   M2 = s_x s_alpha / s_out
then clamped to int8 and to a fused activation's bounds; M1 and M2 are QuantizeMultiplier of the real multipliers in float64
(from the float32 scales TFLite stores). |v * a| <= 255 * 255, so the product fits int32.
"""

import numpy as np

from mcugen.fixedpoint import quantize_multiplier, requantize, round_half_away
from mcugen.ops import common

KIND = "prelu"
TAKES_ACTIVATION = True  # a Relu/Clip after it (not in TFLite's PRELU) fuses into its output clamp
RESHAPE_READ = "last_axis"  # the slope follows the last axis
# CHANNEL_AXIS stays None: a BatchNormalization after a PRelu cannot fold into it.

C_KERNELS = {
    "s8": common.CKernel("mcugen_prelu_s8", (("mcugen_prelu_s8_params_t", "p", (
        "outer", "channels", "input_zp", "alpha_zp", "output_zp", "mult_pos", "shift_pos", "mult_neg", "shift_neg",
        "act_min", "act_max", "alpha")),), common.UNARY),
    "f32": common.CKernel("mcugen_prelu_f32", (("mcugen_prelu_f32_params_t", "p", ("outer", "channels", "act_min", "act_max",
                                                                                "slope")),),
                          common.UNARY),
}


def output_shape(node, in_shape):
    return tuple(in_shape)


def _per_element(x, slope):
    """The per-channel slope as x's shape (channels last)."""
    return np.broadcast_to(slope, x.shape)


def run_float(node, x):
    return common.clamp_float(np.where(x >= 0, x, x * _per_element(x, node.attrs["slope"])), node)


output_qparams = common.observed_qparams


def slope_quantization(node):
    """(int8 slopes, scale, zero point): the model's own, or max|slope| / 127 symmetric."""
    a = node.attrs
    if "slope_q" in a:
        return np.asarray(a["slope_q"], np.int64), float(a["slope_scale"]), int(a["slope_zero_point"])
    top = float(np.max(np.abs(a["slope"])))
    scale = float(np.float32(top / 127.0)) if top > 0 else 1.0  # TFLite stores float32 scales
    return np.clip(round_half_away(a["slope"] / scale), -127, 127).astype(np.int64), scale, 0


def quantize(node, qin, qout):
    alpha, s_alpha, zp_alpha = slope_quantization(node)
    mult_pos, shift_pos = quantize_multiplier(qin.scale / qout.scale)
    mult_neg, shift_neg = quantize_multiplier(qin.scale * s_alpha / qout.scale)
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(alpha=alpha.astype(np.int8), alpha_scale=s_alpha, alpha_zp=zp_alpha, input_zp=qin.zero_point,
                output_zp=qout.zero_point, act_min=act_min, act_max=act_max, mult_pos=mult_pos, shift_pos=shift_pos,
                mult_neg=mult_neg, shift_neg=shift_neg)


def run_int8(node, x):
    p = node.params
    v = x.astype(np.int64) - p["input_zp"]
    a = _per_element(v, p["alpha"].astype(np.int64) - p["alpha_zp"])
    out = np.where(v >= 0, requantize(v, p["mult_pos"], p["shift_pos"]), requantize(v * a, p["mult_neg"], p["shift_neg"]))
    return np.clip(out + p["output_zp"], p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    return [("alpha", "int8_t", node.params["alpha"])]


def float_arrays(node):
    return [("slope", node.attrs["slope"])]


def c_fields(node, in_shape, out_shape):
    channels = int(in_shape[-1])
    return dict(outer=int(np.prod(in_shape[1:])) // channels, channels=channels)


def access(node, in_shape, out_shape):
    """Byte by byte: byte i is read, then written (in place)."""
    return common.Access(np.arange(int(np.prod(in_shape[1:]))), 1)


def cost(node, in_shape, out_shape):
    return common.Cost(int(np.prod(in_shape[1:])), int(in_shape[-1]))


def error_bound(graph, node, e_in):
    """max(1, max|slope|) e_in (the function's slope), plus the slopes' rounding times the
    largest negative input, plus one output LSB (two roundings in the requantization)."""
    qin, qout = graph.tensors[node.input].q, graph.tensors[node.output].q
    p, slope = node.params, node.attrs["slope"]
    rounding = np.max(np.abs(p["alpha_scale"] * (p["alpha"].astype(np.float64) - p["alpha_zp"]) - slope))
    negative = qin.scale * (qin.zero_point + 128) + e_in
    return max(1.0, float(np.max(np.abs(slope)))) * e_in + negative * float(rounding) + qout.scale
