"""Global average pooling: the mean of each channel over the whole map.

int8 in and out with the same scale and zero point (the mean stays in the input's
range): sum the raw values, divide by H*W rounding half away from zero, as TFLite's MEAN.
"""

import numpy as np

from mcugen.fixedpoint import rounding_div
from mcugen.layout import as_image
from mcugen.ops import common

KIND = "global_avg_pool"
TAKES_ACTIVATION = True
RESHAPE_READ = "image"


C_KERNELS = {
    "s8": common.CKernel("mcugen_global_avg_pool_s8", (("mcugen_global_avg_pool_s8_params_t", "p", (
        "pixels", "channels", "act_min", "act_max")),), common.UNARY),
    "f32": common.CKernel("mcugen_global_avg_pool_f32", (("mcugen_global_avg_pool_f32_params_t", "p", (
        "pixels", "channels", "act_min", "act_max")),), common.UNARY),
}


def output_shape(node, in_shape):
    return (in_shape[0], 1, 1, as_image(in_shape)[3])


def run_float(node, x):
    return common.clamp_float(x.reshape(as_image(x.shape)).mean(axis=(1, 2), keepdims=True), node)


def output_qparams(node, qin, observed):
    return qin


def quantize(node, qin, qout):
    assert qout == qin, "the kernel has no requantization: output_qparams keeps the input's"
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(act_min=act_min, act_max=act_max)


def run_int8(node, x):
    p = node.params
    x = x.reshape(as_image(x.shape))
    total = x.astype(np.int64).sum(axis=(1, 2), keepdims=True)
    out = rounding_div(total, x.shape[1] * x.shape[2])
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    return []


def c_fields(node, in_shape, out_shape):
    in_shape = as_image(in_shape)
    return dict(pixels=in_shape[1] * in_shape[2], channels=in_shape[3])


def access(node, in_shape, out_shape):
    """Channel by channel; output[c] is written after channel c of every pixel is read."""
    return common.Access(np.arange(as_image(in_shape)[3]), 1)


def cost(node, in_shape, out_shape):
    return common.Cost(int(np.prod(in_shape)), 0)


error_bound = common.rounded_once_error
