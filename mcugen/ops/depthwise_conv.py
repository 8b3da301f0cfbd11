"""Depthwise 2-D convolution, channel multiplier 1: each channel convolved on its own.

attrs: weight [KH, KW, C] (channels innermost, as NHWC data), bias [C], kernel, strides,
dilations, pads (t, l, b, r), act.
"""

import numpy as np

from mcugen.layout import as_image
from mcugen.ops import common

KIND = "depthwise_conv"


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    out_h, out_w = common.window_output_hw(in_shape[1:3], node.attrs)
    return (in_shape[0], out_h, out_w, in_shape[3])


def accumulate(node, x, w, pad_value):
    x = x.reshape(as_image(x.shape))
    out_hw = common.window_output_hw(x.shape[1:3], node.attrs)
    acc = 0
    for ky, kx, view in common.taps(common.pad_nhwc(x, node.attrs["pads"], pad_value), node.attrs, out_hw):
        acc = acc + view * w[ky, kx, :]
    return acc


def run_float(node, x):
    return common.run_weighted_float(node, x, accumulate)


def run_int8(node, x):
    return common.run_weighted_int8(node, x, accumulate)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    return common.quantize_weighted(node, qin, qout, channel_axis=2)


def arrays(node):
    return common.weighted_arrays(node)


def c_fields(node, in_shape, out_shape):
    return common.window_fields(node.attrs, as_image(in_shape), out_shape)


def access(node, in_shape, out_shape):
    return common.window_access(node.attrs, as_image(in_shape), out_shape)


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    return common.Cost(int(np.prod(out_shape)) * w.shape[0] * w.shape[1], common.weighted_flash(w.size, w.shape[2]))
