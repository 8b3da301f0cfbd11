"""One small importer per ONNX op type: it reads the node's attributes and constant inputs
and returns IR nodes. Importers only translate; rewrites that span several nodes (folding
BatchNorm, Pad, activations) are passes, in mcugen/passes/."""

from __future__ import annotations

import math

import numpy as np
import onnx

from mcugen.errors import McugenError, quote
from mcugen.frontend import qdq
from mcugen.frontend.context import INF, attr, describe
from mcugen.frontend.shapes import array_of, checked_constant, reshape_permutation
from mcugen.ir import Node
from mcugen.ops.common import pad_nhwc, taps, window_output_hw


def _ir(node, op, inputs, **attrs) -> Node:
    return Node(node.name, op, list(inputs), [node.output[0]], attrs, node.op_type)


def _spatial_pads(node, ctx, in_hw, kernel, strides, dilations) -> tuple[int, int, int, int]:
    """ONNX pads/auto_pad for a 2-D window, as (top, left, bottom, right)."""
    auto_pad = attr(node, "auto_pad", "NOTSET")
    if auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        pads = []
        for size, k, s, d in zip(in_hw, kernel, strides, dilations):
            total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
            small, big = total // 2, total - total // 2
            pads.append((small, big) if auto_pad == "SAME_UPPER" else (big, small))
        return pads[0][0], pads[1][0], pads[0][1], pads[1][1]
    if auto_pad not in ("NOTSET", "VALID"):
        raise McugenError(f"{describe(node, ctx.opset)}: unknown auto_pad {quote(auto_pad)}")
    pads = attr(node, "pads", [0, 0, 0, 0]) if auto_pad == "NOTSET" else [0, 0, 0, 0]
    if len(pads) != 4 or min(pads) < 0:
        raise McugenError(f"{describe(node, ctx.opset)}: bad pads {list(pads)}")
    return int(pads[0]), int(pads[1]), int(pads[2]), int(pads[3])


def _window(node, ctx, kernel):
    strides = tuple(attr(node, "strides", [1, 1]))
    dilations = tuple(attr(node, "dilations", [1, 1]))
    if len(strides) != 2 or len(dilations) != 2 or min(strides) < 1 or min(dilations) < 1:
        raise McugenError(f"{describe(node, ctx.opset)}: bad strides {strides} or dilations {dilations}")
    in_hw = ctx.shape(node.input[0])[2:]
    pads = _spatial_pads(node, ctx, in_hw, kernel, strides, dilations)
    return dict(kernel=tuple(kernel), strides=strides, dilations=dilations, pads=pads)


def _require_rank(node, ctx, rank, what):
    shape = ctx.shapes.get(node.input[0])
    if shape is None or len(shape) != rank:
        raise McugenError(f"{describe(node, ctx.opset)}: only {what} is supported (input shape {shape})")
    return shape


def import_conv(node, ctx):
    in_shape = _require_rank(node, ctx, 4, "2-D convolution")
    w = ctx.const(node, 1, "W")
    out_c, in_per_group, kh, kw = w.shape
    bias = ctx.const(node, 2, "B", required=False)
    bias = np.zeros(out_c) if bias is None else bias.reshape(out_c)
    group = int(attr(node, "group", 1))
    if group < 1 or in_per_group * group != in_shape[1]:
        raise McugenError(f"{describe(node, ctx.opset)}: weights for {in_per_group} x group {group} input "
                          f"channels, but the input has {in_shape[1]}")
    window = dict(_window(node, ctx, (kh, kw)), **_given(node, ctx, 1, 2, axis=0, channels=out_c))
    if group == 1:
        return [_ir(node, "conv", node.input[:1], weight=w.transpose(0, 2, 3, 1), bias=bias, **window)]
    if group == in_shape[1] and out_c == group and in_per_group == 1:
        weight = w[:, 0].transpose(1, 2, 0)  # [kh, kw, C]: channels innermost, as NHWC reads them
        return [_ir(node, "depthwise_conv", node.input[:1], weight=weight, bias=bias, **window)]
    raise McugenError(
        f"{describe(node, ctx.opset)} is not supported: group={group} with {in_shape[1]} input and "
        f"{out_c} output channels; mcugen supports group 1 and depthwise (group = channels, multiplier 1)"
    )


def import_batch_norm(node, ctx):
    if int(attr(node, "training_mode", 0)) or any(node.output[1:]):
        raise McugenError(f"{describe(node, ctx.opset)}: training-mode BatchNormalization is not supported")
    if not int(attr(node, "spatial", 1)):
        raise McugenError(f"{describe(node, ctx.opset)}: BatchNormalization with spatial=0 is not supported")
    channels = ctx.shape(node.input[0])[1]
    gamma, beta, mean, var = (ctx.const(node, i, w) for i, w in enumerate(["scale", "B", "mean", "var"], 1))
    if any(v.size != channels for v in (gamma, beta, mean, var)):
        raise McugenError(f"{describe(node, ctx.opset)}: parameters must have one value per channel ({channels})")
    var = var.reshape(-1) + float(attr(node, "epsilon", 1e-5))
    if np.any(var <= 0):
        raise McugenError(f"{describe(node, ctx.opset)}: variance + epsilon must be positive")
    gamma, beta, mean = gamma.reshape(-1), beta.reshape(-1), mean.reshape(-1)
    scale = gamma / np.sqrt(var)
    return [_ir(node, "batch_norm", node.input[:1], scale=scale, shift=beta - mean * scale)]


def import_relu(node, ctx):
    return [_ir(node, "clip", node.input[:1], low=0.0, high=INF)]


def import_clip(node, ctx):
    if ctx.opset < 11:
        low, high = float(attr(node, "min", -INF)), float(attr(node, "max", INF))
    else:
        lo, hi = ctx.const(node, 1, "min", required=False), ctx.const(node, 2, "max", required=False)
        low = -INF if lo is None else float(lo.reshape(-1)[0])
        high = INF if hi is None else float(hi.reshape(-1)[0])
    return [_ir(node, "clip", node.input[:1], low=low, high=high)]


def import_global_avg_pool(node, ctx):
    _require_rank(node, ctx, 4, "2-D pooling")
    return [_ir(node, "global_avg_pool", node.input[:1])]


def import_global_max_pool(node, ctx):
    """The largest value of each channel over the whole map: a max pool whose window is the map."""
    _require_rank(node, ctx, 4, "2-D pooling")
    h, w = ctx.shape(node.input[0])[2:]
    return [_ir(node, "max_pool", node.input[:1], kernel=(h, w), strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0))]


def import_avg_pool(node, ctx):
    _require_rank(node, ctx, 4, "2-D pooling")
    kernel = tuple(attr(node, "kernel_shape"))
    window = _window(node, ctx, kernel)
    if window["dilations"] != (1, 1):
        raise McugenError(f"{describe(node, ctx.opset)}: dilated pooling is not supported")
    t, l, b, r = window["pads"]
    if max(t, b) >= kernel[0] or max(l, r) >= kernel[1]:  # a window of padding only
        raise McugenError(f"{describe(node, ctx.opset)}: pads {list(window['pads'])} must be smaller than the kernel")
    if int(attr(node, "ceil_mode", 0)):
        floor_hw = window_output_hw(ctx.shape(node.input[0])[2:], window)
        if floor_hw != ctx.shape(node.output[0])[2:]:
            raise McugenError(f"{describe(node, ctx.opset)}: ceil_mode=1 with a partial last window is not supported")
    include_pad = bool(int(attr(node, "count_include_pad", 0)))
    return [_ir(node, "avg_pool", node.input[:1], count_include_pad=include_pad, **window)]


def import_reshape(node, ctx):
    """Flatten, Reshape, Squeeze, Unsqueeze: free unless they reorder NHWC memory."""
    in_shape, out_shape = ctx.shape(node.input[0]), ctx.shapes.get(node.output[0])
    if out_shape is None:
        raise McugenError(f"{describe(node, ctx.opset)}: output shape is dynamic")
    if out_shape[:1] != (1,):
        raise McugenError(f"{describe(node, ctx.opset)}: a reshape to {list(out_shape)} changes the batch of 1")
    return [_ir(node, "reshape", node.input[:1], perm=reshape_permutation(in_shape, out_shape))]


def import_transpose(node, ctx):
    """A Transpose is a reshape that moves bytes: free when NHWC memory keeps its order
    (tf2onnx's NCHW -> NHWC before a Flatten: the two together read NHWC memory in order),
    else folded into the next Gemm's weights like a flatten (passes/remove_reshape.py).
    The NHWC input's own Transpose is absorbed before import (mcugen/frontend/tidy.py)."""
    in_shape = ctx.shape(node.input[0])
    perm = attr(node, "perm", list(range(len(in_shape)))[::-1])
    if not isinstance(perm, list) or sorted(perm) != list(range(len(in_shape))) or perm[0] != 0:
        raise McugenError(f"{describe(node, ctx.opset)}: only a Transpose that keeps the batch first is supported "
                          f"(perm {perm} of {list(in_shape)})")
    return [_ir(node, "reshape", node.input[:1], perm=reshape_permutation(in_shape, None, perm))]


def import_gemm(node, ctx):
    if int(attr(node, "transA", 0)) or node.input[0] in ctx.consts:
        raise McugenError(f"{describe(node, ctx.opset)}: only Gemm(activation, constant) without transA is supported")
    _require_rank(node, ctx, 2, "a 2-D Gemm input")
    b = ctx.const(node, 1, "B")
    if b.ndim != 2:
        raise McugenError(f"{describe(node, ctx.opset)}: B must be 2-D")
    trans_b = int(attr(node, "transB", 0))
    weight = b if trans_b else b.T  # [out, in]
    _check_features(node, ctx, weight.shape[1])
    alpha, beta = float(attr(node, "alpha", 1.0)), float(attr(node, "beta", 1.0))
    weight = weight * alpha
    c = ctx.const(node, 2, "C", required=False)
    bias = np.zeros(weight.shape[0]) if c is None else np.broadcast_to(c, (1, weight.shape[0]))[0]
    bias = bias * beta
    given = _given(node, ctx, 1, 2, axis=0 if trans_b else 1, channels=weight.shape[0]) if (alpha, beta) == (1, 1) else {}
    return [_ir(node, "fully_connected", node.input[:1], weight=weight, bias=np.array(bias), **given)]


def import_matmul(node, ctx):
    if node.input[0] in ctx.consts:
        raise McugenError(f"{describe(node, ctx.opset)}: only MatMul(activation, constant) is supported")
    _require_rank(node, ctx, 2, "a 2-D MatMul input")
    b = ctx.const(node, 1, "B")
    if b.ndim != 2:
        raise McugenError(f"{describe(node, ctx.opset)}: the constant operand must be 2-D")
    _check_features(node, ctx, b.shape[0])
    given = _given(node, ctx, 1, None, axis=1, channels=b.shape[1])
    return [_ir(node, "fully_connected", node.input[:1], weight=b.T, bias=np.zeros(b.shape[1]), **given)]


def _given(node, ctx, w_index, b_index, axis, channels) -> dict:
    """What a QDQ model fixes for a weighted node (mcugen/frontend/qdq.py): `weight_scale`, one per
    output channel (`axis` of the ONNX weight), when its int8 weights fit the contract, and
    the int32 `bias_q` with its `bias_scale`. Weights that do not fit are re-quantized."""
    given = {}
    quantized_w = ctx.quantized.get(node.input[w_index])
    scale, why = qdq.weight_scale(quantized_w, axis, channels)
    if scale is not None:
        given["weight_scale"] = scale
    elif quantized_w is not None:
        ctx.requantized.append(f"{quote(node.name or '<unnamed>')}: {why}")
    if b_index is not None and b_index < len(node.input) and scale is not None:
        bias = qdq.bias_values(ctx.quantized.get(node.input[b_index]), channels)
        if bias is not None:
            given["bias_q"], given["bias_scale"] = bias
    return given


def _check_features(node, ctx, expected: int) -> None:
    features = ctx.shape(node.input[0])[1]
    if features != expected:
        raise McugenError(f"{describe(node, ctx.opset)}: weights for {expected} input features, "
                          f"but the input has {features}")


def import_arith(node, ctx):
    """Add, Sub, Mul, Div: of two activations (residual Add, channel-wise Mul), or of an
    activation and a constant (a MatMul's bias, or scalar arithmetic: a lookup table)."""
    if len(node.input) != 2:
        raise McugenError(f"{describe(node, ctx.opset)}: expected two inputs")
    a, b = node.input
    if a not in ctx.consts and b not in ctx.consts:
        return _two_activations(node, ctx, a, b)
    const_first = a in ctx.consts
    activation, value = (b, ctx.consts[a]) if const_first else (a, ctx.consts[b])
    shape = ctx.shape(activation)
    if node.op_type == "Add" and len(shape) == 2 and value.size in (1, shape[1]):
        return [_ir(node, "bias_add", [activation], bias=np.broadcast_to(value.reshape(-1), (shape[1],)).copy())]
    if value.size > 1 and len(shape) == 4 and _per_channel(value, shape[1]):
        return [_channel_affine(node, ctx, activation, value.reshape(-1).astype(np.float64), const_first)]
    if value.size != 1:
        raise McugenError(f"{describe(node, ctx.opset)}: only a scalar constant operand, or one value per "
                          f"channel [1,C,1,1], is supported (this one has shape {list(value.shape)})")
    c = float(value.reshape(-1)[0])
    exact = _quantized_scalar_step(node, ctx, ctx.quantized.get(b if not const_first else a), const_first)
    if exact is not None:
        return [_ir(node, "lut", [activation], steps=(exact,))]
    steps = {"Add": (1.0, c), "Sub": (-1.0, c) if const_first else (1.0, -c), "Mul": (c, 0.0)}
    if node.op_type == "Div":
        if const_first or c == 0.0:
            raise McugenError(f"{describe(node, ctx.opset)}: only division of an activation by a non-zero constant "
                              "is supported")
        steps["Div"] = (1.0 / c, 0.0)
    return [_ir(node, "lut", [activation], steps=(("affine", *steps[node.op_type]),))]


def _quantized_scalar_step(node, ctx, quantized, const_first: bool) -> tuple | None:
    """Add, Sub or Mul by a constant the model quantized itself (8-bit, one scale), as the
    step that keeps its integer: TFLite's ADD, SUB and MUL with a constant operand compute
    from the constant's integer and scale, not from its real value (ops/tflite_tables.py).
    Sub of an activation from a constant has no such step."""
    if quantized is None or quantized.scale.size != 1 or np.dtype(quantized.values.dtype) not in qdq.ACTIVATION_TYPES:
        return None
    if node.op_type not in ("Add", "Sub", "Mul") or (node.op_type == "Sub" and const_first):
        return None
    k = int(quantized.values.astype(np.int64).reshape(-1)[0]) - int(quantized.zero_point.reshape(()))
    return (node.op_type.lower() + "_q", k, float(quantized.scale.reshape(())))


def _per_channel(value: np.ndarray, channels: int) -> bool:
    """One value per channel of an NCHW image: shape [C,1,1] or [1,C,1,1]."""
    dims = list(value.shape)
    return value.size == channels and dims[-2:] == [1, 1] and len(dims) in (3, 4) and dims[-3] == channels


def _channel_affine(node, ctx, activation, c, const_first):
    """A per-channel normalization (x - mean) / std as a BatchNormalization (scale, shift),
    which folds into the conv before it or becomes a 1x1 depthwise layer (passes/fold_batchnorm.py)."""
    ones, zeros = np.ones_like(c), np.zeros_like(c)
    if node.op_type == "Div":
        if const_first or np.any(c == 0.0):
            raise McugenError(f"{describe(node, ctx.opset)}: only division of an activation by non-zero constants "
                              "is supported")
        scale, shift = 1.0 / c, zeros
    else:
        scale, shift = {"Add": (ones, c), "Mul": (c, zeros),
                        "Sub": (-ones, c) if const_first else (ones, -c)}[node.op_type]
    return _ir(node, "batch_norm", [activation], scale=scale, shift=shift)


def _two_activations(node, ctx, a, b):
    """Residual Add of equal shapes; Mul of equal shapes or by one value per channel."""
    sa, sb = ctx.shape(a), ctx.shape(b)
    if node.op_type == "Add" and sa == sb:
        return [_ir(node, "add", [a, b])]
    if node.op_type == "Mul":
        per_channel = lambda big, small: len(big) == 4 and tuple(small) == (big[0], big[1], 1, 1)  # noqa: E731
        if sa == sb or per_channel(sa, sb):
            return [_ir(node, "mul", [a, b])]
        if per_channel(sb, sa):
            return [_ir(node, "mul", [b, a])]
    raise McugenError(
        f"{describe(node, ctx.opset)} of two tensors {list(sa)} and {list(sb)} is not supported; mcugen supports "
        "Add of equal shapes, and Mul of equal shapes or by one value per channel [N,C,1,1]")


def import_min_max(node, ctx):
    """Max(x, c) and Min(x, c) with a constant scalar c: clamps, as ReLU6 is sometimes written."""
    consts = [name for name in node.input if name in ctx.consts]
    activations = [name for name in node.input if name not in ctx.consts]
    if len(node.input) != 2 or len(consts) != 1 or ctx.consts[consts[0]].size != 1:
        raise McugenError(f"{describe(node, ctx.opset)}: only {node.op_type} of a tensor and a constant scalar "
                          "is supported")
    c = float(ctx.consts[consts[0]].reshape(-1)[0])
    low, high = (c, INF) if node.op_type == "Max" else (-INF, c)
    return [_ir(node, "clip", activations, low=low, high=high)]


def import_elementwise(node, ctx):
    """HardSwish, HardSigmoid, Sigmoid, Tanh, LeakyRelu: 256-entry lookup tables (mcugen/ops/lut.py)."""
    if node.op_type == "HardSigmoid":
        step = ("hardsigmoid", float(attr(node, "alpha", 0.2)), float(attr(node, "beta", 0.5)))
    elif node.op_type == "LeakyRelu":
        step = ("leakyrelu", float(attr(node, "alpha", 0.01)))
    else:
        step = (node.op_type.lower(),)
    return [_ir(node, "lut", node.input[:1], steps=(step,))]


def import_prelu(node, ctx):
    """PRelu with a constant slope, one value per channel (axis 1: [C,1,1] or [1,C,1,1] of
    an image, [C] of a vector) or one for all: the prelu op (mcugen/ops/prelu.py), with the
    model's int8 slopes when they are behind a DequantizeLinear (per tensor). One float
    slope for all is a LeakyRelu table, which is TFLite's LEAKY_RELU exactly."""
    slope, shape = ctx.const(node, 1, "slope"), ctx.shape(node.input[0])
    quantized = ctx.quantized.get(node.input[1])
    if quantized is None and slope.size > 0 and np.all(slope == slope.reshape(-1)[0]):
        return [_ir(node, "lut", node.input[:1], steps=(("leakyrelu", float(slope.reshape(-1)[0])),))]
    padded = (1,) * (len(shape) - slope.ndim) + tuple(slope.shape)
    if len(shape) not in (2, 4) or len(padded) != len(shape) or slope.size == 0 or \
            any(n != 1 for i, n in enumerate(padded) if i != 1) or padded[1] not in (1, shape[1]):
        raise McugenError(f"{describe(node, ctx.opset)}: only PRelu with one slope per channel ([C,1,1] or "
                          f"[1,C,1,1] of an image, [C] of a vector) or one for all is supported (this one has a "
                          f"slope of shape {list(slope.shape)} for an input of {list(shape)})")
    channels = shape[1]
    attrs = dict(slope=np.broadcast_to(slope.reshape(-1).astype(np.float64), (channels,)).copy())
    if quantized is not None:
        dtype = np.dtype(quantized.values.dtype)
        if quantized.scale.size == 1 and dtype in qdq.ACTIVATION_TYPES:
            shift = qdq.ACTIVATION_TYPES[dtype]
            values = quantized.values.astype(np.int64).reshape(-1) - shift
            attrs.update(slope_q=np.broadcast_to(values, (channels,)).copy(), slope_scale=float(quantized.scale.reshape(())),
                         slope_zero_point=int(quantized.zero_point.reshape(())) - shift)
        else:
            ctx.requantized.append(f"{quote(node.name or '<unnamed>')}: its slope is not 8-bit per tensor")
    return [_ir(node, "prelu", node.input[:1], **attrs)]


def import_max_pool(node, ctx):
    _require_rank(node, ctx, 4, "2-D pooling")
    if len(node.output) > 1 and node.output[1]:
        raise McugenError(f"{describe(node, ctx.opset)}: MaxPool's Indices output is not supported")
    if int(attr(node, "storage_order", 0)):
        raise McugenError(f"{describe(node, ctx.opset)}: storage_order=1 is not supported")
    window = _window(node, ctx, tuple(attr(node, "kernel_shape")))
    in_hw = ctx.shape(node.input[0])[2:]
    if int(attr(node, "ceil_mode", 0)) and window_output_hw(in_hw, window) != ctx.shape(node.output[0])[2:]:
        raise McugenError(f"{describe(node, ctx.opset)}: ceil_mode=1 with a partial last window is not supported")
    ones = pad_nhwc(np.ones((1, *in_hw, 1)), window["pads"], 0.0)  # 1 where a tap reads input
    if sum(view for _, _, view in taps(ones, window, window_output_hw(in_hw, window))).min() <= 0:
        raise McugenError(f"{describe(node, ctx.opset)}: pads {list(window['pads'])} leave a window with no input")
    return [_ir(node, "max_pool", node.input[:1], **window)]


def import_reduce_mean(node, ctx):
    """ReduceMean over height and width: global average pooling (torch's AdaptiveAvgPool(1))."""
    shape = _require_rank(node, ctx, 4, "ReduceMean of a 4-D tensor")
    axes = attr(node, "axes") if ctx.opset < 18 else ctx.const(node, 1, "axes", required=False)
    axes = sorted(int(a) % 4 for a in (axes if axes is not None else []))
    if axes != [2, 3]:
        raise McugenError(f"{describe(node, ctx.opset)}: only ReduceMean over height and width (axes 2, 3) is "
                          f"supported, not axes {axes} of {list(shape)}")
    return [_ir(node, "global_avg_pool", node.input[:1])]


def import_softmax(node, ctx):
    """Softmax over the axis that is last in NHWC: the last of a vector, or the channels of
    an image (axis 1 of [N,C,H,W], as PaddlePaddle writes it). Before opset 13 Softmax
    works on all the axes from `axis` on, which must then be the channels alone."""
    shape = ctx.shape(node.input[0])
    rank = len(shape)
    axis = int(attr(node, "axis", 1 if ctx.opset < 13 else -1))
    if not -rank <= axis < rank:
        raise McugenError(f"{describe(node, ctx.opset)}: axis {axis} is out of range for {list(shape)}")
    axis %= rank
    reduced = range(axis, rank) if ctx.opset < 13 else [axis]
    channels = 1 if rank == 4 else rank - 1  # the ONNX axis that NHWC stores last
    if {a for a in reduced if shape[a] != 1} != {channels} or channels not in reduced:
        raise McugenError(f"{describe(node, ctx.opset)}: Softmax over axis {axis} of {list(shape)} is not supported; "
                          "mcugen computes it over the axis that is last in NHWC: the channels of an image, "
                          "the last axis otherwise")
    if shape[channels] > 65535:  # the kernel's int32 sum of 2**15-scaled exponentials must not overflow
        raise McugenError(f"{describe(node, ctx.opset)}: at most 65,535 classes are supported, not {shape[channels]:,}")
    return [_ir(node, "softmax", node.input[:1])]


RESIZE_TRANSFORMS = ("half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn")
# How frontend/tflite/convert.py writes TFLite's flags, and the resize op's TFLite tables for them.
TFLITE_RESIZE = {"half_pixel": "tflite_half_pixel", "tf_half_pixel_for_nn": "tflite_half_pixel",
                 "align_corners": "tflite_align_corners", "asymmetric": "tflite_asymmetric"}
NEAREST_MODES = ("round_prefer_floor", "round_prefer_ceil", "floor", "ceil")
MAX_RESIZE_SIDE = 32767  # the kernels' index tables are int16


def import_resize(node, ctx):
    """Resize (opsets 10 to 19) and Upsample of an image's height and width by constant
    scales or sizes: nearest or bilinear (mcugen/ops/resize.py). Before opset 11 the
    coordinates are asymmetric and nearest rounds as onnxruntime does: down when
    enlarging, up when shrinking."""
    where = describe(node, ctx.opset)
    in_shape = _require_rank(node, ctx, 4, "resizing an image [N,C,H,W]")
    out_shape = ctx.shape(node.output[0])
    mode = attr(node, "mode", "nearest")
    if node.op_type == "Upsample" or ctx.opset < 11:
        scales = attr(node, "scales") if node.op_type == "Upsample" and ctx.opset < 9 else ctx.const(node, 1, "scales")
        scales, sizes, transform = None if scales is None else np.asarray(scales).reshape(-1), None, "asymmetric"
        shrink = {bool(s < 1) for s in ([] if scales is None else scales[2:]) if s != 1}
        if len(shrink) > 1 and mode == "nearest":
            raise McugenError(f"{where}: nearest resizing that enlarges one side and shrinks the other is not "
                              "supported before opset 11")
        nearest_mode = "ceil" if shrink == {True} else "floor"
    else:
        transform = attr(node, "coordinate_transformation_mode", "half_pixel")
        nearest_mode = attr(node, "nearest_mode", "round_prefer_floor")
        for name, default in (("antialias", 0), ("exclude_outside", 0), ("keep_aspect_ratio_policy", "stretch")):
            if attr(node, name, default) != default:
                raise McugenError(f"{where}: {name}={attr(node, name)} is not supported")
        if transform not in RESIZE_TRANSFORMS:
            raise McugenError(f"{where}: coordinate_transformation_mode {quote(transform)} is not supported; "
                              f"supported: {', '.join(RESIZE_TRANSFORMS)}")
        if nearest_mode not in NEAREST_MODES:
            raise McugenError(f"{where}: nearest_mode {quote(nearest_mode)} is not supported")
        scales, sizes = (ctx.const(node, i, what, required=False) for i, what in ((2, "scales"), (3, "sizes")))
        scales, sizes = (None if v is None or v.size == 0 else v.reshape(-1) for v in (scales, sizes))
        axes = attr(node, "axes")
        if axes is not None and sorted(int(a) % 4 for a in axes) not in ([2, 3], [0, 1, 2, 3]):
            raise McugenError(f"{where}: only resizing along all axes or height and width is supported, "
                              f"not axes {list(axes)}")
        if axes is not None:  # scales or sizes of these axes only: the others keep their size
            scales, sizes = (None if v is None or len(v) != len(axes) else _on_axes(v, axes, default)
                             for v, default in ((scales, [1.0] * 4), (sizes, list(in_shape))))
    if mode not in ("nearest", "linear"):
        raise McugenError(f"{where}: mode {quote(mode)} is not supported; supported: nearest, linear")
    if (scales is None) == (sizes is None) or len(scales if sizes is None else sizes) != 4:
        raise McugenError(f"{where}: needs either scales or sizes for the 4 axes, as constants")
    if (list(scales[:2]) != [1, 1] if sizes is None else list(sizes[:2]) != list(in_shape[:2])) or \
            tuple(out_shape[:2]) != tuple(in_shape[:2]) or min(out_shape[2:]) < 1:
        raise McugenError(f"{where}: only resizing height and width is supported, not {list(in_shape)} -> "
                          f"{list(out_shape)}")
    if sizes is None and any(int(np.floor(np.float32(n) * np.float32(s))) != m
                             for n, s, m in zip(in_shape[2:], scales[2:], out_shape[2:])):
        raise McugenError(f"{where}: its scales {[float(s) for s in scales[2:]]} give an output of {list(out_shape[2:])} "
                          "by ONNX shape inference, and another size in onnxruntime's float32 arithmetic; give "
                          "sizes instead")
    if transform == "align_corners" and sizes is None and any(
            np.float32(s) != np.float32(m / n) for n, s, m in zip(in_shape[2:], scales[2:], out_shape[2:])):
        raise McugenError(f"{where}: align_corners with scales {[float(s) for s in scales[2:]]} that do not give "
                          f"{list(out_shape[2:])} exactly is not supported (onnxruntime divides by the output size, "
                          "ONNX's reference by input size times scale); give sizes instead")
    if max(in_shape[2:]) > MAX_RESIZE_SIDE:
        raise McugenError(f"{where}: an input side above {MAX_RESIZE_SIDE:,} is not supported")
    if ctx.from_tflite:  # a .tflite's RESIZE_*: TFLite's own coordinate tables, for TFLM's bytes
        transform = TFLITE_RESIZE[transform]
    return [_ir(node, "resize", node.input[:1], mode=mode, coordinate=transform, nearest_mode=nearest_mode,
                scales=None if scales is None else (float(scales[2]), float(scales[3])),
                in_size=tuple(in_shape[2:]), size=tuple(out_shape[2:]))]


def _on_axes(values, axes, default) -> np.ndarray:
    full = np.array(default, dtype=np.asarray(values).dtype)
    full[[int(a) % 4 for a in axes]] = values
    return full


def import_quantize_linear(node, ctx):
    """QuantizeLinear of an activation: half of a QDQ pair, which passes/fold_qdq.py folds."""
    zp = ctx.const(node, 2, "y_zero_point", required=False)
    dtype = qdq.output_type(node, describe(node, ctx.opset)) if zp is None else zp.dtype
    q = qdq.check_activation(ctx.const(node, 1, "y_scale"), zp, dtype, describe(node, ctx.opset))
    return [_ir(node, "quantize_linear", node.input[:1], q=q)]


def import_dequantize_linear(node, ctx):
    """DequantizeLinear of an activation (one of constants is folded): the other half."""
    zp = ctx.const(node, 2, "x_zero_point", required=False)
    q = qdq.check_activation(ctx.const(node, 1, "x_scale"), zp, None if zp is None else zp.dtype,
                             describe(node, ctx.opset))
    return [_ir(node, "dequantize_linear", node.input[:1], q=q)]


def import_identity(node, ctx):
    if node.op_type == "Dropout":
        mode = ctx.const(node, 2, "training_mode", required=False) if ctx.opset >= 12 else None
        if (mode is not None and bool(mode.reshape(-1)[0])) or any(node.output[1:]):
            raise McugenError(f"{describe(node, ctx.opset)}: training-mode Dropout (or its mask) is not supported")
    return [_ir(node, "identity", node.input[:1])]


def import_pad(node, ctx):
    mode = attr(node, "mode", "constant")
    if ctx.opset < 11:
        pads, value = list(attr(node, "pads", attr(node, "paddings", []))), float(attr(node, "value", 0.0))
    else:
        pads = [int(p) for p in ctx.const(node, 1, "pads")]
        v = ctx.const(node, 2, "constant_value", required=False)
        value = 0.0 if v is None else float(v.reshape(-1)[0])
        if ctx.const(node, 3, "axes", required=False) is not None:
            raise McugenError(f"{describe(node, ctx.opset)}: Pad with 'axes' is not supported")
    shape = ctx.shape(node.input[0])
    if mode != "constant" or value != 0.0 or len(shape) != 4 or len(pads) != 8:
        raise McugenError(f"{describe(node, ctx.opset)}: only zero padding of a 4-D tensor is supported")
    n0, c0, t, l, n1, c1, b, r = pads
    if n0 or c0 or n1 or c1 or min(pads) < 0:
        raise McugenError(f"{describe(node, ctx.opset)}: only non-negative padding of height and width is supported")
    return [_ir(node, "pad", node.input[:1], pads=(t, l, b, r))]


def import_constant(node, ctx):
    for a in node.attribute:
        value = onnx.helper.get_attribute_value(a)
        if isinstance(value, onnx.TensorProto):
            array = array_of(value, "model")
        elif a.name in ("value_float", "value_int", "value_floats", "value_ints"):
            array = np.array(value)
        else:
            continue
        ctx.consts[node.output[0]] = checked_constant(node.output[0], array, "model")
        return []
    raise McugenError(f"{describe(node, ctx.opset)}: unsupported Constant form")


IMPORTERS = {
    "Add": import_arith,
    "AveragePool": import_avg_pool,
    "BatchNormalization": import_batch_norm,
    "Clip": import_clip,
    "Constant": import_constant,
    "Conv": import_conv,
    "DequantizeLinear": import_dequantize_linear,
    "Dropout": import_identity,
    "Flatten": import_reshape,
    "Gemm": import_gemm,
    "GlobalAveragePool": import_global_avg_pool,
    "GlobalMaxPool": import_global_max_pool,
    "Identity": import_identity,
    "HardSigmoid": import_elementwise,
    "HardSwish": import_elementwise,
    "LeakyRelu": import_elementwise,
    "MatMul": import_matmul,
    "Max": import_min_max,
    "MaxPool": import_max_pool,
    "Min": import_min_max,
    "Mul": import_arith,
    "Div": import_arith,
    "Pad": import_pad,
    "PRelu": import_prelu,
    "QuantizeLinear": import_quantize_linear,
    "ReduceMean": import_reduce_mean,
    "Relu": import_relu,
    "Reshape": import_reshape,
    "Resize": import_resize,
    "Sigmoid": import_elementwise,
    "Softmax": import_softmax,
    "Sub": import_arith,
    "Squeeze": import_reshape,
    "Tanh": import_elementwise,
    "Transpose": import_transpose,
    "Unsqueeze": import_reshape,
    "Upsample": import_resize,
}
