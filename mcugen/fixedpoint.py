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
    """TFLite's QuantizeMultiplier: real ~= mult * 2**(shift - 31), mult in [2**30, 2**31)."""
    if real <= 0.0:
        return 0, 0
    frac, shift = math.frexp(real)
    mult = round_half_away(frac * (1 << 31))
    if mult == 1 << 31:
        mult //= 2
        shift += 1
    if shift < -31:  # too small to represent: the product rounds to zero anyway
        return 0, 0
    if shift > 30:  # any non-zero accumulator saturates: keep the largest multiplier there is
        return INT32_MAX, 30
    return int(mult), int(shift)


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
