"""TFLite's int8 element-wise kernels as tables: each one's integer algorithm, ported to
numpy and run on the 256 int8 inputs at compile time (ops/lut.py fills its table with it).

A table holds any int8 -> int8 function exactly, so a lut whose steps are one TFLite op,
with the parameters TFLite allows for it, computes exactly what TFLite computes:

    ()                 QUANTIZE int8 -> int8 (reference_ops::Requantize)
    ("clip", 0, inf)   RELU (ReluQuantized: requantized, then clamped at the output's zero)
    ("clip", 0, 6)     RELU6, same parameters in and out (Relu6Quantized: a clamp)
    ("sigmoid",)       LOGISTIC, output 1/256 and -128 (reference_integer_ops::Logistic)
    ("tanh",)          TANH, output 1/128 and 0 (reference_integer_ops::Tanh)
    ("hardswish",)     HARD_SWISH (reference_ops::HardSwish, in int16)
    ("leakyrelu", a)   LEAKY_RELU (reference_ops::QuantizeLeakyRelu)
    ("add_q", k, s)    ADD, SUB, MUL with a constant operand the model quantized: integer k
    ("sub_q", k, s)    (its stored value minus its zero point) at scale s; the arithmetic of
    ("mul_q", k, s)    ops/add.py and ops/mul.py, which is TFLite's for two tensors

The multipliers are computed as TFLM's Prepare functions compute them, in float32 where
they do. Any other step chain has no TFLite equivalent: `table` gives None.
"""

from __future__ import annotations

import math

import numpy as np

from mcugen import fixedpoint as fp
from mcugen.ir import QParams
from mcugen.ops import add

Q = np.arange(-128, 128, dtype=np.int64)  # the 256 int8 inputs, in table order
LOGISTIC_Q = QParams(1.0 / 256.0, -128)
TANH_Q = QParams(1.0 / 128.0, 0)
INPUT_INTEGER_BITS = 4  # LOGISTIC's and TANH's kInputIntegerBits: the input in Q4.27


def table(steps, qin: QParams, qout: QParams) -> np.ndarray | None:
    """The TFLite kernel's output for each int8 input, or None when no TFLite op computes
    `steps` from qin to qout."""
    steps = tuple(tuple(step) for step in steps)
    if steps == ():
        return _clamp(fp.requantize(Q - qin.zero_point, *fp.quantize_multiplier(qin.scale / qout.scale)) + qout.zero_point)
    if len(steps) != 1:
        return None
    name, *args = steps[0]
    if name == "clip" and tuple(args) == (0.0, math.inf):
        return _relu(qin, qout)
    if name == "clip" and tuple(args) == (0.0, 6.0) and qin == qout:
        return _relu6(qin)
    if name == "sigmoid" and _same(qout, LOGISTIC_Q):
        return _logistic(qin)
    if name == "tanh" and _same(qout, TANH_Q):
        return _tanh(qin)
    if name == "hardswish":
        return _hard_swish(qin, qout)
    if name == "leakyrelu":
        return _leaky_relu(qin, qout, args[0])
    if name in ("add_q", "sub_q"):
        return _add_constant(qin, qout, *args, sign=1 if name == "add_q" else -1)
    if name == "mul_q":
        return _mul_constant(qin, qout, *args)
    return None


def _add_constant(qin, qout, k, scale, sign):
    """reference_integer_ops::Add (SUB: the second input's multiplier negated), the
    constant as the second input: its integer is k + 0 at `scale`."""
    p = add.multipliers(qin, QParams(scale, 0), qout)
    scaled_x = fp.requantize((Q - p["a_zp"]) << add.LEFT_SHIFT, p["a_mult"], p["a_shift"])
    scaled_k = fp.requantize(np.int64(k) << add.LEFT_SHIFT, p["b_mult"], p["b_shift"])
    return _clamp(fp.requantize(scaled_x + sign * scaled_k, p["output_mult"], p["output_shift"]) + p["output_zp"])


def _mul_constant(qin, qout, k, scale):
    """reference_integer_ops::Mul: (x - zp) * k, one multiplier s_in * s_k / s_out."""
    mult, shift = fp.quantize_multiplier(qin.scale * scale / qout.scale)
    return _clamp(fp.requantize((Q - qin.zero_point) * k, mult, shift) + qout.zero_point)


def _same(q: QParams, fixed: QParams) -> bool:
    return np.float32(q.scale) == np.float32(fixed.scale) and q.zero_point == fixed.zero_point


def _clamp(v):
    return np.clip(v, -128, 127)


def _f32(*values):
    return [np.float32(v) for v in values]


def _quantize_f32(value, q: QParams) -> int:
    """zp + round(value / scale) in float32, as TFLite quantizes an activation bound."""
    return q.zero_point + int(fp.round_half_away(np.float32(value) / np.float32(q.scale)))


def _relu(qin, qout):
    """activations.cc: requantize by s_in / s_out, then clamp below at the output's zero."""
    mult, shift = fp.quantize_multiplier(qin.scale / qout.scale)
    out = qout.zero_point + fp.requantize(Q - qin.zero_point, mult, shift)
    return np.clip(out, max(-128, _quantize_f32(0.0, qout)), 127)


def _relu6(q):
    """activations.cc: a clamp to [zp, quantized 6] on the input's own parameters."""
    return np.clip(Q, q.zero_point, min(127, _quantize_f32(6.0, q)))


def _input_to_q4(qin):
    """LOGISTIC's and TANH's Prepare: s_in * 2^27 as frexp's fraction in Q31 and a shift,
    and the radius beyond which the output saturates."""
    frac, shift = math.frexp(qin.scale * (1 << (31 - INPUT_INTEGER_BITS)))
    mult = int(fp.wrap32(fp.round_half_away(frac * (1 << 31))))
    radius = math.floor(((1 << INPUT_INTEGER_BITS) - 1) * 2.0 ** (31 - INPUT_INTEGER_BITS - shift))
    return mult, shift, radius


def _saturating_unary(qin, function, output_bits, zero_point):
    """reference_integer_ops::Logistic and Tanh: saturate beyond the radius, else the input
    in Q4.27, gemmlowp's function in Q0.31, rounded to `output_bits` fractional bits."""
    mult, shift, radius = _input_to_q4(qin)
    x = Q - qin.zero_point
    inside = function(fp.requantize(x, mult, shift), INPUT_INTEGER_BITS)
    out = _clamp(fp.rounding_divide_by_pot(inside, 31 - output_bits) + zero_point)
    return np.where(x <= -radius, -128, np.where(x >= radius, 127, out))


def _logistic(qin):
    return _saturating_unary(qin, fp.logistic, 8, LOGISTIC_Q.zero_point)


def _tanh(qin):
    return _saturating_unary(qin, fp.tanh, 7, TANH_Q.zero_point)


# ---------------------------------------------------------------------------- HARD_SWISH
# reference_ops::HardSwish works in int16: gemmlowp's 16-bit SaturatingRoundingDoublingHighMul,
# a truncating one, saturating shifts. Its multipliers: hard_swish_common.cc.


def _downscale_to_int16(mult: int) -> int:
    """TFLite's DownScaleInt32ToInt16Multiplier: the Q31 multiplier rounded to Q15."""
    return 32767 if mult >= fp.INT32_MAX - (1 << 15) else (mult + (1 << 15)) >> 16


def _srdhm16(a, b):
    """gemmlowp's int16 SaturatingRoundingDoublingHighMul: a b / 2^15, ties up."""
    ab = np.asarray(a, np.int64) * np.asarray(b, np.int64)
    out = fp.div_trunc(ab + np.where(ab >= 0, 1 << 14, 1 - (1 << 14)), 1 << 15)
    return np.where((np.asarray(a) == -32768) & (np.asarray(b) == -32768), 32767, out)


def _sdhm16(a, b):
    """TFLite's SaturatingDoublingHighMul: a b / 2^15, truncated toward zero."""
    return fp.div_trunc(np.asarray(a, np.int64) * np.asarray(b, np.int64), 1 << 15)


def _left16(x, amount):
    """TFLite's SaturatingLeftShift of an int16."""
    return np.clip(np.asarray(x, np.int64) << amount, -32768, 32767)


def _hard_swish(qin, qout):
    s_in, s_out = _f32(qin.scale, qout.scale)
    hires = np.float32(1.0 / 128.0) * s_in
    out_mult, out_exp = fp.quantize_multiplier(float(hires / s_out))
    relu_mult, relu_exp = fp.quantize_multiplier(float(hires / np.float32(3.0 / 32768.0)))
    if out_exp > 0 or min(out_exp, relu_exp) < -15:
        return None  # TFLM refuses the first; int16 shifts beyond 15 are no longer TFLite's rounding
    out_mult, relu_mult = _downscale_to_int16(out_mult), _downscale_to_int16(relu_mult)
    x = (Q - qin.zero_point) * (1 << 7)  # the input on the "hires" scale, s_in / 128
    preshift = _srdhm16(x, out_mult)
    reluish = _left16(x, relu_exp - 1) if relu_exp > 0 else x
    reluish = _srdhm16(reluish, relu_mult)
    if relu_exp > 0:
        reluish = _left16(reluish, 1)
    elif relu_exp < 0:
        reluish = fp.rounding_divide_by_pot(reluish, -relu_exp)
    reluish = (reluish + (1 << 15)) >> 1  # from [-1, 1] to [0, 1] in Q0.15
    out = fp.rounding_divide_by_pot(_sdhm16(reluish, preshift), -out_exp) + qout.zero_point
    return _clamp(out)


def _leaky_relu(qin, qout, alpha):
    """leaky_relu_common.cc: s_in alpha / s_out and s_in / s_out, in float32."""
    s_in, s_out, a = _f32(qin.scale, qout.scale, alpha)
    alpha_mult = fp.quantize_multiplier(float(s_in * a / s_out))
    identity_mult = fp.quantize_multiplier(float(s_in / s_out))
    x = Q - qin.zero_point
    out = np.where(x >= 0, fp.requantize(x, *identity_mult), fp.requantize(x, *alpha_mult))
    return _clamp(out + qout.zero_point)
