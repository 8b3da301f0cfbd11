"""Standard 2-D convolution (group 1): NHWC input, OHWI weights, any kernel/stride/padding.

attrs: weight [O, KH, KW, I], bias [O], kernel, strides, dilations, pads (t, l, b, r), act.
"""

import numpy as np

from mcugen.layout import as_image
from mcugen.ops import common

KIND = "conv"
CHANNEL_AXIS = 0  # weight [O, KH, KW, I]
TAKES_ACTIVATION = True
TAKES_PAD = True
RESHAPE_READ = "image"


WINDOW_S8 = (*common.WINDOW[:2], (*common.WINDOW[2], "backward"))  # dims.backward: the plan's direction
C_KERNELS = {
    "s8": common.CKernel("mcugen_conv_s8", (WINDOW_S8, common.REQUANT), ("&dims", "&q", *common.WEIGHTED, "scratch16"),
                         wrapped=True),
    "f32": common.CKernel("mcugen_conv_f32", (common.WINDOW, common.ACT), ("&dims", "&act", *common.WEIGHTED)),
}


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    out_h, out_w = common.window_output_hw(in_shape[1:3], node.attrs)
    return (in_shape[0], out_h, out_w, node.attrs["weight"].shape[0])


def accumulate(node, x, w, pad_value):
    """Sum over taps of input[tap] . weight[:, tap]; padding holds `pad_value` (real zero)."""
    x = x.reshape(as_image(x.shape))
    out_hw = common.window_output_hw(x.shape[1:3], node.attrs)
    acc = 0
    for ky, kx, view in common.taps(common.pad_nhwc(x, node.attrs["pads"], pad_value), node.attrs, out_hw):
        acc = acc + view @ w[:, ky, kx, :].T
    return acc


def run_float(node, x):
    return common.run_weighted_float(node, x, accumulate)


def run_int8(node, x):
    return common.run_weighted_int8(node, x, accumulate)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    return common.quantize_weighted(node, qin, qout, channel_axis=0)


def _taps(node) -> int:
    return int(np.prod(node.attrs["weight"].shape[1:]))


def arrays(node):
    """The C keeps the weights as int16 [O][taps rounded up to even], taps in [ky][kx][ic]
    order, as the kernel's gathered window: a dot product takes two MACs per SMLAD."""
    out = []
    for name, ctype, data in common.weighted_arrays(node):
        if name == "weight":
            flat = data.reshape(len(data), -1).astype(np.int16)
            ctype, data = "int16_t", np.pad(flat, ((0, 0), (0, flat.shape[1] % 2)))
        out.append((name, ctype, data))
    return out


def scratch(node, in_shape, out_shape):
    """One pixel's window as int16, rounded up to an even count."""
    return 2 * (_taps(node) + _taps(node) % 2)


def c_fields(node, in_shape, out_shape):
    return dict(common.window_fields(node.attrs, as_image(in_shape), out_shape),
                fast=common.fast_requant(node))


def access(node, in_shape, out_shape):
    return common.window_access(node.attrs, as_image(in_shape), out_shape)


def backward_access(node, in_shape, out_shape):
    """dims.backward: the output pixels from the last to the first."""
    return common.window_access_backward(node.attrs, as_image(in_shape), out_shape)


row_window = common.row_window  # one output row at a time (planner/rows.py)
row_fields = common.row_fields


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    stored = 2 * w.shape[0] * (_taps(node) + _taps(node) % 2)  # int16, as arrays() keeps them
    return common.Cost(int(np.prod(out_shape)) * _taps(node), stored + 12 * w.shape[0])


def error_bound(graph, node, e_in):
    return common.weighted_error(graph, node, e_in, CHANNEL_AXIS)
