"""Pointwise (1x1, stride 1, unpadded) convolution: a matrix product per pixel.

attrs: weight [O, I], bias [O], act. Any rank: the last axis is the channels.
"""

import numpy as np

from mcugen.ops import common

KIND = "pointwise_conv"


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
    return dict(pixels=int(np.prod(in_shape[1:-1])), in_c=in_shape[-1], out_c=out_shape[-1])


def access(node, in_shape, out_shape):
    """Pixel by pixel; each output channel re-reads the pixel's input channels."""
    pixels = int(np.prod(in_shape[1:-1]))
    return common.Access(np.arange(pixels) * in_shape[-1], out_shape[-1])


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    return common.Cost(int(np.prod(out_shape)) * w.shape[1], common.weighted_flash(w.size, w.shape[0]))
