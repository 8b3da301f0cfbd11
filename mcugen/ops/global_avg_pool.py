"""Global average pooling: the mean of each channel over the whole map, as TFLite's MEAN.

int8 in and out, any output quantization (TFLite's reference_ops::QuantizedMeanOrSum, which
TFLM runs for every int8 MEAN): the sum of q - zp_in over the H*W pixels, requantized once
by s_in / s_out with 1/(H*W) folded into its Q31 multiplier (fixedpoint.fold_count), + zp_out.
"""

import numpy as np

from mcugen.fixedpoint import fold_count, quantize_multiplier, requantize
from mcugen.layout import as_image
from mcugen.ops import common

KIND = "global_avg_pool"
TAKES_ACTIVATION = True
RESHAPE_READ = "image"


C_KERNELS = {
    "s8": common.CKernel("mcugen_global_avg_pool_s8", (("mcugen_global_avg_pool_s8_params_t", "p", (
        "pixels", "channels", "input_zp", "output_zp", "mult=count_mult", "shift=count_shift", "act_min",
        "act_max")),), common.UNARY),
    "f32": common.CKernel("mcugen_global_avg_pool_f32", (("mcugen_global_avg_pool_f32_params_t", "p", (
        "pixels", "channels", "act_min", "act_max")),), common.UNARY),
}


def output_shape(node, in_shape):
    return (in_shape[0], 1, 1, as_image(in_shape)[3])


def run_float(node, x):
    return common.clamp_float(x.reshape(as_image(x.shape)).mean(axis=(1, 2), keepdims=True), node)


def output_qparams(node, qin, observed):
    """The observed (or the model's) parameters; the input's when there are none."""
    return qin if observed is None else observed


def quantize(node, qin, qout):
    mult, shift = quantize_multiplier(qin.scale / qout.scale)
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(input_zp=qin.zero_point, output_zp=qout.zero_point, mult=mult, shift=shift,
                act_min=act_min, act_max=act_max)


def run_int8(node, x):
    p = node.params
    x = x.reshape(as_image(x.shape))
    pixels = x.shape[1] * x.shape[2]
    mult, shift = fold_count(p["mult"], p["shift"], pixels)
    total = x.astype(np.int64).sum(axis=(1, 2), keepdims=True) - pixels * p["input_zp"]
    out = requantize(total, mult, shift) + p["output_zp"]
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    return []


def c_fields(node, in_shape, out_shape):
    """The shape, and the multiplier with 1/pixels folded in (it depends on the shape)."""
    in_shape = as_image(in_shape)
    pixels = in_shape[1] * in_shape[2]
    fields = dict(pixels=pixels, channels=in_shape[3])
    if "mult" in node.params:  # int8 (the float32 kernel has no multiplier)
        fields["count_mult"], fields["count_shift"] = fold_count(node.params["mult"], node.params["shift"], pixels)
    return fields


def access(node, in_shape, out_shape):
    """Channel by channel; output[c] is written after channel c of every pixel is read."""
    return common.Access(np.arange(as_image(in_shape)[3]), 1)


def cost(node, in_shape, out_shape):
    return common.Cost(int(np.prod(in_shape)), 0)


def error_bound(graph, node, e_in):
    """A mean is 1-Lipschitz; requantization adds one output LSB (it rounds twice)."""
    return e_in + graph.tensors[node.output].q.scale
