"""Each kernel of the library (mcugen/backend/kernels) called directly from C, on random
inputs and parameters, against its op's numpy reference: int8 bit-exact (run_int8), with
the plain and with the DSP code paths (MCUGEN_EMULATE_DSP: the Cortex-M4's instructions in
portable C) and the Cortex-M0's requantization (MCUGEN_NO_LONG_MULTIPLY); float32 within a
tight tolerance of run_float. Many cases share one driver
build (tests/helpers/kernel_driver.py): a few builds per kernel."""

import dataclasses

import numpy as np
import pytest
from helpers import COMPILERS, EMULATE_DSP, kernel_driver
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from mcugen.backend import codegen
from mcugen.ir import Node
from mcugen.precision import FLOAT32, INT8

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")
CC = COMPILERS[0] if COMPILERS else "cc"
# No shrinking: a failing batch is reported whole (the failing case described), at once.
SETTINGS = settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.too_slow],
                    phases=[Phase.explicit, Phase.reuse, Phase.generate])
CASES = 8  # per build
NO_LONG_MULTIPLY = ("-DMCUGEN_NO_LONG_MULTIPLY",)


# The row pipeline's runner is not a layer: it runs the stages' own kernels, and is tested
# through generated models (tests/planner/test_row_input.py), plain, DSP and M0 forms.
LAYER_KERNELS_INT8 = sorted(kind for kind in codegen.kernels(INT8) if kind != codegen.ROW_PIPELINE)


@pytest.mark.parametrize("kind", LAYER_KERNELS_INT8)
@SETTINGS
@given(data=st.data())
def test_int8_kernel(kind, data):
    cases = [kernel_driver.draw_int8(kind, data.draw) for _ in range(CASES)]
    for flags in ((), EMULATE_DSP, NO_LONG_MULTIPLY):
        kernel_driver.check(cases, CC, flags)


@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("kind", ["pointwise_conv", kernel_driver.PAIR])
@SETTINGS
@given(data=st.data())
def test_pointwise_in_both_weight_layouts(kind, optimize, data):
    """--optimize speed (the wide int16 layout, its own DSP and plain kernels) and size (int8
    weights), each on the plain, the DSP and the M0 paths, whatever the random draw picked."""
    cases = [dataclasses.replace(kernel_driver.draw_int8(kind, data.draw), optimize=optimize) for _ in range(CASES)]
    for flags in ((), EMULATE_DSP, NO_LONG_MULTIPLY):
        kernel_driver.check(cases, CC, flags)


@pytest.mark.parametrize("in_c", [5, 36, 64])
@SETTINGS
@given(data=st.data())
def test_wide_pointwise_remainders(in_c, data):
    """The speed layout's DSP kernel where its loops leave something over: 1 to 7 pixels (a
    last group of 1 to 3 pixels, each count its own code), an odd out_c, in_c not a multiple
    of 4 (5), or of the 8 pairs a pass of its accumulation loop takes (36: two passes and 2
    pairs; 64: passes only). in_c up to 24 in the random draws never reaches a second pass."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    cases = []
    for pixels in range(1, 8):
        out_c = data.draw(st.sampled_from([1, 3, 6]))
        node = kernel_driver._weighted_int8(data.draw, rng, "pointwise_conv", {}, (out_c, in_c), out_c)
        x = rng.integers(-128, 128, size=(1, 1, pixels, in_c)).astype(np.int8)
        cases.append(kernel_driver.Case("pointwise_conv", [node], [x]))
    for flags in ((), EMULATE_DSP):
        kernel_driver.check(cases, CC, flags)


@pytest.mark.parametrize("kind", sorted(codegen.kernels(FLOAT32)))
@SETTINGS
@given(data=st.data())
def test_float32_kernel(kind, data):
    kernel_driver.check([kernel_driver.draw_float32(kind, data.draw) for _ in range(CASES)], CC)


def test_float32_mean_that_cancels_to_near_zero_is_judged_against_its_terms():
    """24 values of magnitude ~1 whose mean is ~1e-4: float32 sums round at the terms'
    scale, so the check is relative to them, not to the near-zero output (a hypothesis case
    that failed against the output's own magnitude)."""
    x = np.linspace(-1.0, 1.0, 24, dtype=np.float32).reshape(1, 8, 3, 1)
    x[0, 0, 0, 0] += np.float32(24 * 1.6e-4)  # the sum no longer cancels exactly
    case = kernel_driver.Case("global_avg_pool", [Node("global_avg_pool", "global_avg_pool", [], [], {})], [x], FLOAT32)
    assert abs(float(case.expected()[0])) < 1e-3 < float(np.max(np.abs(case.expected(magnitudes=True))))
    kernel_driver.check([case], CC)
