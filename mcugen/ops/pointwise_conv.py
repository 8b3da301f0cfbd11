"""Pointwise (1x1, stride 1, unpadded) convolution: a matrix product per pixel.

attrs: weight [O, I], bias [O], act. Any rank: the last axis is the channels.
"""

import numpy as np

from mcugen.ops import common

KIND = "pointwise_conv"
CHANNEL_AXIS = 0  # weight [O, I]
TAKES_ACTIVATION = True
RESHAPE_READ = "last_axis"


POINTWISE = ("mcugen_pointwise_dims_t", "dims", ("pixels", "in_c", "out_c"))
C_KERNELS = {
    "s8": common.CKernel("mcugen_pointwise_conv_s8", (POINTWISE, common.REQUANT),
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


def arrays(node):
    return common.weighted_arrays(node)


def c_fields(node, in_shape, out_shape):
    return dict(pixels=int(np.prod(in_shape[1:-1])), in_c=in_shape[-1], out_c=out_shape[-1],
                fast=common.fast_requant(node))


PIXELS_AT_ONCE = 4  # the DSP kernel's group; the plain kernel's one pixel at a time stays inside it


def access(node, in_shape, out_shape):
    """Groups of four pixels: a group's outputs are written while its pixels may be read."""
    groups = -(-int(np.prod(in_shape[1:-1])) // PIXELS_AT_ONCE)
    return common.Access(np.arange(groups) * PIXELS_AT_ONCE * in_shape[-1], PIXELS_AT_ONCE * out_shape[-1])


def scratch(node, in_shape, out_shape):
    """The DSP kernel's four pixels of input, as int16: 2 bytes per channel in whole groups of 4."""
    return PIXELS_AT_ONCE * 2 * (in_shape[-1] // 4 * 4)


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    return common.Cost(int(np.prod(out_shape)) * w.shape[1], common.weighted_flash(w.size, w.shape[0]))


def error_bound(graph, node, e_in):
    return common.weighted_error(graph, node, e_in, CHANNEL_AXIS)
