"""The depthwise kernel's DSP path (mcugen_depthwise_conv_s8.c): four channels at a time,
weights stored as int16 in blocks of four (ops/depthwise_conv.py, block_weights), the odd
channels' sums scaled by 256, border pixels on the same path; the shorter form of the fast
requantization (mcugen_common_s8.h) it and the conv kernel use."""

import subprocess

import numpy as np
import pytest
from helpers import COMPILERS, one_layer_graph, run_graph_c
from helpers.kernels import build_requant_check

from mcugen import ops
from mcugen.fixedpoint import requantize
from mcugen.ir import Node

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")
CC = COMPILERS[0] if COMPILERS else "cc"


def test_block_weights_put_each_channel_where_the_kernel_reads_it():
    """Tap t of channel c at [c // 4, t, slot], the slots of a block holding channels
    0, 2, 1, 3 (the halves SXTB16 and the mask give); zero past the last channel."""
    w = np.arange(3 * 3 * 7, dtype=np.int64).reshape(3, 3, 7) - 31
    blocks = ops.depthwise_conv.block_weights(w.astype(np.int8))
    assert blocks.dtype == np.int16 and blocks.shape == (2, 9, 4)
    slot = {0: 0, 2: 1, 1: 2, 3: 3}
    for c in range(7):
        for t in range(9):
            assert blocks[c // 4, t, slot[c % 4]] == w[t // 3, t % 3, c]
    assert not blocks[1, :, slot[3]].any()  # channel 7 does not exist


REQUANT_MAIN = r"""
#include <stdio.h>

#include "mcugen_common_s8.h"

int main(void)
{
    long acc, mult, shift, zp, lo, hi;
    while (scanf("%ld %ld %ld %ld %ld %ld", &acc, &mult, &shift, &zp, &lo, &hi) == 6) {
        printf("%d\n", mcugen_requant_short_s8((int32_t)acc, (int32_t)mult, (int32_t)shift, (int32_t)zp, (int32_t)lo,
                                               (int32_t)hi));
    }
    return 0;
}
"""


@pytest.mark.parametrize("variant", [("-DMCUGEN_EMULATE_DSP",), (), ("-DMCUGEN_NO_LONG_MULTIPLY",)],
                         ids=["dsp", "plain", "cortex-m0-form"])
def test_short_fast_requantization_matches_numpy_at_the_extremes(tmp_path, variant):
    """((h >> (e-2)) + 1) >> 1 and SSAT, against mcugen.fixedpoint wherever the layer's
    fast flag allows it (shift <= -2, multiplier above 2^30), int32 corners included: with
    SSAT (the DSP build), plain, and with the Cortex-M0's high word."""
    binary = build_requant_check(REQUANT_MAIN, tmp_path, variant)
    rng = np.random.default_rng(11)
    n = 50_000
    corners = np.array([-2**31, 2**31 - 1, -1, 0, 1, 2**30, -2**30])
    acc = np.concatenate([rng.integers(-2**31, 2**31, n), np.repeat(corners, 3)])
    mult = np.concatenate([rng.integers(2**30 + 1, 2**31, n), np.tile([2**31 - 1, 2**30 + 1, 1518500250], len(corners))])
    shift = np.concatenate([rng.integers(-31, -1, n), np.tile([-2, -31, -9], len(corners))])
    zp = rng.integers(-128, 128, len(acc))
    lo = np.where(rng.integers(2, size=len(acc)) == 1, -128, rng.integers(-128, 128, len(acc)))
    hi = np.where(rng.integers(2, size=len(acc)) == 1, 127, np.maximum(lo, rng.integers(-128, 128, len(acc))))
    lines = "\n".join(" ".join(map(str, row)) for row in zip(acc, mult, shift, zp, lo, hi))
    proc = subprocess.run([str(binary)], input=lines, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[:500]
    got = np.array(proc.stdout.split(), dtype=np.int64)
    np.testing.assert_array_equal(got, np.clip(requantize(acc, mult, shift) + zp, lo, hi))


@pytest.mark.parametrize("channels", [4, 7, 12])
@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
@pytest.mark.parametrize("width", [14, 15])
@pytest.mark.parametrize("dsp", [False, True], ids=["plain", "dsp"])
def test_blocks_and_the_remainder_bit_exact_at_the_largest_products(channels, strides, width, dsp):
    """Inputs and weights at -128/-127 and 127 (the largest products, so the 256-scaled
    sums of the odd channels are at their largest), a fast layer on the unrolled path
    (pixels in pairs, and an odd one left at the end of a row: 12 or 13 windows inside a
    row at stride 1, 13 or 14 at stride 2) and on the border path (a map too large for
    the padded copy), every block and the channels past the last whole block."""
    rng = np.random.default_rng(channels * 10 + strides[0] + width)
    weight = rng.choice(np.array([-127, 127], np.int8), size=(3, 3, channels))
    weight[:, :, 0] = 127  # one channel all one sign: its sum is the largest
    node = Node("d", "depthwise_conv", [], [], dict(kernel=(3, 3), strides=strides, dilations=(1, 1),
                                                    pads=(1, 1, 1, 1), weight=weight.astype(float)))
    node.params = dict(weight=weight, bias=rng.integers(-3000, 3000, channels).astype(np.int32),
                       mult=rng.integers(2**30 + 1, 2**31 - 1, channels).astype(np.int32),
                       shift=np.full(channels, -10, np.int32), input_zp=-128, output_zp=-3, act_min=-128, act_max=127)
    in_shape = (1, 13 * strides[0], width * strides[1], channels)
    out_shape = ops.depthwise_conv.output_shape(node, in_shape)
    assert ops.depthwise_conv.copy_candidate(node, in_shape, out_shape) == 0  # too large: borders on their path
    rows = [oy for oy in range(out_shape[1]) if 0 <= oy * strides[0] - 1 <= in_shape[1] - 3]
    cols = [ox for ox in range(out_shape[2]) if 0 <= ox * strides[1] - 1 <= in_shape[2] - 3]
    assert len(ops.depthwise_conv.pixel_pairs(node, in_shape, out_shape)) == len(rows) * (len(cols) // 2)
    graph = one_layer_graph(node, in_shape, out_shape)
    x = rng.choice(np.array([-128, 127], np.int8), size=(3, *in_shape[1:]))
    x[0] = 127
    want = ops.depthwise_conv.run_int8(node, x)
    assert len(np.unique(want)) > 8  # not all saturated: the sums show in the bytes
    np.testing.assert_array_equal(run_graph_c(graph, x, CC, dsp=dsp), want)


@pytest.mark.parametrize("hw, strides, pads", [
    ((2, 80), (1, 1), (1, 1, 1, 1)),   # two rows: the top edge, then the bottom one
    ((80, 2), (1, 1), (1, 1, 1, 1)),   # the same, by columns
    ((26, 28), (2, 2), (0, 0, 1, 1)),  # TF's SAME at stride 2: the bottom and right edges only
    ((26, 28), (2, 2), (1, 1, 0, 0)),  # the top and left edges only
    ((13, 14), (1, 1), (2, 1, 1, 2)),  # wider padding: rows and columns two outside
])
@pytest.mark.parametrize("dsp", [False, True], ids=["plain", "dsp"])
def test_edge_and_corner_pixels_bit_exact(hw, strides, pads, dsp):
    """The border pixels the DSP path computes inline, one row or one column of the window
    outside (mcugen_dw_edge: top, bottom, left, right), and those it leaves to the shared
    border function (corners, padding of two), on maps too large for
    the padded copy, against the reference; an input zero point that is not -128, so that
    the zero-point taps show."""
    channels = 6  # one block of four and two channels after it
    rng = np.random.default_rng(hw[0] * 1000 + hw[1] + sum(pads))
    weight = rng.integers(-127, 128, size=(3, 3, channels)).astype(np.int8)
    node = Node("d", "depthwise_conv", [], [], dict(kernel=(3, 3), strides=strides, dilations=(1, 1),
                                                    pads=pads, weight=weight.astype(float)))
    node.params = dict(weight=weight, bias=rng.integers(-3000, 3000, channels).astype(np.int32),
                       mult=rng.integers(2**30 + 1, 2**31 - 1, channels).astype(np.int32),
                       shift=np.full(channels, -9, np.int32), input_zp=37, output_zp=-3, act_min=-128, act_max=127)
    in_shape = (1, *hw, channels)
    out_shape = ops.depthwise_conv.output_shape(node, in_shape)
    assert ops.depthwise_conv.copy_candidate(node, in_shape, out_shape) == 0  # borders on their own path
    graph = one_layer_graph(node, in_shape, out_shape)
    x = rng.integers(-128, 128, size=(2, *in_shape[1:]), dtype=np.int8)
    want = ops.depthwise_conv.run_int8(node, x)
    assert len(np.unique(want)) > 20
    np.testing.assert_array_equal(run_graph_c(graph, x, CC, dsp=dsp), want)


@pytest.mark.parametrize("out_c", [7, 8, 15])
@pytest.mark.parametrize("dsp", [False, True], ids=["plain", "dsp"])
def test_conv_channel_groups_and_gathers_bit_exact(out_c, dsp):
    """The conv kernel's groups of four output channels, the pair and the single one after
    them (7 = 4 + 2 + 1, 15 = 3 * 4 + 2 + 1), windows gathered unchecked inside and checked at the borders
    (padding on all sides), a fast layer with a clamp (the short requantization's folded
    tests), against the reference."""
    rng = np.random.default_rng(out_c)
    weight = rng.integers(-127, 128, size=(out_c, 3, 3, 3)).astype(np.int8)
    node = Node("c", "conv", [], [], dict(kernel=(3, 3), strides=(2, 2), dilations=(1, 1), pads=(1, 1, 1, 1),
                                          weight=weight.astype(float)))
    node.params = dict(weight=weight, bias=rng.integers(-5000, 5000, out_c).astype(np.int32),
                       mult=rng.integers(2**30 + 1, 2**31 - 1, out_c).astype(np.int32),
                       shift=np.full(out_c, -9, np.int32), input_zp=-7, output_zp=5, act_min=-100, act_max=90)
    in_shape = (1, 9, 8, 3)
    graph = one_layer_graph(node, in_shape, ops.conv.output_shape(node, in_shape))
    x = rng.integers(-128, 128, size=(3, *in_shape[1:]), dtype=np.int8)
    want = ops.conv.run_int8(node, x)
    assert {-100, 90} <= set(np.unique(want).tolist()) and len(np.unique(want)) > 20  # clamped and not
    np.testing.assert_array_equal(run_graph_c(graph, x, CC, dsp=dsp), want)


def _node(strides=(1, 1), pads=(1, 1, 1, 1), kernel=(3, 3), fast=True):
    c = 8
    node = Node("d", "depthwise_conv", [], [], dict(kernel=kernel, strides=strides, dilations=(1, 1), pads=pads,
                                                    weight=np.zeros((*kernel, c))))
    node.params = dict(weight=np.zeros((*kernel, c), np.int8), bias=np.zeros(c, np.int32),
                       mult=np.full(c, 2**30 + 1 if fast else 2**29, np.int32), shift=np.full(c, -8, np.int32),
                       input_zp=0, output_zp=0, act_min=-128, act_max=127)
    return node


@pytest.mark.parametrize("strides", [(1, 1), (2, 2)])
def test_paired_pixels_are_declared_reading_from_the_first_window(strides):
    """The second pixel of each pair the kernel computes together is written while the
    first's window is still read: access() gives it the first's lowest read, and every
    other pixel keeps the row-major window rule's. A row's windows inside the input are
    paired from the first one on."""
    in_shape, node = (1, 10, 11, 8), _node(strides)
    out_shape = ops.depthwise_conv.output_shape(node, in_shape)
    pairs = ops.depthwise_conv.pixel_pairs(node, in_shape, out_shape)
    assert pairs and all(ox % 2 == 1 for _, ox in pairs)  # column 0 reaches into the padding: pairs start at 1
    assert {oy for oy, _ in pairs} == set(range(1, out_shape[1] - (1 if strides == (1, 1) else 0)))
    plain = ops.common.window_access(node.attrs, in_shape, out_shape).first_read.reshape(out_shape[1:3])
    got = ops.depthwise_conv.access(node, in_shape, out_shape).first_read.reshape(out_shape[1:3])
    second = np.zeros(out_shape[1:3], bool)
    for oy, ox in pairs:
        second[oy, ox + 1] = True
        assert got[oy, ox + 1] == plain[oy, ox] < plain[oy, ox + 1]
    np.testing.assert_array_equal(got[~second], plain[~second])


@pytest.mark.parametrize("node", [_node(strides=(3, 3)), _node(kernel=(5, 5), pads=(2, 2, 2, 2))],
                         ids=["stride-3", "5x5"])
def test_no_pairs_off_the_unrolled_path(node):
    """Only 3x3 layers of column stride 1 or 2 may take the paired path; the others keep
    the row-major window rule."""
    in_shape = (1, 12, 12, 8)
    out_shape = ops.depthwise_conv.output_shape(node, in_shape)
    assert ops.depthwise_conv.pixel_pairs(node, in_shape, out_shape) == []
    np.testing.assert_array_equal(ops.depthwise_conv.access(node, in_shape, out_shape).first_read,
                                  ops.common.window_access(node.attrs, in_shape, out_shape).first_read)


def test_pairs_are_declared_before_quantization():
    """The planner places layers before they are quantized (pipeline.build), when the
    kernel cannot yet know whether it will pair: a 3x3 layer without parameters, or with a
    slow requantization, is declared paired all the same; the float kernel never pairs."""
    in_shape = (1, 12, 12, 8)
    for node in (_node(fast=False), _node()):
        if node.params["mult"][0] > 2**30:
            node.params = {}  # not quantized yet
        out_shape = ops.depthwise_conv.output_shape(node, in_shape)
        pairs = ops.depthwise_conv.pixel_pairs(node, in_shape, out_shape)
        assert len(pairs) == 10 * 5
        plain = ops.common.window_access(node.attrs, in_shape, out_shape).first_read
        assert (ops.depthwise_conv.access(node, in_shape, out_shape).first_read < plain).sum() == len(pairs)
        np.testing.assert_array_equal(ops.depthwise_conv.float_access(node, in_shape, out_shape).first_read, plain)
