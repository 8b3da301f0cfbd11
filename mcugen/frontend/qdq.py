"""Pre-quantized models in the QDQ format, as onnxruntime.quantization.quantize_static
writes them (QuantFormat.QDQ): what mcugen takes from the model, and what it recomputes.

In that format every quantized activation goes through a QuantizeLinear -> DequantizeLinear
pair, which fixes its scale and zero point, and every quantized weight or bias is an
integer initializer behind a DequantizeLinear. mcugen takes:

- activations: each pair's scale and zero point, per tensor. passes/fold_qdq.py removes the
  pair and leaves its parameters on the tensor (Tensor.fixed); quantize.py uses them
  instead of calibrated ranges. uint8 maps onto int8 exactly: q8 = q_u8 - 128 with zero
  point zp_u8 - 128 and the same scale, so real = scale * (q - zero_point) is unchanged.
- weights: the model's int8 values and scales, when they fit mcugen's contract: symmetric
  (zero point 0) int8 in -127..127, one scale per output channel or per tensor. Other
  weights (uint8, asymmetric, -128, per input channel) are re-quantized from their
  dequantized values, because the int8 kernels have no weight zero point.
- biases: the model's int32 values, when their scale is the input scale times the weight
  scale, which is mcugen's bias scale too.

Recomputed, from those scales: the requantization multipliers (Q31 + shift: onnxruntime
keeps float multipliers), the input zero point folded into the bias, and the tables.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import onnx

from mcugen.errors import McugenError
from mcugen.ir import QParams

# What q - zero_point is shifted by to make the 8-bit type int8: uint8 0..255 is int8 -128..127.
ACTIVATION_TYPES = {np.dtype(np.int8): 0, np.dtype(np.uint8): 128}
# The smallest activation scale taken: float32's smallest normal number. A denormal scale
# (a corrupt or hostile file) would make the requantization multipliers overflow.
MIN_SCALE = float(np.finfo(np.float32).tiny)
WEIGHT_LIMIT = 127  # symmetric int8 weights use -127..127 (the numeric contract)

# onnxruntime's QOperator format: ops that take and give integers, with their
# quantization as inputs. mcugen refuses them and says to quantize in the QDQ format.
QOPERATOR = frozenset({
    "QLinearConv", "QLinearMatMul", "QLinearAdd", "QLinearMul", "QLinearGlobalAveragePool",
    "QLinearAveragePool", "QLinearSigmoid", "QLinearLeakyRelu", "QLinearConcat", "QLinearSoftmax",
    "QLinearReduceMean", "QLinearWhere", "QLinearConvTranspose", "QGemm", "QAttention", "ConvInteger",
    "MatMulInteger", "MatMulIntegerToFloat", "DynamicQuantizeLinear", "DynamicQuantizeMatMul",
})


@dataclass(frozen=True)
class QuantizedConstant:
    """An integer constant behind a DequantizeLinear: real = scale * (values - zero_point)."""

    values: np.ndarray  # the stored integers
    scale: np.ndarray  # float64, one value, or one per index of `axis`
    zero_point: np.ndarray  # the shape of scale
    axis: int


def _attr(node, name, default):
    for a in node.attribute:
        if a.name == name:
            return onnx.helper.get_attribute_value(a)
    return default


def _params(node, feeds: dict, where: str, integer_input: bool):
    """(x, scale, zero point, axis, broadcast shape) of a QuantizeLinear/DequantizeLinear
    with constant inputs, checked: per tensor or per axis, not blocked."""
    x = np.asarray(feeds[node.input[0]])
    scale = np.asarray(feeds[node.input[1]]) if len(node.input) > 1 and node.input[1] else None
    if len(node.input) > 2 and node.input[2]:
        zp = np.asarray(feeds[node.input[2]])
    else:
        zp = np.zeros(() if scale is None else scale.shape, output_type(node, where) if not integer_input else x.dtype)
    if scale is None or x.dtype.kind not in ("iu" if integer_input else "f") or scale.dtype.kind != "f" \
            or zp.dtype.kind not in "iu":
        raise McugenError(f"{where}: only {'integer' if integer_input else 'float'} values with a float scale and "
                          "an integer zero point are supported")
    if scale is not None and scale.size == 1 and zp.size == 1:  # [1] or (): per tensor, as onnxruntime takes it
        scale, zp = scale.reshape(()), zp.reshape(())
    if int(_attr(node, "block_size", 0)) or scale.ndim > 1 or zp.shape != scale.shape:
        raise McugenError(f"{where}: only per-tensor or per-axis quantization is supported "
                          f"(scale {list(scale.shape)}, zero point {list(zp.shape)})")
    axis, shape = 0, scale.shape
    if scale.ndim == 1:
        axis = int(_attr(node, "axis", 1))
        if x.ndim == 0 or not -x.ndim <= axis < x.ndim or x.shape[axis] != scale.size:
            raise McugenError(f"{where}: {scale.size} scales do not match axis {axis} of {list(x.shape)}")
        axis %= x.ndim
        shape = [1] * x.ndim
        shape[axis] = -1
    return x, scale, zp, axis, shape


def transpose_constant(qc: QuantizedConstant, perm: list[int] | None) -> QuantizedConstant | None:
    """A quantized constant transposed (perm None: reversed axes), or None for a bad perm."""
    ndim = qc.values.ndim
    perm = list(reversed(range(ndim))) if perm is None else [int(p) for p in perm]
    if sorted(perm) != list(range(ndim)):
        return None
    axis = perm.index(qc.axis) if qc.scale.size > 1 else 0
    return QuantizedConstant(qc.values.transpose(perm), qc.scale, qc.zero_point, axis)


def output_type(node, where: str) -> np.dtype:
    """A QuantizeLinear's integer type without a zero point: output_dtype (opset 21), else uint8."""
    code = int(_attr(node, "output_dtype", 0))
    if not code:
        return np.dtype(np.uint8)
    try:
        return np.dtype(onnx.helper.tensor_dtype_to_np_dtype(code))
    except Exception:
        raise McugenError(f"{where}: unknown output_dtype {code}") from None


def dequantize_constant(node, feeds: dict, where: str) -> tuple[np.ndarray, QuantizedConstant]:
    """A DequantizeLinear of constants, evaluated here: onnx's reference evaluator has none
    before opset 19. As onnxruntime computes it: float32 (x - zero_point) * scale."""
    x, scale, zp, axis, shape = _params(node, feeds, where, integer_input=True)
    value = (x.astype(np.int64) - zp.astype(np.int64).reshape(shape)).astype(np.float32)
    value = value * scale.astype(np.float32).reshape(shape)
    return value, QuantizedConstant(x, scale.astype(np.float64), zp.astype(np.int64), axis)


def quantize_constant(node, feeds: dict, where: str) -> np.ndarray:
    """A QuantizeLinear of constants (fake-quantized float weights, as QAT exports write
    them): round half to even, plus the zero point, saturated to the integer type."""
    x, scale, zp, _, shape = _params(node, feeds, where, integer_input=False)
    if zp.dtype not in ACTIVATION_TYPES or not np.all(np.isfinite(scale) & (scale > 0)):
        raise McugenError(f"{where}: only int8 or uint8 with positive scales is supported")
    q = np.round(x.astype(np.float32) / scale.astype(np.float32).reshape(shape)) + zp.astype(np.int64).reshape(shape)
    info = np.iinfo(zp.dtype)
    return np.clip(q, info.min, info.max).astype(zp.dtype)


def activation_qparams(scale: float, zero_point: int, dtype: np.dtype) -> QParams:
    """An 8-bit activation quantization as mcugen's int8 QParams (uint8 shifted by 128)."""
    return QParams(float(scale), int(zero_point) - ACTIVATION_TYPES[np.dtype(dtype)])


def check_activation(scale: np.ndarray, zero_point: np.ndarray | None, dtype, where: str) -> tuple:
    """(scale, zero point, dtype) of a QuantizeLinear/DequantizeLinear on an activation, or
    the one-line refusal: per tensor, int8 or uint8, a positive finite scale."""
    if scale.size != 1 or (zero_point is not None and zero_point.size != 1):
        raise McugenError(f"{where}: only per-tensor quantization of activations is supported "
                          f"(scale {list(scale.shape)})")
    if dtype is not None and np.dtype(dtype) not in ACTIVATION_TYPES:
        raise McugenError(f"{where}: {np.dtype(dtype)} activations are not supported; mcugen takes int8 or uint8")
    s = float(scale.reshape(-1)[0])
    if not (np.isfinite(s) and s >= MIN_SCALE):
        raise McugenError(f"{where}: the scale must be a positive, finite, normal float32 (at least {MIN_SCALE:.3g}), "
                          f"not {s:.3g}")
    zp = 0 if zero_point is None else int(zero_point.reshape(-1)[0])
    if dtype is not None and not (np.iinfo(dtype).min <= zp <= np.iinfo(dtype).max):
        raise McugenError(f"{where}: zero point {zp} is outside {np.dtype(dtype)}")
    return s, zp, None if dtype is None else np.dtype(dtype)


def weight_scale(qc: QuantizedConstant | None, axis: int, channels: int) -> tuple[np.ndarray | None, str]:
    """One scale per output channel (`axis` of the ONNX weight) for model-quantized weights
    that fit the contract, else (None, why not). Per-tensor scales repeat per channel."""
    if qc is None:
        return None, ""
    if qc.values.dtype != np.int8:
        return None, f"{qc.values.dtype} weights"
    if np.any(qc.zero_point != 0):
        return None, "asymmetric weights (zero point not 0)"
    if np.abs(qc.values.astype(np.int64)).max(initial=0) > WEIGHT_LIMIT:
        return None, "weights of -128"
    if qc.scale.size == 1:
        scale = np.full(channels, float(qc.scale.reshape(-1)[0]))
    elif qc.axis == axis and qc.scale.size == channels:
        scale = qc.scale.reshape(-1)
    else:
        return None, "weights not quantized per output channel"
    if not np.all(np.isfinite(scale) & (scale > 0)):
        return None, "weight scales that are not positive"
    return scale, ""


def bias_values(qc: QuantizedConstant | None, channels: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The model's int32 bias and its scale per channel, when it has one (zero point 0)."""
    if qc is None or qc.values.dtype != np.int32 or np.any(qc.zero_point != 0) or qc.values.size != channels:
        return None
    if qc.scale.size not in (1, channels):
        return None
    return qc.values.reshape(-1).astype(np.int64), np.broadcast_to(qc.scale.reshape(-1), (channels,)).copy()


def is_qdq(model: onnx.ModelProto) -> bool:
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in model.graph.node)


def strip(model: onnx.ModelProto) -> onnx.ModelProto:
    """The QDQ model in float: every activation QuantizeLinear -> DequantizeLinear pair
    becomes a Clip to the range the pair can hold (its saturation, on which onnxruntime's
    quantizer relies when it drops a ReLU, stays; its rounding goes), weights still
    dequantized. That is what mcugen's float graph computes (reference._saturate); verify
    runs it in onnxruntime for the int8-vs-float figures."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    values = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    opset = next((o.version for o in m.opset_import if o.domain in ("", "ai.onnx")), 0)
    quantizers = {n.output[0]: n for n in m.graph.node if n.op_type == "QuantizeLinear"}
    for node in m.graph.node:
        source = quantizers.get(node.input[0]) if node.op_type == "DequantizeLinear" else None
        low_high = _pair_range(source, values) if source is not None else None
        if low_high is not None:
            node.CopyFrom(_clip(source.input[0], node.output[0], node.name, low_high, opset, m.graph.initializer))
    still_read = {name for n in m.graph.node for name in n.input} | {o.name for o in m.graph.output}
    kept = [n for n in m.graph.node if not (n.op_type == "QuantizeLinear" and n.output[0] not in still_read)]
    del m.graph.node[:]
    m.graph.node.extend(kept)
    return m


def _pair_range(quantize, values) -> tuple[float, float] | None:
    """The real range a QuantizeLinear's output holds, when its parameters are constants."""
    inputs = list(quantize.input) + ["", ""]
    if inputs[1] not in values or (inputs[2] and inputs[2] not in values):
        return None
    scale = float(np.asarray(values[inputs[1]]).reshape(-1)[0])
    zp = np.asarray(values[inputs[2]]) if inputs[2] else np.zeros((), output_type(quantize, "QuantizeLinear"))
    if zp.dtype.kind not in "iu":
        return None
    info = np.iinfo(zp.dtype)
    zero = int(zp.reshape(-1)[0])
    return scale * (info.min - zero), scale * (info.max - zero)


def _clip(x, y, name, low_high, opset, initializer) -> onnx.NodeProto:
    if opset < 11:
        return onnx.helper.make_node("Clip", [x], [y], name=name, min=low_high[0], max=low_high[1])
    bounds = [f"{y}/mcugen_min", f"{y}/mcugen_max"]
    initializer.extend(onnx.numpy_helper.from_array(np.float32(v), n) for v, n in zip(low_high, bounds))
    return onnx.helper.make_node("Clip", [x, *bounds], [y], name=name)
