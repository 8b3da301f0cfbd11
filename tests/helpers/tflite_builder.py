"""Single-op int8 .tflite models, built without TensorFlow, and run in TFLite Micro.

tflite-micro's Python wheel carries TFLM's reference kernels and the flatbuffer schema's
object API; a model of one operator is enough to ask TFLM what its int8 arithmetic gives
for given inputs and quantization parameters, so tests/ops/test_tflm_*.py can compare
mcugen's arithmetic with TFLM's byte for byte. Import it after
pytest.importorskip("tflite_micro").
"""

from __future__ import annotations

from dataclasses import dataclass

import flatbuffers
import numpy as np
import tflite_micro.tensorflow.lite.micro.python.schema_py_generated as tfl
from tflite_micro.python.tflite_micro import runtime

TYPES = {np.dtype(np.int8): tfl.TensorType.INT8, np.dtype(np.int32): tfl.TensorType.INT32,
         np.dtype(np.float32): tfl.TensorType.FLOAT32}


@dataclass
class Spec:
    """One tensor of the model: a graph input (data None) or a constant. scale and
    zero_point are scalars, or arrays per channel along `axis` (weights)."""

    shape: tuple
    scale: float | np.ndarray | None = None
    zero_point: int | np.ndarray = 0
    data: np.ndarray | None = None
    dtype: type = np.int8
    axis: int = 0


def _quantization(spec: Spec):
    if spec.scale is None:
        return None
    q = tfl.QuantizationParametersT()
    q.scale = [float(s) for s in np.atleast_1d(spec.scale)]
    q.zeroPoint = [int(z) for z in np.broadcast_to(np.atleast_1d(spec.zero_point), len(q.scale))]
    q.quantizedDimension = spec.axis
    return q


def model(op: int, inputs: list[Spec], output: Spec, options=None) -> bytes:
    """A .tflite flatbuffer of one builtin operator `op` (tfl.BuiltinOperator) whose
    non-constant inputs are the graph's inputs, in order; `options` a tfl.*OptionsT."""
    buffers = [tfl.BufferT()]  # buffer 0: the empty one, by convention
    tensors = []
    for i, spec in enumerate([*inputs, output]):
        t = tfl.TensorT()
        t.shape, t.type, t.name = list(spec.shape), TYPES[np.dtype(spec.dtype)], f"t{i}".encode()
        t.quantization, t.buffer = _quantization(spec), 0
        if spec.data is not None:
            buffer = tfl.BufferT()
            buffer.data = np.frombuffer(np.ascontiguousarray(spec.data, dtype=spec.dtype).tobytes(), np.uint8)
            t.buffer = len(buffers)
            buffers.append(buffer)
        tensors.append(t)
    code = tfl.OperatorCodeT()
    code.builtinCode = op
    code.deprecatedBuiltinCode = min(op, tfl.BuiltinOperator.PLACEHOLDER_FOR_GREATER_OP_CODES)
    code.version = 1
    operator = tfl.OperatorT()
    operator.opcodeIndex, operator.inputs, operator.outputs = 0, list(range(len(inputs))), [len(inputs)]
    if options is not None:
        operator.builtinOptionsType = getattr(tfl.BuiltinOptions, type(options).__name__[:-1])
        operator.builtinOptions = options
    subgraph = tfl.SubGraphT()
    subgraph.tensors, subgraph.operators = tensors, [operator]
    subgraph.inputs = [i for i, spec in enumerate(inputs) if spec.data is None]
    subgraph.outputs = [len(inputs)]
    m = tfl.ModelT()
    m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, [code], [subgraph], buffers
    m.description = b"mcugen test"
    builder = flatbuffers.Builder(0)
    builder.Finish(m.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def options(name: str, **fields):
    """A tfl.<name>T() with the given fields set (camelCase, as the schema names them)."""
    o = getattr(tfl, name + "T")()
    for key, value in fields.items():
        setattr(o, key, value)
    return o


ARENA = 1 << 20


def run(model_bytes: bytes, *xs: np.ndarray) -> np.ndarray:
    """TFLM's output for each sample: xs are batches [N, ...] of the graph's inputs, run one
    sample at a time (the model's batch is 1)."""
    interpreter = runtime.Interpreter.from_bytes(model_bytes, arena_size=ARENA)
    outs = []
    for sample in zip(*xs):
        for i, x in enumerate(sample):
            interpreter.set_input(x[None], i)
        interpreter.invoke()
        outs.append(interpreter.get_output(0)[0].copy())
    return np.stack(outs)


# ---------------------------------------------------------------------------- the ops
# One model per call; q arguments are (scale, zero point) pairs.

ACTIVATIONS = {None: tfl.ActivationFunctionType.NONE, (0.0, float("inf")): tfl.ActivationFunctionType.RELU,
               (0.0, 6.0): tfl.ActivationFunctionType.RELU6, (-1.0, 1.0): tfl.ActivationFunctionType.RELU_N1_TO_1}


def mean(shape, qin, qout) -> bytes:
    """MEAN over height and width, keep_dims, of an NHWC tensor."""
    axes = Spec((2,), data=np.array([1, 2], np.int32), dtype=np.int32)
    return model(tfl.BuiltinOperator.MEAN, [Spec(shape, *qin), axes], Spec((1, 1, 1, shape[3]), *qout),
                 options("ReducerOptions", keepDims=True))


def pool(op: int, shape, q, kernel, strides, padding: int, act=None) -> bytes:
    """AVERAGE_POOL_2D or MAX_POOL_2D (the same quantization in and out), padding
    tfl.Padding.SAME or VALID."""
    out_hw = output_hw(shape[1:3], kernel, strides, padding)
    return model(op, [Spec(shape, *q)], Spec((1, *out_hw, shape[3]), *q), options(
        "Pool2DOptions", padding=padding, strideH=strides[0], strideW=strides[1], filterHeight=kernel[0],
        filterWidth=kernel[1], fusedActivationFunction=ACTIVATIONS[act]))


def output_hw(in_hw, kernel, strides, padding: int, dilations=(1, 1)) -> tuple[int, int]:
    if padding == tfl.Padding.SAME:
        return tuple(-(-i // s) for i, s in zip(in_hw, strides))
    return tuple((i - (k - 1) * d - 1) // s + 1 for i, k, s, d in zip(in_hw, kernel, strides, dilations))


def pads(in_hw, kernel, strides, padding: int, dilations=(1, 1)) -> tuple[int, int, int, int]:
    """TFLite's padding as mcugen's (top, left, bottom, right): SAME pads the smaller half
    before (ComputePaddingHeightWidth)."""
    out_hw = output_hw(in_hw, kernel, strides, padding, dilations)
    total = [max(0, (o - 1) * s + (k - 1) * d + 1 - i)
             for o, s, k, d, i in zip(out_hw, strides, kernel, dilations, in_hw)]
    return total[0] // 2, total[1] // 2, total[0] - total[0] // 2, total[1] - total[1] // 2


def _weights(w, w_scales, axis, s_in, bias):
    """The int8 weights (per-channel scales along `axis`, or one) and int32 bias specs."""
    bias_scales = np.float32(s_in) * np.asarray(w_scales, np.float32)  # as the converter writes them
    return (Spec(w.shape, np.asarray(w_scales), 0, data=w, axis=axis),
            Spec(bias.shape, bias_scales, 0, data=bias, dtype=np.int32))


def conv(shape, qin, qout, w, w_scales, bias, strides, padding, dilations=(1, 1), act=None) -> bytes:
    """CONV_2D: w int8 [O, KH, KW, I], bias int32 [O]."""
    out_hw = output_hw(shape[1:3], w.shape[1:3], strides, padding, dilations)
    return model(tfl.BuiltinOperator.CONV_2D, [Spec(shape, *qin), *_weights(w, w_scales, 0, qin[0], bias)],
                 Spec((1, *out_hw, w.shape[0]), *qout), options(
                     "Conv2DOptions", padding=padding, strideH=strides[0], strideW=strides[1],
                     dilationHFactor=dilations[0], dilationWFactor=dilations[1],
                     fusedActivationFunction=ACTIVATIONS[act]))


def depthwise_conv(shape, qin, qout, w, w_scales, bias, strides, padding, dilations=(1, 1), act=None) -> bytes:
    """DEPTHWISE_CONV_2D, depth multiplier 1: w int8 [1, KH, KW, C], bias int32 [C]."""
    out_hw = output_hw(shape[1:3], w.shape[1:3], strides, padding, dilations)
    return model(tfl.BuiltinOperator.DEPTHWISE_CONV_2D, [Spec(shape, *qin), *_weights(w, w_scales, 3, qin[0], bias)],
                 Spec((1, *out_hw, w.shape[3]), *qout), options(
                     "DepthwiseConv2DOptions", padding=padding, strideH=strides[0], strideW=strides[1],
                     depthMultiplier=1, dilationHFactor=dilations[0], dilationWFactor=dilations[1],
                     fusedActivationFunction=ACTIVATIONS[act]))


def fully_connected(shape, qin, qout, w, w_scales, bias, act=None) -> bytes:
    """FULLY_CONNECTED of a [1, I] input: w int8 [O, I], bias int32 [O]; one weight scale
    (per tensor) or one per output channel."""
    return model(tfl.BuiltinOperator.FULLY_CONNECTED, [Spec(shape, *qin), *_weights(w, w_scales, 0, qin[0], bias)],
                 Spec((1, w.shape[0]), *qout), options("FullyConnectedOptions", fusedActivationFunction=ACTIVATIONS[act]))


def binary(op: int, a_shape, b_shape, qa, qb, qout, act=None) -> bytes:
    """ADD or MUL of two graph inputs (b may broadcast over a's pixels)."""
    name = "AddOptions" if op == tfl.BuiltinOperator.ADD else "MulOptions"
    return model(op, [Spec(a_shape, *qa), Spec(b_shape, *qb)], Spec(a_shape, *qout),
                 options(name, fusedActivationFunction=ACTIVATIONS[act]))


def unary(op: int, shape, qin, qout, opts=None) -> bytes:
    """A one-input, one-output operator: SOFTMAX (opts: SoftmaxOptions, beta), LOGISTIC, TANH,
    HARD_SWISH, LEAKY_RELU (opts: LeakyReluOptions, alpha), RELU, RELU6, QUANTIZE."""
    return model(op, [Spec(shape, *qin)], Spec(shape, *qout), opts)
