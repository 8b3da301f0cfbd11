"""Every C kernel against its numpy reference, on random shapes and random parameters.

The parameters are drawn directly (not from calibration) so that the corners the numeric
contract must survive are hit: positive shifts (multiplier >= 1, saturating), extreme zero
points, narrow activation clamps, padding wider than the kernel reach, dilation.
"""

import numpy as np
import pytest
from helpers import COMPILERS, QIN, run_graph_c
from helpers.kernels import (
    CC,
    SETTINGS,
    build_requant_check,
    check,
    int8_weights,
    pool_window,
    requant_params,
    resize,
    resize_attrs,
    window,
)
from hypothesis import given
from hypothesis import strategies as st

from mcugen import ops
from mcugen.ir import Node, QParams


@SETTINGS
@given(st.data())
def test_conv(data):
    attrs, (h, w) = data.draw(window())
    cin, cout = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weight = int8_weights(rng, (cout, *attrs["kernel"], cin))
    node = Node("c", "conv", [], [], dict(attrs, weight=weight.astype(float)))
    node.params = dict(requant_params(data.draw, cout), weight=weight)
    check(node, (1, h, w, cin), rng)


@SETTINGS
@given(st.data())
def test_depthwise_conv(data):
    attrs, (h, w) = data.draw(window())
    c = data.draw(st.integers(1, 9))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weight = int8_weights(rng, (*attrs["kernel"], c))
    node = Node("d", "depthwise_conv", [], [], dict(attrs, weight=weight.astype(float)))
    node.params = dict(requant_params(data.draw, c), weight=weight)
    check(node, (1, h, w, c), rng)


@SETTINGS
@given(st.data())
def test_pointwise_conv(data):
    h, w = data.draw(st.integers(1, 8)), data.draw(st.integers(1, 8))
    cin, cout = data.draw(st.integers(1, 24)), data.draw(st.integers(1, 24))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weight = int8_weights(rng, (cout, cin))
    node = Node("p", "pointwise_conv", [], [], dict(weight=weight.astype(float)))
    node.params = dict(requant_params(data.draw, cout), weight=weight)
    check(node, (1, h, w, cin), rng)


@SETTINGS
@given(st.data())
def test_fully_connected(data):
    # A 4-D input is read flat, as after a (removed) Flatten.
    in_shape = data.draw(st.sampled_from([(1, 1, 1, 40), (1, 3, 2, 5), (1, 17)]))
    cout = data.draw(st.integers(1, 12))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weight = int8_weights(rng, (cout, int(np.prod(in_shape[1:]))))
    node = Node("f", "fully_connected", [], [], dict(weight=weight.astype(float)))
    node.params = dict(requant_params(data.draw, cout), weight=weight)
    check(node, in_shape, rng)


@SETTINGS
@given(st.data())
def test_avg_pool(data):
    attrs, (h, w) = data.draw(pool_window())
    c = data.draw(st.integers(1, 5))
    include = data.draw(st.booleans())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("a", "avg_pool", [], [], dict(attrs, count_include_pad=include))
    act_min = data.draw(st.integers(-128, 127))
    node.params = dict(input_zp=data.draw(st.integers(-128, 127)), output_zp=0, act_min=act_min,
                       act_max=data.draw(st.integers(act_min, 127)), count_include_pad=int(include))
    check(node, (1, h, w, c), rng)


@SETTINGS
@given(st.data())
def test_global_avg_pool(data):
    h, w, c = data.draw(st.integers(1, 12)), data.draw(st.integers(1, 12)), data.draw(st.integers(1, 20))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("g", "global_avg_pool", [], [], {})
    act_min = data.draw(st.integers(-128, 127))
    node.params = dict(input_zp=data.draw(st.integers(-128, 127)), output_zp=data.draw(st.integers(-128, 127)),
                       mult=data.draw(st.integers(0, 2**31 - 1)), shift=data.draw(st.integers(-31, 12)),
                       act_min=act_min, act_max=data.draw(st.integers(act_min, 127)))
    check(node, (1, h, w, c), rng)


@SETTINGS
@given(st.data())
def test_softmax(data):
    classes = data.draw(st.integers(1, 40))
    scale = data.draw(st.floats(1e-3, 2.0))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("s", "softmax", [], [], {})
    node.params = ops.softmax.quantize(node, QParams(scale, 0), ops.softmax.OUTPUT_Q)
    out = check(node, (1, classes), rng)
    # The int8 probabilities sum to about 1 (each is rounded to 1/256).
    probs = (out.astype(int) + 128) / 256
    assert np.all(np.abs(probs.sum(axis=1) - 1) <= classes / 256 + 1 / 256)


@SETTINGS
@given(st.data())
def test_resize(data):
    attrs, (h, w) = data.draw(resize())
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("r", "resize", [], [], attrs)
    node.params = ops.resize.quantize(node, QIN, QIN)
    check(node, (1, h, w, data.draw(st.integers(1, 5))), rng)


def test_softmax_matches_float():
    """Integer softmax within one output step of the float softmax of the dequantized input."""
    rng = np.random.default_rng(1)
    node = Node("s", "softmax", [], [], {})
    scale = 0.07
    node.params = ops.softmax.quantize(node, QParams(scale, 0), ops.softmax.OUTPUT_Q)
    x = rng.integers(-128, 128, size=(200, 10), dtype=np.int8)
    got = (ops.softmax.run_int8(node, x).astype(int) + 128) / 256
    want = ops.softmax.run_float(node, x * scale)
    assert np.max(np.abs(got - want)) <= 1.5 / 256


def test_softmax_beyond_tflites_domain():
    """Where TFLite refuses (an input scale below 2^-26: a multiplier below 1) or stops (a
    sum of 2^28 or more, from hundreds of classes near the maximum; 2^31, saturated, from
    thousands), the C and the reference agree, and equal inputs still give a uniform row,
    within half an output step."""
    from helpers import kernel_driver

    cases = []
    for scale, classes in [(1e-9, 10), (0.05, 1000), (0.05, 5000)]:
        node = Node("s", "softmax", [], [], {})
        node.params = ops.softmax.quantize(node, QParams(scale, 0), ops.softmax.OUTPUT_Q)
        x = np.stack([np.full(classes, 7), np.random.default_rng(classes).integers(0, 3, classes)]).astype(np.int8)
        cases.append(kernel_driver.Case("softmax", [node], [x[:, None, :]]))
        uniform = ops.softmax.run_int8(node, x[:1]).astype(int) + 128
        assert np.all(np.abs(uniform / 256 - 1 / classes) <= 0.5 / 256), (scale, classes, uniform)
    kernel_driver.check(cases, CC)


@pytest.mark.parametrize("cc", COMPILERS)
def test_each_compiler_builds_every_kernel(cc, tmp_path):
    """One graph holding every kernel kind builds warning-free and runs bit-exact under cc."""
    rng = np.random.default_rng(7)
    nodes, shape, tensors = [], (1, 9, 9, 4), {}
    from mcugen.ir import Graph, Tensor

    def add(node, in_shape):
        node.inputs, node.outputs = [f"t{len(nodes)}"], [f"t{len(nodes) + 1}"]
        out_shape = ops.get(node.op).output_shape(node, in_shape)
        tensors[node.outputs[0]] = Tensor(node.outputs[0], out_shape, QParams(0.1, 0))
        nodes.append(node)
        return out_shape

    tensors["t0"] = Tensor("t0", shape, QParams(0.1, 0))
    for op, attrs, weight_shape in [
        ("conv", dict(kernel=(3, 3), strides=(2, 2), dilations=(1, 1), pads=(0, 0, 1, 1)), (8, 3, 3, 4)),
        ("depthwise_conv", dict(kernel=(3, 3), strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1)), (3, 3, 8)),
        ("pointwise_conv", {}, (6, 8)),
    ]:
        w = int8_weights(rng, weight_shape)
        node = Node(op, op, [], [], dict(attrs, weight=w.astype(float)))
        channels = weight_shape[0] if op != "depthwise_conv" else 8
        node.params = dict(weight=w, bias=rng.integers(-999, 999, channels).astype(np.int32),
                           mult=np.full(channels, 1 << 30, np.int32), shift=np.full(channels, -6, np.int32),
                           input_zp=0, output_zp=0, act_min=-128, act_max=127)
        shape = add(node, shape)
    pool = Node("a", "avg_pool", [], [], dict(kernel=(2, 2), strides=(1, 1), pads=(0, 0, 0, 0), count_include_pad=False))
    pool.params = dict(input_zp=0, output_zp=0, act_min=-128, act_max=127, count_include_pad=0)
    shape = add(pool, shape)
    resize = Node("r", "resize", [], [], resize_attrs("linear", "half_pixel", shape[1:3], (7, 5)))
    resize.params = ops.resize.quantize(resize, QParams(0.1, 0), QParams(0.1, 0))
    shape = add(resize, shape)
    gap = Node("g", "global_avg_pool", [], [], {})
    gap.params = ops.global_avg_pool.quantize(gap, QParams(0.1, 0), QParams(0.02, -3))
    shape = add(gap, shape)
    w = int8_weights(rng, (5, 6))
    fc = Node("f", "fully_connected", [], [], dict(weight=w.astype(float)))
    fc.params = dict(weight=w, bias=np.zeros(5, np.int32), mult=np.full(5, 1 << 30, np.int32),
                     shift=np.full(5, -3, np.int32), input_zp=0, output_zp=0, act_min=-128, act_max=127)
    shape = add(fc, shape)
    sm = Node("s", "softmax", [], [], {})
    sm.params = ops.softmax.quantize(sm, QParams(0.1, 0), ops.softmax.OUTPUT_Q)
    add(sm, shape)
    graph = Graph(tensors, nodes, "t0", f"t{len(nodes)}", source="every kernel")
    x = rng.integers(-128, 128, size=(4, 9, 9, 4), dtype=np.int8)
    from mcugen import reference

    np.testing.assert_array_equal(run_graph_c(graph, x, cc), reference.run_int8(graph, x))


HELPERS_MAIN = r"""
#include <stdio.h>

#include "mcugen_common_s8.h"
#include "mcugen_avg_pool_s8.c"

int main(void)
{
    long acc, mult, shift, zp, lo, hi;
    while (scanf("%ld %ld %ld %ld %ld %ld", &acc, &mult, &shift, &zp, &lo, &hi) == 6) {
        const int32_t m = (int32_t)mult, s = (int32_t)shift;
        const mcugen_requant_t q = { 0, (int32_t)zp, (int32_t)lo, (int32_t)hi, &m, &s, 0 };
        const mcugen_requant_t fast = { 0, (int32_t)zp, (int32_t)lo, (int32_t)hi, &m, &s, 1 };
        const int fast_applies = s <= -2 && m > (1 << 30);  /* what the layer's flag promises */
        printf("%d %d %d %d\n", mcugen_multiply_by_quantized_multiplier((int32_t)acc, m, s),
               mcugen_requantize_s8((int32_t)acc, &q, 0),
               mcugen_rounding_div((int32_t)(acc / 4), (int32_t)(mult % 1000 + 1)),
               fast_applies ? mcugen_requantize_s8((int32_t)acc, &fast, 0) : mcugen_requantize_s8((int32_t)acc, &q, 0));
    }
    return 0;
}
"""


@pytest.mark.parametrize("variant", [(), ("-DMCUGEN_NO_LONG_MULTIPLY",)], ids=["long-multiply", "cortex-m0-form"])
def test_fixed_point_helpers_match_numpy_at_the_extremes(tmp_path, variant):
    """The kernel library's fixed-point helpers (mcugen_common_s8.h, and average pooling's
    rounding division) against mcugen.fixedpoint, int32 corners included, under UBSan (when the compiler has it): no
    overflow, no disagreement."""
    import subprocess

    from mcugen.fixedpoint import div_trunc, requantize, rounding_div

    binary = build_requant_check(HELPERS_MAIN, tmp_path, variant)
    rng = np.random.default_rng(3)
    n = 50_000
    corners = np.array([-2**31, 2**31 - 1, -1, 0, 1, 2**30, -2**30])
    acc = np.concatenate([rng.integers(-2**31, 2**31, n), np.repeat(corners, 4)])
    mult = np.concatenate([rng.integers(0, 2**31, n), np.tile([2**31 - 1, 2**30, 0, 1], len(corners))])
    shift = np.concatenate([rng.integers(-31, 31, n), np.tile([30, -31, 0, 1], len(corners))])
    zp = rng.integers(-128, 128, len(acc))
    lo = rng.integers(-128, 128, len(acc))
    hi = np.maximum(lo, rng.integers(-128, 128, len(acc)))
    lines = "\n".join(" ".join(map(str, row)) for row in zip(acc, mult, shift, zp, lo, hi))
    proc = subprocess.run([str(binary)], input=lines, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[:500]
    got = np.array(proc.stdout.split(), dtype=np.int64).reshape(-1, 4)
    want = requantize(acc, mult, shift)
    np.testing.assert_array_equal(got[:, 0], want)
    np.testing.assert_array_equal(got[:, 1], np.clip(want + zp, lo, hi))
    # The fast formulation (AND, SUBS, SBC, SMLAL, ASR) agrees wherever its flag allows it.
    fast_rows = (shift <= -2) & (mult > 2**30)
    assert fast_rows.sum() > 10_000
    np.testing.assert_array_equal(got[:, 3], np.clip(want + zp, lo, hi))
    # Pooling sums stay far inside int32 (taps * 128), hence the quarter.
    np.testing.assert_array_equal(got[:, 2], rounding_div(div_trunc(acc, 4), mult % 1000 + 1))


CHANNEL_MAIN = r"""
#include <stdio.h>

#include "mcugen_common_s8.h"

int main(void)
{
    long acc, mult, shift, zp, lo, hi;
    while (scanf("%ld %ld %ld %ld %ld %ld", &acc, &mult, &shift, &zp, &lo, &hi) == 6) {
        const mcugen_channel_q_t c = mcugen_channel_q((int32_t)mult, (int32_t)shift);
        printf("%d\n", mcugen_channel_requant_s8((int32_t)acc, &c, 1 + 2 * (int32_t)zp, (int32_t)lo, (int32_t)hi));
    }
    return 0;
}
"""


@pytest.mark.parametrize("variant", [(), ("-DMCUGEN_NO_LONG_MULTIPLY",)], ids=["long-multiply", "cortex-m0-form"])
def test_channel_requantization_matches_numpy(tmp_path, variant):
    """mcugen_channel_q / mcugen_channel_requant_s8 (one channel's constants derived once) against
    mcugen.fixedpoint, wherever a layer's fast flag allows it (shift <= -2, multiplier above
    2^30), under UBSan. The M0 form takes two 32-bit products where -2^16 <= acc < 2^16 and
    four elsewhere: the accumulators at and around both edges, the multipliers whose low half
    splits at +-2^15 (the two products' extremes) and the largest, and every shift."""
    import subprocess

    from mcugen.fixedpoint import requantize

    binary = build_requant_check(CHANNEL_MAIN, tmp_path, variant)
    rng = np.random.default_rng(12)
    edges = np.array([0, 1, -1, 2**15 - 1, 2**15, -2**15, -2**15 - 1, 2**16 - 1, 2**16, -2**16, -2**16 - 1,
                      2**16 + 1, -2**16 + 1, 2**31 - 1, -2**31])
    mults = np.array([2**30 + 1, 2**31 - 1, 2**31 - 2**15, 2**31 - 2**15 - 1, 2**31 - 2**15 + 1,
                      2**30 + 2**15, 2**30 + 2**15 - 1, 2**30 + 2**15 + 1, 0x5A5A8000, 0x7FFF8000, 0x7FFF7FFF])
    shifts = np.arange(-31, -1)
    grid = np.array(np.meshgrid(edges, mults, shifts)).reshape(3, -1)
    n = 60_000
    # Every accumulator of the two-product range and a little beyond, at the smallest shifts, where
    # the most bits reach the rounding (an error in the last place shows there, not at random).
    every = np.arange(-2**16 - 2, 2**16 + 2)
    full = np.array(np.meshgrid(every, [2**31 - 1, 0x5A5A8000], [-2, -3])).reshape(3, -1)
    acc = np.concatenate([grid[0], full[0], rng.integers(-2**17, 2**17, n), rng.integers(-2**31, 2**31, n // 4)])
    mult = np.concatenate([grid[1], full[1], rng.integers(2**30 + 1, 2**31, n + n // 4)])
    shift = np.concatenate([grid[2], full[2], rng.integers(-12, -1, n), rng.integers(-31, -1, n // 4)])
    zp = rng.integers(-128, 128, len(acc))
    lo = rng.integers(-128, 128, len(acc))
    hi = np.maximum(lo, rng.integers(-128, 128, len(acc)))
    lo[len(grid[0]):len(grid[0]) + len(full[0])] = -128  # no clamp to hide the rounding
    hi[len(grid[0]):len(grid[0]) + len(full[0])] = 127
    zp[len(grid[0]):len(grid[0]) + len(full[0])] = 0
    lines = "\n".join(" ".join(map(str, row)) for row in zip(acc, mult, shift, zp, lo, hi))
    proc = subprocess.run([str(binary)], input=lines, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[:500]
    got = np.array(proc.stdout.split(), dtype=np.int64)
    want = np.clip(requantize(acc, mult, shift) + zp, lo, hi)
    np.testing.assert_array_equal(got, want)
    inside = (acc >= -2**16) & (acc < 2**16)
    assert inside.sum() > n // 2 and (~inside).sum() > n // 8  # both of the M0 form's paths


@SETTINGS
@given(st.data())
def test_pointwise_at_the_edges_of_the_contract(data):
    """Accumulators near the int32 limit the quantizer proves, multipliers up to the
    largest, zero points and clamps anywhere."""
    cin, cout = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 4))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    weight = int8_weights(rng, (cout, cin))
    room = 2**31 - 1 - 128 * np.abs(weight.astype(np.int64)).sum(axis=1)
    bias = np.array([data.draw(st.integers(-int(r), int(r))) for r in room], dtype=np.int32)
    node = Node("p", "pointwise_conv", [], [], dict(weight=weight.astype(float)))
    act_min = data.draw(st.integers(-128, 127))
    node.params = dict(weight=weight, bias=bias, input_zp=data.draw(st.integers(-128, 127)),
                       mult=np.array(data.draw(st.lists(st.sampled_from([0, 1, 2**30, 2**31 - 1]) | st.integers(0, 2**31 - 1),
                                                        min_size=cout, max_size=cout)), np.int32),
                       shift=np.array(data.draw(st.lists(st.integers(-31, 30), min_size=cout, max_size=cout)), np.int32),
                       output_zp=data.draw(st.integers(-128, 127)), act_min=act_min,
                       act_max=data.draw(st.integers(act_min, 127)))
    check(node, (1, 2, 3, cin), rng)
