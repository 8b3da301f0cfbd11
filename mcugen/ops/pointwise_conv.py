"""Pointwise (1x1, stride 1, unpadded) convolution: a matrix product per pixel.

attrs: weight [O, I], bias [O], act. Any rank: the last axis is the channels.
"""

import numpy as np

from mcugen.ops import base, common

KIND = "pointwise_conv"
CHANNEL_AXIS = 0  # weight [O, I]
TAKES_ACTIVATION = True
RESHAPE_READ = "last_axis"
OPTIMIZE = True  # arrays, c_fields and cost take optimize= ("speed": the wide layout; "size": int8)


POINTWISE = ("mcugen_pointwise_dims_t", "dims", ("pixels", "in_c", "out_c"))
POINTWISE_S8 = ("mcugen_pointwise_dims_t", "dims", ("pixels", "in_c", "out_c", "wide", "backward"))
C_KERNELS = {
    "s8": common.CKernel("mcugen_pointwise_conv_s8", (POINTWISE_S8, common.REQUANT),
                         ("&dims", "&q", *common.WEIGHTED, "scratch32"), wrapped=True),
    "f32": common.CKernel("mcugen_pointwise_conv_f32", (POINTWISE, common.ACT), ("&dims", "&act", *common.WEIGHTED)),
}


def output_shape(node, in_shape):
    return tuple(in_shape[:-1]) + (node.attrs["weight"].shape[0],)


def accumulate(node, x, w, pad_value):
    return x @ w.T


def run_float(node, x):
    return common.run_weighted_float(node, x, accumulate)


def run_int8(node, x):
    return common.run_weighted_int8(node, x, accumulate)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    return common.quantize_weighted(node, qin, qout, channel_axis=0)


SPEED, SIZE = "speed", "size"


def wide_weights(w: np.ndarray) -> np.ndarray:
    """The speed layout of int8 weights [O, I] for the DSP kernel (mcugen_pointwise_conv_s8.c):
    int32 words of two int16 halves (bits 0-15 and 16-31, as SMLAD reads them), in the
    order its SMLADs consume them. Input
    channels in groups of 4, each group two lane pairs, channels (0, 2) then (1, 3) (SXTB16
    and SXTB16 ROR 8 of a word of input); output channels in blocks of two, the block's
    words for pair k at [2k] (its first channel) and [2k + 1]. Missing channels are zeros."""
    out_c, in_c = w.shape
    groups, blocks = -(-in_c // 4), -(-out_c // 2)
    padded = np.zeros((2 * blocks, 4 * groups), dtype=np.int64)
    padded[:out_c, :in_c] = w
    lanes = padded.reshape(blocks, 2, groups, 2, 2)  # [block, oc, group, lane (ch +0/+2), pair (ch +0/+1)]
    lo, hi = lanes[:, :, :, 0, :], lanes[:, :, :, 1, :]  # [block, oc, group, pair]
    words = (lo & 0xFFFF) | (hi << 16)  # the two halves' bits (hi's sign fills the top of the int64)
    return words.transpose(0, 2, 3, 1).reshape(-1).astype(np.int32)  # [block, group, pair, oc]


def paired_weights(w: np.ndarray) -> np.ndarray:
    """The speed layout for cores without SIMD (mcugen_pointwise_conv_s8.c): one int32 word
    per input channel and pair of output channels, w[2b][c] + w[2b + 1][c] * 2^16, words
    [block][c]: one MUL of an input byte then gives both channels' products, in two lanes
    (an odd last channel has zeros in its upper lane). As many words as wide_weights."""
    out_c, in_c = w.shape
    blocks, stored = -(-out_c // 2), -(-in_c // 4) * 4
    padded = np.zeros((2 * blocks, stored), dtype=np.int64)
    padded[:out_c, :in_c] = w
    return (padded[0::2] + padded[1::2] * 65536).reshape(-1).astype(np.int32)


def arrays(node, optimize=SPEED):
    found = common.weighted_arrays(node)
    if optimize == SPEED:  # the same arrays, the weights pre-expanded in each kernel's order
        w = node.params["weight"]
        found[0] = ("weight", "int32_t", base.ByCore(dsp=wide_weights(w), plain=paired_weights(w)))
    return found


def c_fields(node, in_shape, out_shape, optimize=SPEED):
    return dict(pixels=int(np.prod(in_shape[1:-1])), in_c=in_shape[-1], out_c=out_shape[-1],
                fast=common.fast_requant(node), wide=int(optimize == SPEED))


PIXELS_AT_ONCE = 4  # the DSP kernel's group; the plain kernel's one pixel at a time stays inside it


def access(node, in_shape, out_shape):
    """Groups of four pixels: a group's outputs are written while its pixels may be read."""
    groups = -(-int(np.prod(in_shape[1:-1])) // PIXELS_AT_ONCE)
    return common.Access(np.arange(groups) * PIXELS_AT_ONCE * in_shape[-1], PIXELS_AT_ONCE * out_shape[-1])


def backward_access(node, in_shape, out_shape):
    """dims.backward: the same groups of four from the last pixel down (the first 1 to 3
    pixels last): counted from the ends, the same steps as access."""
    return access(node, in_shape, out_shape)


def scratch(node, in_shape, out_shape):
    """The DSP kernels' four pixels of input, as int16: 2 bytes per channel, in groups of 4
    (the speed layout's kernel pads a last partial group with zeros; the int8 one leaves it
    to its one-pixel path)."""
    return PIXELS_AT_ONCE * 2 * (-(-in_shape[-1] // 4) * 4)


def row_window(node) -> tuple[int, int, int]:
    """(kernel_h, stride_h, pad_top): each output row reads its own input row (a row
    pipeline, planner/rows.py, runs the kernel on one row: pixels = width)."""
    return 1, 1, 0


def row_fields(node, in_shape) -> dict:
    """The dims a row pipeline's call changes: one row of pixels."""
    return dict(pixels=str(in_shape[2]))


def cost(node, in_shape, out_shape, optimize=SPEED):
    w = node.attrs["weight"]
    out_c, in_c = w.shape
    stored = 4 * (-(-out_c // 2) * 2) * (-(-in_c // 4) * 2) if optimize == SPEED else w.size  # as arrays() keeps them
    return common.Cost(int(np.prod(out_shape)) * in_c, common.weighted_flash(stored, out_c))


def error_bound(graph, node, e_in):
    return common.weighted_error(graph, node, e_in, CHANNEL_AXIS)
