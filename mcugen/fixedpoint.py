"""Fixed-point arithmetic of the numeric contract, in numpy: TFLite's (docs/numeric-contract.md).

These are TFLite's reference functions (gemmlowp's SaturatingRoundingDoublingHighMul and
RoundingDivideByPOT, TFLite's QuantizeMultiplier and its double-rounding
MultiplyByQuantizedMultiplier, which the tflite-micro wheel uses: tests/ops/test_tflm_*.py),
written so that every step is the same integer operation the generated C performs
(mcugen/backend/kernels/mcugen_common_s8.h). The C and numpy results are therefore
identical, not merely close. Below them, gemmlowp's fixed-point exp, 1/(1+x), logistic and
tanh, on which TFLite's int8 SOFTMAX, LOGISTIC and TANH are built.

Deliberate differences from TFLite: for a multiplier >= 1 (shift > 0) TFLite computes
`x * (1 << shift)` in int32, which is undefined behaviour in C on overflow. Here the left
shift is done in 64 bits and saturated to int32, in both the C and this reference. And a
multiplier beyond 2**30 (a layer whose output range is far narrower than its input's,
such as one with all-zero weights) is stored as the largest one, so the result
saturates instead of being refused.
"""

from __future__ import annotations

import math

import numpy as np

INT32_MIN = -(2**31)
INT32_MAX = 2**31 - 1


def quantize_multiplier(real: float) -> tuple[int, int]:
    """TFLite's QuantizeMultiplier: real ~= mult * 2**(shift - 31), |mult| in [2**30, 2**31].
    A negative real (LeakyRelu's negative alpha) gives a negative mult, as in TFLite."""
    if real == 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    mult = int(round_half_away(frac * (1 << 31)))
    if mult == 1 << 31:
        mult //= 2
        shift += 1
    if shift < -31:  # too small to represent: the product rounds to zero anyway
        return 0, 0
    if shift > 30:  # any non-zero accumulator saturates: keep the largest multiplier there is
        return (INT32_MAX if real > 0 else -INT32_MAX), 30
    return mult, int(shift)


def fold_count(mult: int, shift: int, count: int) -> tuple[int, int]:
    """TFLite's MEAN (reference_ops::QuantizedMeanOrSum): 1/count folded into the Q31
    multiplier of s_in/s_out, keeping as many bits as the shift allows (k <= log2 count)."""
    k = min(count.bit_length() - 1, 32, 31 + shift)
    return (mult << k) // count, shift - k


def round_half_away(x):
    """Round to nearest, ties away from zero (C's round(), TFLite's choice)."""
    return np.sign(x) * np.floor(np.abs(x) + 0.5)


def div_trunc(a, b):
    """Integer division truncating toward zero, as C's `/` does."""
    a = np.asarray(a, dtype=np.int64)
    return np.sign(a) * (np.abs(a) // b)


def rounding_div(a, count: int):
    """Divide by a positive count, rounding half away from zero (TFLite's average pool)."""
    a = np.asarray(a, dtype=np.int64)
    return div_trunc(np.where(a > 0, a + count // 2, a - count // 2), count)


def saturating_rounding_doubling_high_mul(a, b):
    """gemmlowp SRDHM: a * b / 2**31 rounded to nearest, ties toward +infinity (the nudge
    is 1 - 2**30 for a negative product and the division truncates, so -0.5 -> 0), saturating
    the single overflow case."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    ab = a * b
    nudge = np.where(ab >= 0, 1 << 30, 1 - (1 << 30))
    result = div_trunc(ab + nudge, 1 << 31)
    overflow = (a == INT32_MIN) & (b == INT32_MIN)
    return np.where(overflow, INT32_MAX, result)


def rounding_divide_by_pot(x, exponent):
    """gemmlowp RoundingDivideByPOT: x / 2**exponent, rounding half away from zero."""
    x = np.asarray(x, dtype=np.int64)
    exponent = np.asarray(exponent, dtype=np.int64)
    mask = (np.int64(1) << exponent) - 1
    remainder = x & mask
    threshold = (mask >> 1) + (x < 0)
    return (x >> exponent) + (remainder > threshold)


def requantize(acc, mult, shift):
    """MultiplyByQuantizedMultiplier: acc * mult * 2**(shift - 31), TFLite's rounding."""
    acc = np.asarray(acc, dtype=np.int64)
    shift = np.asarray(shift, dtype=np.int64)
    left = np.maximum(shift, 0)
    right = np.maximum(-shift, 0)
    scaled = np.clip(acc * (np.int64(1) << left), INT32_MIN, INT32_MAX)
    return rounding_divide_by_pot(saturating_rounding_doubling_high_mul(scaled, mult), right)


# ---------------------------------------------------------------------------- gemmlowp
# gemmlowp's fixed-point functions (fixedpoint/fixedpoint.h) on int32 raw values held in
# int64 arrays. A FixedPoint<int32, I> has I integer bits: raw / 2**(31 - I) is its value.
# Their products are SaturatingRoundingDoublingHighMul, their sums int32 sums.

EXP_BARREL = ((-2, 1672461947), (-1, 1302514674), (0, 790015084), (1, 290630308), (2, 39332535), (3, 720401),
              (4, 242))  # exp(-2**e) in Q0.31, one per bit of the input's integer part


def wrap32(x):
    """int32 wraparound of exact integers (C's int32 arithmetic on two's complement)."""
    return ((np.asarray(x, dtype=np.int64) + 2**31) & 0xFFFFFFFF) - 2**31


def saturating_left_shift(x, exponent: int):
    """gemmlowp SaturatingRoundingMultiplyByPOT with a positive exponent: x * 2**exponent,
    saturating (a negative exponent is a RoundingDivideByPOT)."""
    x = np.asarray(x, dtype=np.int64)
    if exponent <= 0:
        return rounding_divide_by_pot(x, -exponent)
    threshold = (1 << (31 - exponent)) - 1
    return np.where(x > threshold, INT32_MAX, np.where(x < -threshold, INT32_MIN, x << exponent))


def _mul(a, b):
    return saturating_rounding_doubling_high_mul(a, b)


def exp_on_interval_between_negative_one_quarter_and_0_excl(a):
    """exp(a) for a in [-1/4, 0), Q0.31 in and out: a Taylor expansion around -1/8."""
    x = wrap32(np.asarray(a, dtype=np.int64) + (1 << 28))
    x2 = _mul(x, x)
    x3 = _mul(x2, x)
    x4_over_4 = rounding_divide_by_pot(_mul(x2, x2), 2)
    tail = rounding_divide_by_pot(wrap32(_mul(wrap32(x4_over_4 + x3), 715827883) + x2), 1)
    return wrap32(1895147668 + _mul(1895147668, wrap32(x + tail)))


def exp_on_negative_values(a, integer_bits: int):
    """exp(a) for a <= 0 with `integer_bits` integer bits (at most 5), Q0.31 out: the
    fraction modulo 1/4 by the polynomial, then one factor exp(-2**e) per set bit."""
    assert integer_bits <= 5, "gemmlowp clamps below -32 only for more integer bits"
    a = np.asarray(a, dtype=np.int64)
    fractional = 31 - integer_bits
    quarter = 1 << (fractional - 2)
    a_mod_quarter_minus_quarter = (a & (quarter - 1)) - quarter
    result = exp_on_interval_between_negative_one_quarter_and_0_excl(
        saturating_left_shift(a_mod_quarter_minus_quarter, integer_bits))
    remainder = a_mod_quarter_minus_quarter - a
    for exponent, multiplier in EXP_BARREL:
        if integer_bits > exponent:
            result = np.where(remainder & (1 << (fractional + exponent)), _mul(result, multiplier), result)
    return np.where(a == 0, INT32_MAX, result)


def rounding_half_sum(a, b):
    """gemmlowp RoundingHalfSum: (a + b) / 2, rounded half away from zero."""
    total = np.asarray(a, dtype=np.int64) + np.asarray(b, dtype=np.int64)
    return div_trunc(total + np.where(total >= 0, 1, -1), 2)


def _newton_reciprocal(a):
    """1 / (1 + a) for a in [0, 1) in Q0.31, as Q2.29: Newton-Raphson on half the
    denominator, three steps from 48/17 - 32/17 d."""
    half_denominator = rounding_half_sum(a, INT32_MAX)
    x = wrap32(1515870810 + _mul(half_denominator, -1010580540))
    for _ in range(3):
        one_minus = wrap32((1 << 29) - _mul(half_denominator, x))
        x = wrap32(x + saturating_left_shift(_mul(x, one_minus), 2))
    return x


def one_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp's 1 / (1 + a), Q0.31 in and out."""
    return saturating_left_shift(_newton_reciprocal(a), 1)


def one_minus_x_over_one_plus_x_for_x_in_0_1(a):
    """gemmlowp's (1 - a) / (1 + a), Q0.31 in and out."""
    return saturating_left_shift(wrap32(_newton_reciprocal(a) - (1 << 29)), 2)


def logistic(a, integer_bits: int):
    """gemmlowp::logistic, Q0.31 out: 1 / (1 + exp(-|a|)), mirrored for a < 0."""
    a = np.asarray(a, dtype=np.int64)
    positive = one_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-np.abs(a), integer_bits))
    return np.where(a == 0, 1 << 30, np.where(a > 0, positive, wrap32(INT32_MAX - positive)))


def tanh(a, integer_bits: int):
    """gemmlowp::tanh, Q0.31 out: (1 - exp(-2|a|)) / (1 + exp(-2|a|)), odd."""
    a = np.asarray(a, dtype=np.int64)
    t = one_minus_x_over_one_plus_x_for_x_in_0_1(exp_on_negative_values(-np.abs(a), integer_bits + 1))
    return np.where(a == 0, 0, np.where(a < 0, -t, t))
