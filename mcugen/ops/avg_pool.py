"""Average pooling over a 2-D window, int8 in and out with the same scale and zero point.

attrs: kernel, strides, pads (t, l, b, r), count_include_pad, act. As TFLite does, the
integer kernel sums the raw int8 values and divides by the tap count, rounding half away
from zero; with count_include_pad=0 (ONNX's default) padded taps are skipped and not
counted, with 1 they hold the zero point (real zero) and are counted.
"""

import numpy as np

from mcugen.fixedpoint import rounding_div
from mcugen.layout import as_image
from mcugen.ops import common

KIND = "avg_pool"
TAKES_ACTIVATION = True
RESHAPE_READ = "image"


C_KERNELS = {
    "s8": common.CKernel("mcugen_avg_pool_s8", (common.WINDOW, ("mcugen_avg_pool_s8_params_t", "p", (
        "input_zp", "count_include_pad", "act_min", "act_max"))), ("&dims", *common.UNARY)),
    "f32": common.CKernel("mcugen_avg_pool_f32", (common.WINDOW, ("mcugen_avg_pool_f32_params_t", "p", (
        "count_include_pad", "act_min", "act_max"))), ("&dims", *common.UNARY)),
}


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    out_h, out_w = common.window_output_hw(in_shape[1:3], node.attrs)
    return (in_shape[0], out_h, out_w, in_shape[3])


def run_float(node, x):
    total, count = _sum_and_count(node.attrs, x, 0.0)
    return common.clamp_float(total / count, node)


def output_qparams(node, qin, observed):
    return qin  # an average never leaves its input's range


def quantize(node, qin, qout):
    assert qout == qin, "the kernel has no requantization: output_qparams keeps the input's"
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(input_zp=qin.zero_point, act_min=act_min, act_max=act_max,
                count_include_pad=int(node.attrs["count_include_pad"]))


def run_int8(node, x):
    p = node.params
    pad_value = p["input_zp"] if p["count_include_pad"] else 0  # skipped taps add nothing
    total, count = _sum_and_count(node.attrs, x.astype(np.int64), pad_value)
    out = _divide(total, count)
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def _divide(total, count):
    counts = np.broadcast_to(count, total.shape)
    out = np.empty(total.shape, dtype=np.int64)
    for c in np.unique(counts):  # few distinct counts (borders), so vectorize per count
        mask = counts == c
        out[mask] = rounding_div(total[mask], int(c))
    return out


def _sum_and_count(attrs, x, pad_value):
    """Window sums, and the divisor for each output position ([1, OH, OW, 1])."""
    x = x.reshape(as_image(x.shape))
    out_hw = common.window_output_hw(x.shape[1:3], attrs)
    padded = common.pad_nhwc(x, attrs["pads"], pad_value)
    total = sum(view for _, _, view in common.taps(padded, attrs, out_hw))
    if attrs["count_include_pad"]:
        return total, np.full((1, *out_hw, 1), attrs["kernel"][0] * attrs["kernel"][1])
    ones = common.pad_nhwc(np.ones((1, *x.shape[1:3], 1), dtype=np.int64), attrs["pads"], 0)
    return total, sum(view for _, _, view in common.taps(ones, attrs, out_hw))


def arrays(node):
    return []


def c_fields(node, in_shape, out_shape):
    return common.window_fields(node.attrs, as_image(in_shape), out_shape)


def access(node, in_shape, out_shape):
    return common.window_access(node.attrs, as_image(in_shape), out_shape)


def cost(node, in_shape, out_shape):
    return common.Cost(int(np.prod(out_shape)) * node.attrs["kernel"][0] * node.attrs["kernel"][1], 0)


error_bound = common.rounded_once_error
