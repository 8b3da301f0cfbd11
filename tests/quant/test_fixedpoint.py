"""The fixed-point helpers against exact rational arithmetic (Python integers), and
gemmlowp's fixed-point functions against their float ones."""

import math
from fractions import Fraction

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from mcugen.fixedpoint import (
    INT32_MAX,
    INT32_MIN,
    exp_on_negative_values,
    fold_count,
    logistic,
    one_over_one_plus_x_for_x_in_0_1,
    quantize_multiplier,
    requantize,
    rounding_div,
    rounding_divide_by_pot,
    saturating_rounding_doubling_high_mul,
    tanh,
)

i32 = st.integers(INT32_MIN, INT32_MAX)


def round_half_away(q: Fraction) -> int:
    n = abs(q.numerator) * 2 + q.denominator
    r = n // (2 * q.denominator)
    return r if q >= 0 else -r


def round_half_up(q: Fraction) -> int:
    return math.floor(q + Fraction(1, 2))


# Exact ties a*b = (k + 1/2) * 2**31 are rare among random pairs: draw them on purpose too.
tie_pairs = st.tuples(st.integers(-(2**15), 2**15), st.sampled_from([1, -1])).map(
    lambda kb: ((2 * kb[0] + 1) * kb[1], (2**30) * kb[1]))


@given(st.one_of(st.tuples(i32, i32), tie_pairs))
def test_srdhm_is_round_half_up_of_product_over_2_31(ab):
    """gemmlowp's nudge (2**30, or 1 - 2**30 for a negative product, then a division that
    truncates) rounds a tie toward +infinity: 0.5 -> 1 but -0.5 -> 0."""
    a, b = ab
    got = int(saturating_rounding_doubling_high_mul(a, b))
    if a == b == INT32_MIN:
        assert got == INT32_MAX
    else:
        assert got == round_half_up(Fraction(a * b, 2**31))


def test_srdhm_ties():
    assert int(saturating_rounding_doubling_high_mul(1, 2**30)) == 1  # 0.5
    assert int(saturating_rounding_doubling_high_mul(-1, 2**30)) == 0  # -0.5
    assert int(saturating_rounding_doubling_high_mul(-3, 2**30)) == -1  # -1.5


@given(i32, st.integers(0, 31))
def test_rounding_divide_by_pot_rounds_half_away(x, e):
    assert int(rounding_divide_by_pot(x, e)) == round_half_away(Fraction(x, 2**e))


@given(st.integers(-(2**24), 2**24), st.integers(1, 10000))
def test_rounding_div(a, n):
    assert int(rounding_div(a, n)) == round_half_away(Fraction(a, n))


@given(st.floats(1e-9, 1e3))
def test_quantize_multiplier_represents_the_real_multiplier(m):
    mult, shift = quantize_multiplier(m)
    if mult == 0:
        assert m < 2.0**-31
        return
    assert 2**30 <= mult < 2**31
    assert abs(mult * 2.0 ** (shift - 31) - m) <= m * 2.0**-30


@given(st.integers(-(2**24), 2**24), st.floats(1e-6, 100.0))
def test_requantize_is_within_one_of_exact(acc, m):
    mult, shift = quantize_multiplier(m)
    got = int(requantize(acc, mult, shift))
    exact = Fraction(acc) * Fraction(mult) * Fraction(2) ** (shift - 31)
    clamped = max(INT32_MIN, min(INT32_MAX, exact))
    assert abs(got - clamped) <= 1


def test_requantize_vectorizes_per_channel():
    acc = np.array([[100, -100], [7, -7]])
    mult = np.array([1 << 30, 1 << 30])
    shift = np.array([0, -1])
    np.testing.assert_array_equal(requantize(acc, mult, shift), [[50, -25], [4, -2]])


def test_quantize_multiplier_keeps_a_negative_sign():
    """As TFLite's (LeakyRelu's negative alpha): frexp's negative fraction, rounded."""
    mult, shift = quantize_multiplier(-0.3)
    assert (mult, shift) == (-1288490189, -1)
    assert quantize_multiplier(0.0) == (0, 0)


@given(st.floats(1e-6, 100.0), st.integers(1, 1 << 16))
def test_fold_count_divides_the_multiplier(m, count):
    """TFLite's MEAN folds 1/count into the multiplier: it truncates the folded multiplier
    (under one unit of it) after QuantizeMultiplier rounded (2^-31 of it)."""
    mult, shift = quantize_multiplier(m)
    folded, folded_shift = fold_count(mult, shift, count)
    if folded:
        assert abs(folded * 2.0 ** (folded_shift - 31) - m / count) <= (m / count) * (1 / folded + 2.0**-30)


@given(st.integers(-(2**31) + 1, 0))
def test_exp_on_negative_values_is_exp(raw):
    """gemmlowp's exp of a Q5.26 value, in Q0.31, within 2^-21 of exp (2^-22 at worst
    measured, near 0, where its polynomial around -1/8 is least accurate)."""
    got = int(exp_on_negative_values(raw, 5)) / 2**31
    assert abs(got - math.exp(raw / 2**26)) <= 2.0**-21


@given(st.integers(0, INT32_MAX))
def test_one_over_one_plus_x(raw):
    got = int(one_over_one_plus_x_for_x_in_0_1(raw)) / 2**31
    assert abs(got - 1 / (1 + raw / 2**31)) <= 2.0**-27


@given(st.integers(-(2**31) + 1, INT32_MAX))
def test_logistic_and_tanh(raw):
    """gemmlowp's logistic and tanh of a Q4.27 value, in Q0.31, within 2^-21."""
    x = raw / 2**27
    assert abs(int(logistic(raw, 4)) / 2**31 - 1 / (1 + math.exp(-x))) <= 2.0**-21
    assert abs(int(tanh(raw, 4)) / 2**31 - math.tanh(x)) <= 2.0**-21
