"""Small full-int8 .tflite models built without TensorFlow, with tflite-micro's generated
schema (its object API, packed by flatbuffers), for the TFLite reader's tests; and running
them in TFLM and their ONNX conversion in onnxruntime.

Tests that use this module import it after pytest.importorskip("tflite_micro")."""

from __future__ import annotations

import flatbuffers
import numpy as np
import tflite_micro.tensorflow.lite.micro.python.schema_py_generated as tfl

B = tfl.BuiltinOperator
INT8, UINT8, INT32, FLOAT32 = tfl.TensorType.INT8, tfl.TensorType.UINT8, tfl.TensorType.INT32, tfl.TensorType.FLOAT32
SAME, VALID = tfl.Padding.SAME, tfl.Padding.VALID
NONE, RELU, RELU6 = tfl.ActivationFunctionType.NONE, tfl.ActivationFunctionType.RELU, tfl.ActivationFunctionType.RELU6
DTYPES = {INT8: np.int8, UINT8: np.uint8, INT32: np.int32, FLOAT32: np.float32, tfl.TensorType.INT64: np.int64}


class Builder:
    """One subgraph, built tensor by tensor and operator by operator."""

    def __init__(self, seed: int = 0):
        self.rng = np.random.default_rng(seed)
        self.tensors: list = []
        self.buffers = [tfl.BufferT()]  # buffer 0: the empty sentinel
        self.codes: dict[int, int] = {}
        self.opcodes: list = []
        self.ops: list = []

    def tensor(self, shape, kind=INT8, scale=None, zero_point=0, data=None, axis=0, name=None) -> int:
        t = tfl.TensorT()
        t.shape, t.type, t.name = list(shape), kind, name or f"t{len(self.tensors)}"
        if scale is not None:
            q = tfl.QuantizationParametersT()
            q.scale = [float(s) for s in np.atleast_1d(scale)]
            q.zeroPoint = [int(z) for z in np.broadcast_to(zero_point, (len(q.scale),))]
            q.quantizedDimension = axis
            t.quantization = q
        if data is not None:
            b = tfl.BufferT()
            b.data = np.ascontiguousarray(np.asarray(data, DTYPES[kind]).reshape(shape)).tobytes()
            self.buffers.append(b)
            t.buffer = len(self.buffers) - 1
        self.tensors.append(t)
        return len(self.tensors) - 1

    def op(self, code: int, inputs, outputs, options_type=0, options=None) -> None:
        if code not in self.codes:
            oc = tfl.OperatorCodeT()
            oc.builtinCode, oc.deprecatedBuiltinCode, oc.version = code, min(code, 127), 1
            self.codes[code] = len(self.opcodes)
            self.opcodes.append(oc)
        o = tfl.OperatorT()
        o.opcodeIndex, o.inputs, o.outputs = self.codes[code], list(inputs), list(outputs)
        o.builtinOptionsType, o.builtinOptions = options_type, options
        self.ops.append(o)

    def build(self, inputs, outputs, float_io: bool = False) -> bytes:
        """The model; with float_io, a float32 input goes through QUANTIZE and the output
        through DEQUANTIZE, as the TFLite converter writes a model with float I/O."""
        if float_io:
            (x,), (y,) = inputs, outputs
            inputs = [self.tensor(self.tensors[x].shape, FLOAT32, name="float_input")]
            self.op(B.QUANTIZE, inputs, [x])
            self.ops.insert(0, self.ops.pop())
            outputs = [self.tensor(self.tensors[y].shape, FLOAT32, name="float_output")]
            self.op(B.DEQUANTIZE, [y], outputs)
        g = tfl.SubGraphT()
        g.tensors, g.inputs, g.outputs, g.operators = self.tensors, list(inputs), list(outputs), self.ops
        m = tfl.ModelT()
        m.version, m.operatorCodes, m.subgraphs, m.buffers = 3, self.opcodes, [g], self.buffers
        m.description = "mcugen test"
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), b"TFL3")
        return bytes(builder.Output())

    # ---------------------------------------------------------------- layers with quantized weights

    def weights(self, shape, axis):
        """Random float weights, symmetric int8 per channel along `axis`: (int8 values, scales)."""
        w = self.rng.uniform(-1, 1, size=shape)
        other = tuple(i for i in range(len(shape)) if i != axis)
        scale = np.abs(w).max(axis=other) / 127
        q = np.round(w / np.expand_dims(scale, other)).astype(np.int8)
        return q, scale.astype(np.float32)

    def conv(self, x, out_channels, kernel=3, stride=1, padding=SAME, activation=NONE, depthwise=False, out_scale=None):
        """CONV_2D or DEPTHWISE_CONV_2D with per-channel weights and an int32 bias."""
        n, h, w_, c = self.tensors[x].shape
        x_scale = self.tensors[x].quantization.scale[0]
        shape = (1, kernel, kernel, c) if depthwise else (out_channels, kernel, kernel, c)
        axis = 3 if depthwise else 0
        wq, ws = self.weights(shape, axis)
        channels = c if depthwise else out_channels
        weights = self.tensor(shape, INT8, ws, 0, wq, axis=axis)
        bias_scale = (x_scale * ws.astype(np.float64)).astype(np.float32)
        bias = self.tensor((channels,), INT32, bias_scale, 0, self.rng.integers(-2000, 2000, channels))
        size = lambda s: -(-s // stride) if padding == SAME else (s - kernel) // stride + 1  # noqa: E731
        fan_in = kernel * kernel * (1 if depthwise else c)
        scale = out_scale or float(x_scale * 74 * 0.577 * np.sqrt(fan_in) * 4 / 128)
        zero_point = -128 if activation == RELU6 else int(self.rng.integers(-10, 10))
        scale = 6 / 255 if activation == RELU6 and out_scale is None else scale
        y = self.tensor((n, size(h), size(w_), channels), INT8, scale, zero_point)
        opts = tfl.DepthwiseConv2DOptionsT() if depthwise else tfl.Conv2DOptionsT()
        opts.padding, opts.strideW, opts.strideH, opts.fusedActivationFunction = padding, stride, stride, activation
        if depthwise:
            opts.depthMultiplier = 1
        kind = (B.DEPTHWISE_CONV_2D, tfl.BuiltinOptions.DepthwiseConv2DOptions) if depthwise else \
            (B.CONV_2D, tfl.BuiltinOptions.Conv2DOptions)
        self.op(kind[0], [x, weights, bias], [y], kind[1], opts)
        return y

    def pool(self, x, code, size, stride, padding=SAME):
        n, h, w, c = self.tensors[x].shape
        q = self.tensors[x].quantization
        out = lambda s: -(-s // stride) if padding == SAME else (s - size) // stride + 1  # noqa: E731
        y = self.tensor((n, out(h), out(w), c), INT8, q.scale[0], q.zeroPoint[0])  # TFLM pools keep their input's
        opts = tfl.Pool2DOptionsT()
        opts.padding, opts.strideW, opts.strideH, opts.filterWidth, opts.filterHeight = padding, stride, stride, size, size
        self.op(code, [x], [y], tfl.BuiltinOptions.Pool2DOptions, opts)
        return y

    def fully_connected(self, x, units, activation=NONE, out_scale=None):
        features = int(np.prod(self.tensors[x].shape[1:]))
        x_scale = self.tensors[x].quantization.scale[0]
        wq, ws = self.weights((units, features), 0)
        weights = self.tensor((units, features), INT8, ws, 0, wq, axis=0)
        bias = self.tensor((units,), INT32, (x_scale * ws.astype(np.float64)).astype(np.float32), 0,
                           self.rng.integers(-500, 500, units))
        y = self.tensor((1, units), INT8, out_scale or float(x_scale * 74 * 0.577 * np.sqrt(features) * 4 / 128), 3)
        opts = tfl.FullyConnectedOptionsT()
        opts.fusedActivationFunction = activation
        self.op(B.FULLY_CONNECTED, [x, weights, bias], [y], tfl.BuiltinOptions.FullyConnectedOptions, opts)
        return y

    def softmax(self, x):
        y = self.tensor(self.tensors[x].shape, INT8, 1 / 256, -128)
        opts = tfl.SoftmaxOptionsT()
        opts.beta = 1.0
        self.op(B.SOFTMAX, [x], [y], tfl.BuiltinOptions.SoftmaxOptions, opts)
        return y

    def add(self, a, b, scale):
        y = self.tensor(self.tensors[a].shape, INT8, scale, -2)
        opts = tfl.AddOptionsT()
        self.op(B.ADD, [a, b], [y], tfl.BuiltinOptions.AddOptions, opts)
        return y

    def mean_hw(self, x, keep_dims=True):
        n, h, w, c = self.tensors[x].shape
        axes = self.tensor((2,), INT32, data=[1, 2])
        q = self.tensors[x].quantization
        y = self.tensor((n, 1, 1, c) if keep_dims else (n, c), INT8, q.scale[0], q.zeroPoint[0])
        opts = tfl.ReducerOptionsT()
        opts.keepDims = keep_dims
        self.op(B.MEAN, [x, axes], [y], tfl.BuiltinOptions.ReducerOptions, opts)
        return y

    def simple(self, code, inputs, shape, scale, zero_point=0, options_type=0, options=None):
        """Any op with one int8 output of the given shape and quantization."""
        y = self.tensor(shape, INT8, scale, zero_point)
        self.op(code, inputs, [y], options_type, options)
        return y

    def reshape(self, x, shape):
        q = self.tensors[x].quantization
        new = self.tensor((len(shape),), INT32, data=shape)
        y = self.tensor(shape, INT8, q.scale[0], q.zeroPoint[0])
        opts = tfl.ReshapeOptionsT()
        opts.newShape = list(shape)
        self.op(B.RESHAPE, [x, new], [y], tfl.BuiltinOptions.ReshapeOptions, opts)
        return y


def image_input(b: Builder, shape=(1, 8, 8, 3), scale=0.02, zero_point=-3) -> int:
    return b.tensor(shape, INT8, scale, zero_point, name="serving_default_input:0")


# ---------------------------------------------------------------------------- the test models


def conv_relu6(float_io: bool = False) -> bytes:
    b = Builder(1)
    x = image_input(b, (1, 9, 9, 3))
    y = b.conv(x, 8, kernel=3, stride=2, activation=RELU6)
    return b.build([x], [y], float_io)


def depthwise(float_io: bool = False) -> bytes:
    b = Builder(2)
    x = image_input(b, (1, 8, 8, 6))
    y = b.conv(x, 6, kernel=3, stride=1, depthwise=True, activation=RELU)
    return b.build([x], [y], float_io)


def pools(float_io: bool = False) -> bytes:
    """An average pool with SAME padding on an odd size (pads differ before and after),
    then a max pool."""
    b = Builder(3)
    x = image_input(b, (1, 7, 7, 4))
    y = b.pool(x, B.AVERAGE_POOL_2D, 3, 2, SAME)
    z = b.pool(y, B.MAX_POOL_2D, 2, 2, VALID)
    return b.build([x], [z], float_io)


def fc_softmax(float_io: bool = False) -> bytes:
    """A classifier head: 4-D input flattened in NHWC order by FULLY_CONNECTED, softmax."""
    b = Builder(4)
    x = image_input(b, (1, 2, 2, 5))
    y = b.fully_connected(x, 10)
    z = b.softmax(y)
    return b.build([x], [z], float_io)


def residual_add(float_io: bool = False) -> bytes:
    b = Builder(5)
    x = image_input(b, (1, 6, 6, 4))
    y = b.conv(x, 4, kernel=1, activation=RELU)
    z = b.add(x, y, 0.05)
    return b.build([x], [z], float_io)


def classifier(float_io: bool = False) -> bytes:
    """conv -> depthwise -> mean over H,W (keep_dims) -> reshape [1,C] -> FC -> softmax."""
    b = Builder(6)
    x = image_input(b, (1, 10, 10, 3))
    y = b.conv(x, 8, kernel=3, stride=2, activation=RELU6)
    y = b.conv(y, 8, kernel=3, depthwise=True, activation=RELU6)
    y = b.mean_hw(y, keep_dims=True)
    y = b.reshape(y, (1, 8))
    y = b.fully_connected(y, 5)
    return b.build([x], [b.softmax(y)], float_io)


def layout_ops(float_io: bool = False) -> bytes:
    """The ops whose meaning depends on NHWC: PAD with different pads per side, MUL by a
    per-channel constant [C] (broadcast over NHWC), RESHAPE that reorders H and W, MEAN
    over the channels, SQUEEZE."""
    b = Builder(8)
    x = image_input(b, (1, 4, 6, 3))
    pads = b.tensor((4, 2), INT32, data=[[0, 0], [1, 0], [0, 2], [0, 0]])
    y = b.simple(B.PAD, [x, pads], (1, 5, 8, 3), 0.02, -3, tfl.BuiltinOptions.PadOptions, tfl.PadOptionsT())
    c = b.tensor((3,), INT8, 0.01, 0, data=[100, -50, 127])
    y = b.simple(B.MUL, [y, c], (1, 5, 8, 3), 0.015, 2, tfl.BuiltinOptions.MulOptions, tfl.MulOptionsT())
    y = b.reshape(y, (1, 8, 5, 3))
    axes = b.tensor((1,), INT32, data=[3])
    opts = tfl.ReducerOptionsT()
    opts.keepDims = True
    y = b.simple(B.MEAN, [y, axes], (1, 8, 5, 1), 0.01, 1, tfl.BuiltinOptions.ReducerOptions, opts)
    y = b.reshape(y, (1, 40))
    return b.build([x], [y], float_io)


def activations(float_io: bool = False) -> bytes:
    """LEAKY_RELU, HARD_SWISH, SUB of two activations, QUANTIZE to other parameters, LOGISTIC."""
    b = Builder(9)
    x = image_input(b, (1, 4, 4, 3), 0.03, 5)
    opts = tfl.LeakyReluOptionsT()
    opts.alpha = 0.2
    y = b.simple(B.LEAKY_RELU, [x], (1, 4, 4, 3), 0.025, -20, tfl.BuiltinOptions.LeakyReluOptions, opts)
    z = b.simple(B.HARD_SWISH, [x], (1, 4, 4, 3), 0.02, -40, tfl.BuiltinOptions.HardSwishOptions, tfl.HardSwishOptionsT())
    d = b.simple(B.SUB, [y, z], (1, 4, 4, 3), 0.02, 0, tfl.BuiltinOptions.SubOptions, tfl.SubOptionsT())
    d = b.simple(B.QUANTIZE, [d], (1, 4, 4, 3), 0.03, 7)
    return b.build([x], [b.simple(B.LOGISTIC, [d], (1, 4, 4, 3), 1 / 256, -128)], float_io)


MODELS = {"conv_relu6": conv_relu6, "depthwise": depthwise, "pools": pools, "fc_softmax": fc_softmax,
          "residual_add": residual_add, "classifier": classifier, "layout_ops": layout_ops, "activations": activations}


# ---------------------------------------------------------------------------- running them


def run_tflm(model: bytes, x: np.ndarray) -> np.ndarray:
    """TFLM's reference kernels, one sample [1, ...] at a time."""
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model)
    outs = []
    for sample in x:
        interpreter.set_input(sample[None], 0)
        interpreter.invoke()
        outs.append(interpreter.get_output(0).copy())
    return np.concatenate(outs)


def run_onnxruntime(onnx_model, x: np.ndarray) -> np.ndarray:
    """The converted model in onnxruntime without graph optimizations: each quantized op
    runs as DequantizeLinear, the float op, QuantizeLinear (its fused integer kernels,
    which differ by CPU, stay out)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    session = ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: sample[None]})[0] for sample in x])
