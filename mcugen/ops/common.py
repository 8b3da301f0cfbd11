"""Math shared by the op modules: NHWC windows, weight quantization, requantization.

The integer routines here are the numpy reference of what the C kernels do. They work on
int64 arrays holding exact integers, so "the same integer steps" means the same values.
"""

from __future__ import annotations

import numpy as np

from mcugen.errors import McugenError, quote
from mcugen.fixedpoint import (
    INT32_MAX,
    quantize_multiplier,
    requantize,
    round_half_away,
)
from mcugen.ir import QParams
from mcugen.ops.base import Access, CKernel, Cost  # noqa: F401  the ops' vocabulary

INT8_MIN, INT8_MAX = -128, 127
BIAS_LIMIT = 2**30  # |quantized bias| stays below this, leaving int32 room for the products
BIAS_SCALE_RTOL = 1e-5  # a QDQ model's float32 bias scale against s_in * s_w[c] in float64


# ---------------------------------------------------------------------------- windows


def window_output_hw(in_hw, attrs) -> tuple[int, int]:
    (t, l, b, r), (kh, kw), (sh, sw) = attrs["pads"], attrs["kernel"], attrs["strides"]
    dh, dw = attrs.get("dilations", (1, 1))
    return ((in_hw[0] + t + b - (kh - 1) * dh - 1) // sh + 1,
            (in_hw[1] + l + r - (kw - 1) * dw - 1) // sw + 1)


def window_fields(attrs, in_shape, out_shape) -> dict:
    """The mcugen_conv_dims_t fields (mcugen/backend/kernels/mcugen_common.h) of a windowed op."""
    dh, dw = attrs.get("dilations", (1, 1))
    return dict(in_h=in_shape[1], in_w=in_shape[2], in_c=in_shape[3],
                out_h=out_shape[1], out_w=out_shape[2], out_c=out_shape[3],
                kernel_h=attrs["kernel"][0], kernel_w=attrs["kernel"][1],
                stride_h=attrs["strides"][0], stride_w=attrs["strides"][1],
                dilation_h=dh, dilation_w=dw, pad_top=attrs["pads"][0], pad_left=attrs["pads"][1])


def window_access(attrs, in_shape, out_shape) -> Access:
    """Windowed kernels loop over output pixels in row-major order, all channels of a pixel
    before the next pixel; a pixel reads no lower than its window's top-left valid tap."""
    (sh, sw), (pt, pl) = attrs["strides"], attrs["pads"][:2]
    oy, ox = np.meshgrid(np.arange(out_shape[1]), np.arange(out_shape[2]), indexing="ij")
    iy = np.clip(oy * sh - pt, 0, in_shape[1] - 1)
    ix = np.clip(ox * sw - pl, 0, in_shape[2] - 1)
    return Access(((iy * in_shape[2] + ix) * in_shape[3]).ravel(), out_shape[3])


def window_access_backward(attrs, in_shape, out_shape) -> Access:
    """The same kernels run back to front (last output pixel first, all channels of a pixel
    before the one before it), counted from the tensors' ends: a pixel reads no higher than
    its window's bottom-right valid tap."""
    (kh, kw), (sh, sw), (pt, pl) = attrs["kernel"], attrs["strides"], attrs["pads"][:2]
    dh, dw = attrs.get("dilations", (1, 1))
    oy, ox = np.meshgrid(np.arange(out_shape[1]), np.arange(out_shape[2]), indexing="ij")
    iy = np.clip(oy * sh - pt + (kh - 1) * dh, 0, in_shape[1] - 1)
    ix = np.clip(ox * sw - pl + (kw - 1) * dw, 0, in_shape[2] - 1)
    end = ((iy * in_shape[2] + ix + 1) * in_shape[3]).ravel()  # one past the highest byte read
    return Access((int(np.prod(in_shape[1:])) - end)[::-1], out_shape[3])


def pad_nhwc(x: np.ndarray, pads, value) -> np.ndarray:
    t, l, b, r = pads
    return np.pad(x, ((0, 0), (t, b), (l, r), (0, 0)), constant_values=value)


def taps(x_padded: np.ndarray, attrs, out_hw):
    """Yield (ky, kx, view): the padded input under kernel tap (ky, kx), as [N, OH, OW, C]."""
    (kh, kw), (sh, sw) = attrs["kernel"], attrs["strides"]
    dh, dw = attrs.get("dilations", (1, 1))
    oh, ow = out_hw
    for ky in range(kh):
        for kx in range(kw):
            y0, x0 = ky * dh, kx * dw
            yield ky, kx, x_padded[:, y0: y0 + (oh - 1) * sh + 1: sh, x0: x0 + (ow - 1) * sw + 1: sw, :]


# ---------------------------------------------------------------------------- quantization


def clamp_range(act, q: QParams) -> tuple[int, int]:
    """A fused activation's float bounds as an int8 clamp on the output, quantized as
    TFLite's CalculateActivationRangeQuantized does: zp + round(bound / scale), the division
    in float32. Bounds beyond int8 are clipped to it; an empty range [low > high] gives
    high, as ONNX's Clip does."""
    low, high = act if act is not None else (-np.inf, np.inf)

    def to_q(v, default):
        if np.isinf(v):
            return default
        with np.errstate(over="ignore"):  # a bound far beyond int8 becomes inf, then clips
            steps = round_half_away(np.float32(v) / np.float32(q.scale))
        return int(np.clip(q.zero_point + np.float64(steps), INT8_MIN, INT8_MAX))

    lo, hi = to_q(low, INT8_MIN), to_q(high, INT8_MAX)
    return min(lo, hi), hi


def quantize_weighted(node, qin: QParams, qout: QParams, channel_axis: int) -> dict:
    """Per-channel symmetric int8 weights, int32 bias with the input zero point folded in,
    and one Q31 multiplier + shift per output channel (docs/numeric-contract.md).

    The weights and bias are the model's own integers where a QDQ model gives them
    (weight_scale, bias_q: mcugen/frontend/qdq.py); else the weight scale of a channel is
    max|w| / 127, raised if need be until its bias fits in BIAS_LIMIT (a channel whose
    weights are tiny next to its bias, as after folding a BatchNorm with gamma near 0).
    Then the worst-case accumulator, |bias'| + 128 * sum|w|, is proved to fit in int32, so
    the C never overflows; a layer where it cannot is refused."""
    w, b = node.attrs["weight"], node.attrs["bias"]
    other_axes = tuple(i for i in range(w.ndim) if i != channel_axis)
    shape = [1] * w.ndim
    shape[channel_axis] = -1
    w_scale = _weight_scale(node, w, b, qin, other_axes)
    w_q = np.clip(round_half_away(w / w_scale.reshape(shape)), -127, 127).astype(np.int8)
    if "weight_scale" in node.attrs:  # the model's integers, recovered exactly from their float values
        assert np.allclose(w / w_scale.reshape(shape), w_q, rtol=0, atol=1e-3), "weights changed after import"
    bias_scale = qin.scale * w_scale
    b_q = _bias(node, b, bias_scale)
    folded = b_q - qin.zero_point * w_q.astype(np.int64).sum(axis=other_axes)
    worst = np.abs(folded) + 128 * np.abs(w_q.astype(np.int64)).sum(axis=other_axes)
    if worst.max() > INT32_MAX:
        raise McugenError(
            f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}): its int32 accumulator could "
            f"overflow (worst case {int(worst.max()):,} > {INT32_MAX:,}); the layer is too large for int8"
        )
    pairs = [quantize_multiplier(m) for m in bias_scale / qout.scale]
    act_min, act_max = clamp_range(node.attrs.get("act"), qout)
    return dict(
        weight=w_q,
        bias=folded.astype(np.int32),
        mult=np.array([m for m, _ in pairs], dtype=np.int32),
        shift=np.array([s for _, s in pairs], dtype=np.int32),
        input_zp=qin.zero_point,
        output_zp=qout.zero_point,
        act_min=act_min,
        act_max=act_max,
        acc_bound=int(worst.max()),
    )


def fast_requant(node) -> int:
    """1 when the C may use mcugen_requant_fast_s8 (kernels/mcugen_common_s8.h): every channel
    has a right shift of at least 2 (a multiplier below 1/4) and a normalized multiplier
    above 2^30, as normal layers do. Derived from the arrays themselves, so it holds for
    any parameters, calibrated or hand-made."""
    p = node.params
    if "shift" not in p:  # not quantized (the float32 path has no requantization)
        return 0
    return int(bool(np.all(p["shift"] <= -2) and np.all(p["mult"] > 2**30)))


def _weight_scale(node, w, b, qin: QParams, other_axes) -> np.ndarray:
    given = node.attrs.get("weight_scale")
    if given is not None:
        return np.asarray(given, dtype=np.float64)
    w_scale = np.maximum(np.max(np.abs(w), axis=other_axes) / 127.0, np.abs(b) / (qin.scale * BIAS_LIMIT))
    return np.where(w_scale > 0, w_scale, 1.0)


def _bias(node, b, bias_scale) -> np.ndarray:
    """The model's int32 bias when its scale is ours (s_in * s_w[c], up to float32
    rounding), else b rounded at our scale."""
    given = node.attrs.get("bias_q")
    if given is not None and np.allclose(node.attrs["bias_scale"], bias_scale, rtol=BIAS_SCALE_RTOL, atol=0):
        return np.asarray(given, dtype=np.int64)
    return round_half_away(b / bias_scale).astype(np.int64)


def observed_qparams(node, *qins_and_observed):
    """The output_qparams hook (node, *qins, observed) of ops whose output range comes from
    calibration: the observed one."""
    return qins_and_observed[-1]


def run_weighted_float(node, x, accumulate):
    """Float reference of a weighted op: accumulate(node, x, weight, pad_value) + bias, clamped."""
    return clamp_float(accumulate(node, x, node.attrs["weight"], 0.0) + node.attrs["bias"], node)


def run_weighted_int8(node, x, accumulate):
    """Integer reference of a weighted op: the same sums in int64 (padding holds the input
    zero point, real zero), the folded bias, then requantization."""
    p = node.params
    acc = accumulate(node, x.astype(np.int64), p["weight"].astype(np.int64), p["input_zp"]) + p["bias"]
    # quantize_weighted proved this; if it fails, the C would overflow where numpy does not.
    assert np.all(np.abs(acc) <= p.get("acc_bound", INT32_MAX)), "accumulator beyond its proven bound"
    return requantize_output(acc, p)


def requantize_output(acc: np.ndarray, p: dict) -> np.ndarray:
    """int32 accumulators -> int8 outputs: multiplier, shift, zero point, clamp."""
    out = requantize(acc, p["mult"], p["shift"]) + p["output_zp"]
    return np.clip(out, p["act_min"], p["act_max"]).astype(np.int8)


def weighted_arrays(node) -> list[tuple[str, str, np.ndarray]]:
    p = node.params
    return [("weight", "int8_t", p["weight"]), ("bias", "int32_t", p["bias"]),
            ("mult", "int32_t", p["mult"]), ("shift", "int32_t", p["shift"])]


def weighted_flash(weight_count: int, channels: int) -> int:
    """int8 weights + int32 bias, multiplier and shift per output channel."""
    return weight_count + 12 * channels


def clamp_float(y: np.ndarray, node) -> np.ndarray:
    low, high = node.attrs.get("act", (-np.inf, np.inf))
    return np.clip(y, low, high)


# ---------------------------------------------------------------------------- error rules
# The ops' error_bound hooks (mcugen/quant/errorbound.py carries the error through the graph).


def largest_magnitude(q: QParams) -> float:
    """The largest |real value| an int8 tensor with these parameters can hold."""
    return q.scale * max(127 - q.zero_point, q.zero_point + 128)


def weighted_error(graph, node, e_in, channel_axis: int) -> float:
    """L = max_c sum|w_c| (the filter's L1 norm); own = X * max_c sum|w^_c - w_c| (each
    weight's rounding, X the largest input magnitude the input scale can hold) + half a
    bias LSB (s_in s_w / 2) + one output LSB (requantization rounds twice: the doubling
    high multiply, the shift)."""
    qin, qout = graph.tensors[node.input].q, graph.tensors[node.output].q
    w, p = node.attrs["weight"], node.params
    others = tuple(i for i in range(w.ndim) if i != channel_axis)
    shape = [-1 if i == channel_axis else 1 for i in range(w.ndim)]
    multiplier = p["mult"].astype(np.float64) * np.exp2(p["shift"].astype(np.float64) - 31)
    w_scale = multiplier * qout.scale / qin.scale  # M = s_in s_w / s_out, as quantize_weighted set it
    rounding = np.abs(p["weight"] * w_scale.reshape(shape) - w).sum(axis=others)
    lipschitz = np.abs(w).sum(axis=others).max()
    own = largest_magnitude(qin) * rounding.max() + (qin.scale * w_scale).max() / 2 + qout.scale
    return lipschitz * e_in + own


def rounded_once_error(graph, node, e_in) -> float:
    """An integer mean at the input's scale: e + half an output LSB (rounded once)."""
    return e_in + graph.tensors[node.output].q.scale / 2


# ---------------------------------------------------------------------------- C kernels
# The structs the library's kernels take (mcugen/backend/kernels/mcugen_common*.h) and the
# usual argument lists, for the ops' C_KERNELS: (C type, name, fields).

WINDOW = ("mcugen_conv_dims_t", "dims", ("in_h", "in_w", "in_c", "out_h", "out_w", "out_c", "kernel_h", "kernel_w",
                                         "stride_h", "stride_w", "dilation_h", "dilation_w", "pad_top", "pad_left"))
REQUANT = ("mcugen_requant_t", "q", ("input_zp", "output_zp", "act_min", "act_max", "mult", "shift", "fast"))
ACT = ("mcugen_act_f32_t", "act", ("act_min", "act_max"))
WEIGHTED = ("input", "weight", "bias", "output")
UNARY = ("&p", "input", "output")
BINARY = ("&p", "input", "input1", "output")


def row_window(node) -> tuple[int, int, int] | None:
    """(kernel_h, stride_h, pad_top) of a window op: the rows of its input each output row
    reads, for a row pipeline (planner/rows.py; the kernel runs per output row with
    out_h = 1); None with a dilation (the window's rows are not contiguous)."""
    a = node.attrs
    if a.get("dilations", (1, 1))[0] != 1:
        return None
    return a["kernel"][0], a["strides"][0], a["pads"][0]


def row_fields(node, in_shape) -> dict:
    """The dims a window op's row pipeline call changes (codegen: C expressions, from the
    rows in the window and their padding above): one output row."""
    return dict(in_h="rows", out_h="1", pad_top="pad_top")
