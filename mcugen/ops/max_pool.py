"""Max pooling over a 2-D window, int8 in and out with the same scale and zero point.

attrs: kernel, strides, dilations, pads (t, l, b, r), act. The maximum of int8 values
needs no requantization: quantization is monotonic. Padded taps are skipped (ONNX pads
with -inf); the importer refuses windows that hold padding only.
"""

import numpy as np

from mcugen.layout import as_image
from mcugen.ops import common

KIND = "max_pool"
TAKES_ACTIVATION = True
RESHAPE_READ = "image"


C_KERNELS = {
    "s8": common.CKernel("mcugen_max_pool_s8", (common.WINDOW, ("mcugen_max_pool_s8_params_t", "p", (
        "act_min", "act_max"))), ("&dims", *common.UNARY)),
    "f32": common.CKernel("mcugen_max_pool_f32", (common.WINDOW, common.ACT), ("&dims", "&act", "input", "output")),
}


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    out_h, out_w = common.window_output_hw(in_shape[1:3], node.attrs)
    return (in_shape[0], out_h, out_w, in_shape[3])


def _max(attrs, x, lowest):
    x = x.reshape(as_image(x.shape))
    out_hw = common.window_output_hw(x.shape[1:3], attrs)
    padded = common.pad_nhwc(x, attrs["pads"], lowest)
    views = [view for _, _, view in common.taps(padded, attrs, out_hw)]
    return np.maximum.reduce(views)


def run_float(node, x):
    return common.clamp_float(_max(node.attrs, x, -np.inf), node)


def output_qparams(node, qin, observed):
    return qin  # a maximum never leaves its input's range


def quantize(node, qin, qout):
    assert qout == qin, "the kernel has no requantization: output_qparams keeps the input's"
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(act_min=act_min, act_max=act_max)


def run_int8(node, x):
    p = node.params
    out = _max(node.attrs, x.astype(np.int64), np.iinfo(np.int64).min)  # a padded tap never wins
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    return []


def c_fields(node, in_shape, out_shape):
    return common.window_fields(node.attrs, as_image(in_shape), out_shape)


def access(node, in_shape, out_shape):
    return common.window_access(node.attrs, as_image(in_shape), out_shape)


def cost(node, in_shape, out_shape):
    return common.Cost(int(np.prod(out_shape)) * node.attrs["kernel"][0] * node.attrs["kernel"][1], 0)


def error_bound(graph, node, e_in):
    """A maximum is 1-Lipschitz and needs no rounding."""
    return e_in
