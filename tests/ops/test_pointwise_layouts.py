"""The pointwise conv's two weight layouts (--optimize speed|size): what the speed layout's
words hold, read the way each kernel reads them; that flash and the report follow the
layout emitted; and that both settings give bit-exact C."""

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS, EMULATE_DSP, EXAMPLES, needs_target
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen import ops, pipeline, reference, report
from mcugen.backend import codegen
from mcugen.ops import pointwise_conv
from mcugen.ops.base import ByCore
from mcugen.target import targets
from mcugen.verify import TargetRunner, run_c, verify

DIGITS_CALIB = EXAMPLES / "digits_calib.npz"


def halves(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A word's two int16 halves, as SMLAD reads them: bits 0-15 and bits 16-31, each signed."""
    w = words.astype(np.int64)
    return ((w & 0xFFFF) ^ 0x8000) - 0x8000, w >> 16


def lanes(words: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A sum lo + hi * 2^16 split back (the plain kernel's SXTH, SUB, ASR #16)."""
    w = words.astype(np.int64)
    lo = ((w & 0xFFFF) ^ 0x8000) - 0x8000
    return lo, (w - lo) >> 16


def smlad_dot(words: np.ndarray, x: np.ndarray, out_c: int) -> np.ndarray:
    """Each output channel's dot product, summed as the DSP kernel does: input channels in
    groups of 4, group g's pairs (4g, 4g+2) then (4g+1, 4g+3), missing channels zero;
    output channels in blocks of two, a block's words [pair][channel]."""
    groups = -(-len(x) // 4)
    xs = np.zeros(4 * groups, dtype=np.int64)
    xs[:len(x)] = x
    pair_x = xs.reshape(groups, 2, 2).transpose(0, 2, 1).reshape(-1, 2)  # [pair] -> (lo channel, hi channel)
    lo, hi = halves(words)
    lo, hi = lo.reshape(-1, 2 * groups, 2), hi.reshape(-1, 2 * groups, 2)  # [block, pair, channel]
    dots = (lo * pair_x[None, :, 0, None] + hi * pair_x[None, :, 1, None]).sum(axis=1)  # [block, channel]
    return dots.reshape(-1)[:out_c]


@settings(max_examples=40, deadline=None)
@given(out_c=st.integers(1, 9), in_c=st.integers(1, 21), seed=st.integers(0, 2**32 - 1))
def test_the_speed_layout_holds_each_kernels_products(out_c, in_c, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(out_c, in_c)).astype(np.int8)
    x = rng.integers(-128, 128, size=in_c)
    want = w.astype(np.int64) @ x
    wide = pointwise_conv.wide_weights(w)
    np.testing.assert_array_equal(smlad_dot(wide, x, out_c), want)
    # The plain cores' order: a word per input channel and pair of output channels, w0 + w1 * 2^16.
    paired = pointwise_conv.paired_weights(w)
    assert paired.shape == wide.shape and paired.dtype == wide.dtype == np.int32
    lo, hi = lanes(paired)
    stored = len(paired) // -(-out_c // 2)
    both = np.stack([lo.reshape(-1, stored), hi.reshape(-1, stored)], axis=1).reshape(-1, stored)
    np.testing.assert_array_equal(both[:out_c, :in_c] @ x, want)
    assert not both[out_c:].any() and not both[:, in_c:].any()  # the padding is zero weights


def test_two_products_of_paired_words_split_exactly_at_the_extremes():
    """The bound the plain kernel relies on: |x| <= 128, |w| <= 127, two products per split."""
    for x0, x1, w0, w1 in [(-128, -128, 127, 127), (-128, -128, -127, -127), (127, 127, -127, -127),
                           (-128, 127, 127, -127), (-128, -128, -127, 127)]:
        w = np.array([[w0, w1], [w1, w0]], dtype=np.int8)  # two output channels, two input channels
        words = pointwise_conv.paired_weights(w).astype(np.int64)
        p = x0 * words[0] + x1 * words[1]
        assert -2**31 <= p < 2**31  # int32, as the C computes it
        lo, hi = lanes(np.array([p]))
        assert (lo[0], hi[0]) == (x0 * w0 + x1 * w1, x0 * w1 + x1 * w0)


@pytest.fixture(scope="module")
def digits():
    return pipeline.build(DIGITS, DIGITS_CALIB)


def test_flash_follows_the_layout_emitted(digits):
    g, plan = digits.graph, digits.plan
    emitted = {o: sum(a.nbytes for a in codegen.layer_arrays(g, "m", plan.precision, o)) for o in ("speed", "size")}
    reported = {o: report.summary(g, plan, o)["weights_bytes"] for o in ("speed", "size")}
    assert reported == emitted
    assert emitted["size"] < emitted["speed"]
    int8_weights = sum(n.params["weight"].size for n in g.nodes if n.op == "pointwise_conv")
    assert emitted["speed"] - emitted["size"] >= int8_weights  # int16 at least doubles them


def test_speed_emits_both_orders_of_the_same_array(digits):
    g = digits.graph
    node = next(n for n in g.nodes if n.op == "pointwise_conv")
    (suffix, ctype, data), *_ = pointwise_conv.arrays(node, optimize="speed")
    assert (suffix, ctype) == ("weight", "int32_t") and isinstance(data, ByCore)
    assert pointwise_conv.arrays(node, optimize="size")[0][2].dtype == np.int8
    files = codegen.generate(g, digits.plan, "m", "digits", "speed")
    both = "/* in the order of the DSP kernels"  # then #if DSP ... #else plain ... #endif
    convs = sum(n.op == "conv" for n in g.nodes)  # the standard conv keeps two orders at either setting
    assert files["m_weights.c"].count(both) == sum(n.op == "pointwise_conv" for n in g.nodes) + convs
    assert codegen.generate(g, digits.plan, "m", "digits", "size")["m_weights.c"].count(both) == convs
    assert ops.get("pointwise_conv").OPTIMIZE and not ops.get("depthwise_conv").OPTIMIZE


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("flags", [(), EMULATE_DSP])
def test_both_settings_run_bit_exact(optimize, flags):
    """The whole digits model in C, plain and DSP kernels, against the reference."""
    compiled = pipeline.build(DIGITS, DIGITS_CALIB, optimize=optimize)
    g = compiled.graph
    x = np.random.default_rng(1).integers(-128, 128, size=(6, *g.shape(g.input)[1:]), dtype=np.int8)
    got = np.frombuffer(run_c(compiled, "digits", x, COMPILERS[0], extra_flags=flags), dtype=np.int8)
    np.testing.assert_array_equal(got.reshape(len(x), -1), reference.run_int8(g, x).reshape(len(x), -1))


@needs_target
@pytest.mark.parametrize("core", ["cortex-m0plus", "cortex-m4"])
def test_both_settings_verify_on_the_cores(core):
    """verify --target: the core's own kernels (the M0+ the paired order, the M4 the wide one)."""
    for optimize in ("speed", "size"):
        compiled = pipeline.build(DIGITS, DIGITS_CALIB, optimize=optimize)
        runner = TargetRunner(targets.TARGETS[core], targets.find_cross())
        result = verify(str(DIGITS), compiled, "digits", 3, runner, 0, 0)
        assert result.bit_exact, (core, optimize, result.first_bad_layer)
