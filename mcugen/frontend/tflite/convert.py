"""A .tflite model as an ONNX model in the QDQ form that tf2onnx's --tflite conversion
writes; everything after that is mcugen's ONNX frontend.

- Quantization: an int8/uint8 activation is the float op's output -> QuantizeLinear ->
  DequantizeLinear with the tensor's scale and zero point; the graph output is the last
  QuantizeLinear's integer output. Weights are integer initializers behind
  DequantizeLinear (per output channel, zero point 0); a bias is int32 behind a
  DequantizeLinear of scale input_scale * weight_scale, as TFLite's kernels read it.
  Float tensors (float models, or a float input before QUANTIZE) have no pair.
- Layout: a 4-D TFLite tensor (NHWC) is NCHW in ONNX. The input is declared NHWC and
  transposed before its DequantizeLinear, as tf2onnx writes it. Ops whose meaning depends on the layout (a
  reshape, a fully-connected layer's flattening, a mean over other axes than height and
  width) run on NHWC between two Transposes, which mcugen's remove_reshape pass merges.
  A 4-D output stays NCHW (tf2onnx would transpose the integers back to NHWC after the
  last QuantizeLinear): mcugen's C output is NHWC anyway, TFLite's bytes.
- Fused activations become a Relu or Clip after the op, before its QuantizeLinear.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mcugen.errors import McugenError
from mcugen.frontend.tflite import schema
from mcugen.frontend.tflite.schema import FLOAT16, FLOAT32, INT8, INT32, UINT8, Operator, Tensor

QUANTIZE = schema.BUILTIN_NAMES.index("QUANTIZE")

OPSET = 14  # HardSwish
PRODUCER = "mcugen.frontend.tflite"  # the converted model's producer_name: the importers know it is TFLite's
NCHW, NHWC = (0, 3, 1, 2), (0, 2, 3, 1)  # perms: NHWC -> NCHW and back
SAME, VALID = 0, 1
ACTIVATIONS = {1: ("Relu", None), 2: ("Clip", (-1.0, 1.0)), 3: ("Clip", (0.0, 6.0))}  # fused NONE is 0
ACTIVATION_NAMES = ("NONE", "RELU", "RELU_N1_TO_1", "RELU6", "TANH", "SIGN_BIT")
ONNX_TYPES = {FLOAT32: TensorProto.FLOAT, INT8: TensorProto.INT8, UINT8: TensorProto.UINT8}
MAX_LISTED = 8  # further unsupported operators are counted, not named


def convert(data: bytes, source: str) -> onnx.ModelProto:
    model = live(schema.read(data, source))
    refuse_unsupported(model, source)
    return Converter(model, source).run()


def live(model: schema.Model) -> schema.Model:
    """The model without the operators whose results the output does not need. A RESHAPE's
    shape operand is not needed: the output's declared shape says it (Keras computes it
    with SHAPE, STRIDED_SLICE and PACK, which then go too)."""
    needed, kept = set(model.outputs), []
    for op in reversed(model.operators):
        if any(i in needed for i in op.outputs):
            kept.append(op)
            needed.update(op.inputs[:1] if schema.builtin_name(op.code) == "RESHAPE" else op.inputs)
    return dataclasses.replace(model, operators=kept[::-1])


def refuse_unsupported(model: schema.Model, source: str) -> None:
    """Every operator without a converter, in one line, as mcugen's ONNX frontend does."""
    missing = [op for op in model.operators if op.code == schema.CUSTOM or schema.builtin_name(op.code) not in CONVERTERS]
    if not missing:
        return
    others = ""
    if len(missing) > 1:
        also = missing[1:]
        named = ", ".join(op.label.removeprefix("operator ") for op in also[:MAX_LISTED])
        more = f" and {len(also) - MAX_LISTED} more" if len(also) > MAX_LISTED else ""
        others = f"; nor are {len(also)} other operator{'s' if len(also) > 1 else ''}: {named}{more}"
    raise McugenError(f"{source}: {missing[0].label} is not supported{others}; supported TFLite ops: "
                      f"{', '.join(sorted(CONVERTERS))}")


@dataclass
class Converter:
    model: schema.Model
    source: str
    nodes: list = field(default_factory=list)
    inits: list = field(default_factory=list)
    values: dict = field(default_factory=dict)  # tensor index -> its float value's ONNX name (4-D: NCHW)
    held: dict = field(default_factory=dict)  # tensor index -> the ONNX value holding it as the file types it
    writer: dict = field(default_factory=dict)  # tensor index -> the operator that writes it
    consts: dict = field(default_factory=dict)  # (tensor index, perm, rank, scale) -> ONNX name
    names: set = field(default_factory=set)  # ONNX value names (node names are apart)
    node_names: set = field(default_factory=set)
    read: set = field(default_factory=set)  # tensors that operators read
    op: Operator | None = None  # the operator being converted, for messages
    target: str = ""  # the name its main node's output should take
    layer: str = ""  # and the main node's own name

    def fail(self, what: str, why: str) -> NoReturn:
        raise McugenError(f"{self.source}: {what}: {why}")

    # ------------------------------------------------------------------------ the graph

    def run(self) -> onnx.ModelProto:
        m = self.model
        if len(m.inputs) != 1 or len(m.outputs) != 1:
            self.fail("subgraph 0", f"{len(m.inputs)} inputs and {len(m.outputs)} outputs; mcugen takes one of each")
        if not m.operators:
            self.fail("subgraph 0", "no operators")
        self.read = {i for op in m.operators for i in op.inputs}
        graph_input = self.graph_input(m.tensors[m.inputs[0]])
        for op in m.operators:
            self.operator(op)
        out = m.tensors[m.outputs[0]]
        if out.index not in self.held:  # not written, or the input itself
            self.fail(out.label, "the model's output is not written by any operator")
        graph_output = helper.make_tensor_value_info(self.held[out.index], ONNX_TYPES[out.type], None)
        graph = helper.make_graph(self.nodes, "tflite", [graph_input], [graph_output], self.inits)
        onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                                       producer_name=PRODUCER, doc_string=m.description[:200])
        onnx_model.ir_version = 8
        self.check_shapes(onnx_model)  # before the output's declared shape: the check names the tensor
        onnx_model.graph.output[0].CopyFrom(helper.make_tensor_value_info(graph_output.name, ONNX_TYPES[out.type],
                                                               list(onnx_shape(out.shape))))
        return onnx_model

    def graph_input(self, t: Tensor) -> onnx.ValueInfoProto:
        if t.data is not None:
            self.fail(t.label, "the model's input is a constant")
        self.activation_type(t)
        name = self.fresh(self.base(t))
        value = name
        if len(t.shape) == 4:  # first, as tf2onnx's optimizer leaves it: the Transpose mcugen absorbs
            value = self.node("Transpose", [value], f"{name}/nchw", perm=list(NCHW))
        if t.type != FLOAT32:
            value = self.dequantize(t, value, self.fresh(f"{name}/dequantized"))
        self.values[t.index] = value
        self.writer[t.index] = None
        return helper.make_tensor_value_info(name, ONNX_TYPES[t.type], list(t.shape))

    def operator(self, op: Operator) -> None:
        if len(op.outputs) != 1:
            self.fail(op.label, f"{len(op.outputs)} outputs; mcugen takes operators with one")
        out = self.model.tensors[op.outputs[0]]
        if out.data is not None or out.index in self.writer:
            self.fail(op.label, f"writes {out.label}, which is a constant or already written")
        options = schema.options(op, self.source)
        code = options.get("activation", 0)
        # The value that enters the QuantizeLinear carries the tensor's name; a quantized
        # graph output's name is the QuantizeLinear's.
        final = self.base(out) + ("/float" if out.index in self.model.outputs and out.type != FLOAT32 else "")
        self.op, self.layer = op, self.base(out)
        self.target = f"{final}/before_activation" if code else final
        value = CONVERTERS[schema.builtin_name(op.code)](self, op, options, out)
        if code in ACTIVATIONS:
            kind, bounds = ACTIVATIONS[code]
            value = self.node(kind, [value] + self.clip_bounds(value, bounds), final, f"{self.layer}/{kind.lower()}")
        elif code:
            name = ACTIVATION_NAMES[code] if 0 <= code < len(ACTIVATION_NAMES) else str(code)
            self.fail(op.label, f"fused activation {name} is not supported; mcugen takes NONE, RELU, RELU6, RELU_N1_TO_1")
        self.writer[out.index] = op
        self.finish(out, value)

    def finish(self, t: Tensor, value: str) -> None:
        """The op's float result becomes tensor t: through its QuantizeLinear/DequantizeLinear
        pair when it is quantized; the graph output keeps the QuantizeLinear's integers."""
        self.activation_type(t)
        if t.type == FLOAT32:
            self.values[t.index] = self.held[t.index] = value
            return
        is_output = t.index in self.model.outputs
        base = self.base(t)
        q = self.fresh(base if is_output else f"{base}/quantized")
        scale, zero = self.qparams(t)
        self.nodes.append(helper.make_node("QuantizeLinear", [value, scale, zero], [q], name=self.fresh_node(f"{q}/quantize")))
        self.held[t.index] = q
        if not is_output or t.index in self.read:
            self.values[t.index] = self.dequantize(t, q, self.fresh(f"{base}/dequantized"))

    def check_shapes(self, onnx_model: onnx.ModelProto) -> None:
        """Every tensor's shape as the file declares it, against what the ops compute from
        the input (ONNX shape inference): a file that contradicts itself is refused."""
        try:
            inferred = onnx.shape_inference.infer_shapes(onnx_model, strict_mode=True)
        except Exception as exc:
            first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
            raise McugenError(f"{self.source}: the TFLite model's shapes do not agree: {first}") from None
        g = inferred.graph
        shapes = {vi.name: [d.dim_value if d.HasField("dim_value") else None for d in vi.type.tensor_type.shape.dim]
                  for vi in list(g.value_info) + list(g.input) + list(g.output)}
        for index, name in list(self.values.items()) + list(self.held.items()):
            t = self.model.tensors[index]
            got = shapes.get(name)
            if got is not None and None not in got and got != list(onnx_shape(t.shape)):
                made = "the input" if self.writer.get(index) is None else self.writer[index].label
                got = [got[i] for i in NHWC] if len(got) == 4 else got
                self.fail(t.label, f"the file declares shape {list(t.shape)}, but {made} gives {got}")

    # ------------------------------------------------------------------------ names, nodes, constants

    def base(self, t: Tensor) -> str:
        return t.name or f"tensor_{t.index}"

    def fresh(self, wanted: str) -> str:
        return _unused(wanted, self.names)

    def node(self, op_type: str, inputs: list[str], output: str, node_name: str = "", **attrs) -> str:
        """A node named after its output; the op's main node after the TFLite tensor it
        writes, which is how mcugen's report names the layer."""
        name = node_name or (self.layer if output == self.target else output)
        output = self.fresh(output)
        self.nodes.append(helper.make_node(op_type, inputs, [output], name=self.fresh_node(name), **attrs))
        return output

    def fresh_node(self, wanted: str) -> str:
        return _unused(wanted, self.node_names)

    def init(self, name: str, array: np.ndarray) -> str:
        name = self.fresh(name)
        self.inits.append(numpy_helper.from_array(np.array(array), name))  # a contiguous copy; 0-d stays 0-d
        return name

    def clip_bounds(self, value: str, bounds) -> list[str]:
        if bounds is None:
            return []
        return [self.init(f"{value}/{side}", np.float32(b)) for side, b in zip(("min", "max"), bounds)]

    def activation_type(self, t: Tensor) -> None:
        if t.type not in ONNX_TYPES:
            self.fail(t.label, f"{schema.type_name(t.type)} activations are not supported; mcugen takes int8, uint8 "
                               "(both quantized per tensor) or float32")
        if t.type != FLOAT32 and (t.quant is None or t.quant.scale.size != 1):
            self.fail(t.label, f"a {schema.type_name(t.type)} activation needs one scale and zero point")

    def qparams(self, t: Tensor, scale: np.ndarray | None = None) -> tuple[str, str]:
        """(scale, zero point) initializers of tensor t, checked: scales positive and
        finite, zero points in the type's range (int32: 0)."""
        q = t.quant
        scale = q.scale if scale is None else scale
        if not np.all(np.isfinite(scale) & (scale > 0)):
            self.fail(t.label, f"quantization scales must be positive and finite, not {scale.reshape(-1)[:4].tolist()}")
        dtype = np.dtype(schema.DTYPES[t.type])
        info = np.iinfo(dtype)
        if np.any(q.zero_point < info.min) or np.any(q.zero_point > info.max) or (dtype == np.int32 and np.any(q.zero_point)):
            self.fail(t.label, f"zero points {q.zero_point[:4].tolist()} do not fit {dtype}")
        shape = () if scale.size == 1 else (scale.size,)
        base = self.base(t)
        return (self.init(f"{base}/scale", scale.astype(np.float32).reshape(shape)),
                self.init(f"{base}/zero_point", q.zero_point.astype(dtype).reshape(shape)))

    def dequantize(self, t: Tensor, source: str, output: str, scale=None, axis: int = 0) -> str:
        scale_name, zero = self.qparams(t, scale)
        attrs = {"axis": axis} if (t.quant.scale if scale is None else scale).size > 1 else {}
        self.nodes.append(helper.make_node("DequantizeLinear", [source, scale_name, zero], [output],
                                           name=self.fresh_node(f"{output}/dequantize"), **attrs))
        return output

    def constant(self, t: Tensor, perm=None, rank: int | None = None, scale=None) -> str:
        """A constant's float value, transposed by `perm` (default: NHWC -> NCHW for 4-D),
        after leading 1s up to `rank`: a float initializer, or an integer one behind a
        DequantizeLinear (per axis, the axis moved with the data)."""
        key = (t.index, perm, rank, None if scale is None else scale.tobytes())
        if key in self.consts:
            return self.consts[key]
        added = max((rank or 0) - len(t.shape), 0)
        values = t.data.reshape((1,) * added + t.shape)
        perm = perm or (NCHW if values.ndim == 4 else tuple(range(values.ndim)))
        values = values.transpose(perm)
        base = self.base(t)
        if t.type in (FLOAT32, FLOAT16):
            name = self.init(base, values.astype(np.float32))
        elif t.quant is None:
            self.fail(t.label, f"a {schema.type_name(t.type)} constant without quantization parameters is read as a number")
        else:
            axis = perm.index(t.quant.axis + added) if t.quant.scale.size > 1 else 0
            name = self.dequantize(t, self.init(f"{base}/quantized", values), self.fresh(base), scale, axis)
        self.consts[key] = name
        return name

    # ------------------------------------------------------------------------ operands

    def tensor(self, op: Operator, k: int, what: str) -> Tensor:
        if k >= len(op.inputs) or op.inputs[k] < 0:
            self.fail(op.label, f"input {k} ({what}) is missing")
        return self.model.tensors[op.inputs[k]]

    def optional(self, op: Operator, k: int) -> Tensor | None:
        return self.model.tensors[op.inputs[k]] if k < len(op.inputs) and op.inputs[k] >= 0 else None

    def const_input(self, op: Operator, k: int, what: str, rank: int | None = None) -> Tensor:
        t = self.tensor(op, k, what)
        if t.data is None:
            self.fail(op.label, f"input {k} ({what}, {t.label}) must be a constant")
        if rank is not None and len(t.shape) != rank:
            self.fail(op.label, f"input {k} ({what}) has shape {list(t.shape)}; expected {rank} dimensions")
        return t

    def value(self, t: Tensor, rank: int | None = None) -> str:
        """The float value of an operand in ONNX layout; with `rank` 4, a smaller one is
        first given leading 1s (TFLite broadcasts NHWC, ONNX would broadcast NCHW)."""
        if rank == 4 and len(t.shape) < 4:
            if t.data is not None:
                return self.constant(t, rank=4)
            return self.reshape(self.value(t), t.shape, (1,) * (4 - len(t.shape)) + t.shape)
        if t.index in self.values:
            return self.values[t.index]
        if t.data is None:
            self.fail(self.op.label, f"reads {t.label} before any operator writes it")
        return self.constant(t)

    def reshape(self, value: str, before: tuple, after: tuple, output: str = "") -> str:
        """A TFLite reshape (NHWC element order) of a value in ONNX layout; its last node's
        output is named `output` when given."""
        if math.prod(before) != math.prod(after):
            self.fail(self.op.label, f"cannot reshape {list(before)} to {list(after)}")
        if len(before) == 4:
            value = self.node("Transpose", [value], f"{value}/nhwc", perm=list(NHWC))
        shape = self.init(f"{value}/shape", np.array(after, np.int64))
        value = self.node("Reshape", [value, shape], output if output and len(after) != 4 else f"{value}/reshaped")
        if len(after) == 4:
            value = self.node("Transpose", [value], output or f"{value}/nchw", perm=list(NCHW))
        return value

    def image(self, op: Operator) -> tuple[Tensor, str]:
        x = self.tensor(op, 0, "input")
        if len(x.shape) != 4:
            self.fail(op.label, f"the input has shape {list(x.shape)}; expected an image [N,H,W,C]")
        return x, self.value(x)

    def window(self, op: Operator, opts: dict, x: Tensor, kernel: tuple[int, int], dilations=(1, 1)) -> dict:
        """ONNX attributes of a 2-D window; TFLite's SAME padding as explicit pads, computed
        as TFLite does: the smaller half before, the larger after."""
        strides = (opts["stride_h"], opts["stride_w"])
        if min(strides + dilations + kernel) < 1:
            self.fail(op.label, f"bad strides {strides}, dilations {dilations} or window {kernel}")
        if opts["padding"] not in (SAME, VALID):
            self.fail(op.label, f"unknown padding {opts['padding']}")
        before, after = [0, 0], [0, 0]
        if opts["padding"] == SAME:
            for i, (size, k, s, d) in enumerate(zip(x.shape[1:3], kernel, strides, dilations)):
                total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
                before[i], after[i] = total // 2, total - total // 2
        return dict(kernel_shape=list(kernel), strides=list(strides), pads=before + after)

    def bias(self, op: Operator, x: Tensor, w: Tensor, channels: int) -> list[str]:
        """The bias input: int32 values with scale input_scale * weight_scale, as TFLite's
        kernels read them (the bias tensor's own scale is not used)."""
        b = self.optional(op, 2)
        if b is None:
            return []
        if b.data is None or b.data.size != channels:
            self.fail(op.label, f"the bias ({b.label}) must be a constant of {channels} values")
        if b.type == INT32 and x.quant is not None and w.quant is not None:
            if w.quant.scale.size not in (1, channels):
                self.fail(op.label, f"{w.label} is quantized along another axis than its output channels")
            scale = (x.quant.scale.astype(np.float64) * w.quant.scale.astype(np.float64)).astype(np.float32)
            b = Tensor(b.index, b.name, b.type, b.shape, schema.Quantization(scale, np.zeros(scale.size, np.int64), 0), b.data)
            return [self.constant(b, perm=(0,), scale=scale)]
        return [self.constant(b, perm=(0,))]


# ---------------------------------------------------------------------------- one function per TFLite op
# Each returns the ONNX name of the op's float result, in the ONNX layout of its output tensor.


def conv_2d(c: Converter, op, opts, out) -> str:
    x, value = c.image(op)
    w = c.const_input(op, 1, "filter", rank=4)
    if w.shape[3] != x.shape[3]:
        c.fail(op.label, f"a filter for {w.shape[3]} input channels on {x.shape[3]}; grouped convolutions are not supported")
    window = c.window(op, opts, x, w.shape[1:3], (opts["dilation_h"], opts["dilation_w"]))
    inputs = [value, c.constant(w, perm=NCHW)] + c.bias(op, x, w, w.shape[0])
    return c.node("Conv", inputs, c.target, dilations=[opts["dilation_h"], opts["dilation_w"]], group=1, **window)


def _unused(wanted: str, taken: set[str]) -> str:
    """`wanted`, or wanted_2, wanted_3, ...: the first not in `taken`, which it joins."""
    name, k = wanted, 1
    while name in taken:
        k += 1
        name = f"{wanted}_{k}"
    taken.add(name)
    return name


def depthwise_conv_2d(c: Converter, op, opts, out) -> str:
    x, value = c.image(op)
    w = c.const_input(op, 1, "filter", rank=4)
    channels = x.shape[3]
    if w.shape[0] != 1 or w.shape[3] != channels:
        c.fail(op.label, f"a depthwise filter {list(w.shape)} on {channels} channels: only depth multiplier 1 "
                         "is supported")
    window = c.window(op, opts, x, w.shape[1:3], (opts["dilation_h"], opts["dilation_w"]))
    inputs = [value, c.constant(w, perm=(3, 0, 1, 2))] + c.bias(op, x, w, channels)  # [C,1,kh,kw]
    return c.node("Conv", inputs, c.target, dilations=[opts["dilation_h"], opts["dilation_w"]], group=channels,
                  **window)


def pool(kind: str):
    def convert(c: Converter, op, opts, out) -> str:
        x, value = c.image(op)
        window = c.window(op, opts, x, (opts["filter_h"], opts["filter_w"]))
        extra = {"count_include_pad": 0} if kind == "AveragePool" else {}  # TFLite averages the valid taps only
        return c.node(kind, [value], c.target, **window, **extra)
    return convert


def fully_connected(c: Converter, op, opts, out) -> str:
    x = c.tensor(op, 0, "input")
    w = c.const_input(op, 1, "weights", rank=2)
    if opts["weights_format"]:
        c.fail(op.label, "shuffled weights are not supported")
    units, features = w.shape
    total = math.prod(x.shape)
    if not features or total % features:
        c.fail(op.label, f"an input of shape {list(x.shape)} does not split into rows of {features} features")
    rows = (total // features, features)
    value = c.value(x) if x.shape == rows else c.reshape(c.value(x), x.shape, rows)
    inputs = [value, c.constant(w)] + c.bias(op, x, w, units)
    value = c.node("Gemm", inputs, c.target, transB=1)
    return value if out.shape == (rows[0], units) else c.reshape(value, (rows[0], units), out.shape)


def binary(kind: str):
    def convert(c: Converter, op, opts, out) -> str:
        a, b = c.tensor(op, 0, "x"), c.tensor(op, 1, "y")
        rank = len(out.shape)
        return c.node(kind, [c.value(a, rank), c.value(b, rank)], c.target)
    return convert


def unary(kind: str, bounds=None):
    def convert(c: Converter, op, opts, out) -> str:
        value = c.value(c.tensor(op, 0, "input"))
        attrs = {"alpha": float(opts["alpha"])} if kind == "LeakyRelu" else {}
        return c.node(kind, [value] + c.clip_bounds(value, bounds), c.target, **attrs)
    return convert


def identity(c: Converter, op, opts, out) -> str:
    """QUANTIZE and DEQUANTIZE: the same real values; the output's own pair (or none, for
    a float output) does the rest."""
    x = c.tensor(op, 0, "input")
    quantize = op.code == QUANTIZE
    if (out.type == FLOAT32) == quantize or (x.type == FLOAT32 and not quantize):
        c.fail(op.label, f"from {schema.type_name(x.type)} to {schema.type_name(out.type)}")
    return c.value(x)


def reshape(c: Converter, op, opts, out) -> str:
    """RESHAPE and SQUEEZE: to the output's declared shape (a shape input may hold -1)."""
    x = c.tensor(op, 0, "input")
    return c.reshape(c.value(x), x.shape, out.shape, c.target)


def softmax(c: Converter, op, opts, out) -> str:
    if opts["beta"] != 1.0:
        c.fail(op.label, f"beta {opts['beta']} is not supported; mcugen takes softmax with beta 1")
    x = c.tensor(op, 0, "input")
    return c.node("Softmax", [c.value(x)], c.target, axis=1 if len(x.shape) == 4 else -1)  # TFLite: the last axis


def mean(c: Converter, op, opts, out) -> str:
    x = c.tensor(op, 0, "input")
    rank = len(x.shape)
    given = [int(a) for a in c.const_input(op, 1, "axes").data.reshape(-1)]
    if not all(-rank <= a < rank for a in given):
        c.fail(op.label, f"axes {given} out of range for shape {list(x.shape)}")
    axes = sorted({a % rank for a in given})
    keep = int(bool(opts["keep_dims"]))
    if len(x.shape) == 4 and axes == [1, 2]:  # height and width: the ONNX axes 2, 3 of NCHW
        return c.node("ReduceMean", [c.value(x)], c.target, axes=[2, 3], keepdims=keep)
    value = c.value(x)
    if len(x.shape) == 4:  # other axes: on NHWC, as TFLite computes them
        value = c.node("Transpose", [value], f"{value}/nhwc", perm=list(NHWC))
    if len(out.shape) != 4:
        return c.node("ReduceMean", [value], c.target, axes=axes, keepdims=keep)
    value = c.node("ReduceMean", [value], f"{c.target}/nhwc", axes=axes, keepdims=keep)
    return c.node("Transpose", [value], c.target, perm=list(NCHW))


def resize(mode: str):
    """RESIZE_BILINEAR, RESIZE_NEAREST_NEIGHBOR: a Resize to the constant size, its flags as
    ONNX coordinate modes; mcugen's importer then takes TFLite's own coordinate tables
    (PRODUCER tells it the model is this conversion)."""
    def convert(c: Converter, op, opts, out) -> str:
        x, value = c.image(op)
        size = [int(v) for v in c.const_input(op, 1, "size").data.reshape(-1)]
        if len(size) != 2 or min(size) < 1:
            c.fail(op.label, f"size {size} is not a height and width")
        if opts["align_corners"] and opts["half_pixel_centers"]:
            c.fail(op.label, "align_corners and half_pixel_centers together are not supported")
        half = "half_pixel" if mode == "linear" else "tf_half_pixel_for_nn"
        transform = "align_corners" if opts["align_corners"] else half if opts["half_pixel_centers"] else "asymmetric"
        extra = {"nearest_mode": "round_prefer_ceil" if opts["align_corners"] else "floor"} if mode == "nearest" else {}
        sizes = c.init(f"{c.target}/sizes", np.array([1, x.shape[3], *size], np.int64))
        return c.node("Resize", [value, "", "", sizes], c.target, mode=mode,
                      coordinate_transformation_mode=transform, **extra)
    return convert


def pad(c: Converter, op, opts, out) -> str:
    x = c.tensor(op, 0, "input")
    p = c.const_input(op, 1, "paddings").data
    rank = len(x.shape)
    if p.shape != (rank, 2) or p.dtype.kind != "i" or (p < 0).any():
        c.fail(op.label, f"paddings {p.tolist()} are not non-negative [{rank}, 2] integers")
    order = NCHW if rank == 4 else tuple(range(rank))
    pads = [int(p[a, 0]) for a in order] + [int(p[a, 1]) for a in order]
    return c.node("Pad", [c.value(x), c.init(f"{c.target}/pads", np.array(pads, np.int64))], c.target)


def prelu(c: Converter, op, opts, out) -> str:
    """PRELU: alpha broadcasts over NHWC from the right, so one alpha per channel is [C],
    [1,C], [1,1,C] or [1,1,1,C]; in ONNX it becomes [1,C,1,1] (NCHW) behind its
    DequantizeLinear. Other alpha shapes are left to the importer, which refuses them."""
    x, alpha = c.tensor(op, 0, "input"), c.const_input(op, 1, "alpha")
    rank = len(x.shape)
    if len(alpha.shape) > rank:
        c.fail(op.label, f"alpha {list(alpha.shape)} has more dimensions than the input {list(x.shape)}")
    return c.node("PRelu", [c.value(x), c.constant(alpha, rank=rank)], c.target)


CONVERTERS = {
    "ADD": binary("Add"),
    "AVERAGE_POOL_2D": pool("AveragePool"),
    "CONV_2D": conv_2d,
    "DEPTHWISE_CONV_2D": depthwise_conv_2d,
    "DEQUANTIZE": identity,
    "FULLY_CONNECTED": fully_connected,
    "HARD_SWISH": unary("HardSwish"),
    "LEAKY_RELU": unary("LeakyRelu"),
    "LOGISTIC": unary("Sigmoid"),
    "MAX_POOL_2D": pool("MaxPool"),
    "MEAN": mean,
    "MUL": binary("Mul"),
    "PAD": pad,
    "PRELU": prelu,
    "QUANTIZE": identity,
    "RELU": unary("Relu"),
    "RELU6": unary("Clip", (0.0, 6.0)),
    "RELU_N1_TO_1": unary("Clip", (-1.0, 1.0)),
    "RESHAPE": reshape,
    "RESIZE_BILINEAR": resize("linear"),
    "RESIZE_NEAREST_NEIGHBOR": resize("nearest"),
    "SOFTMAX": softmax,
    "SQUEEZE": reshape,
    "SUB": binary("Sub"),
    "TANH": unary("Tanh"),
}


def onnx_shape(shape: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(shape[i] for i in NCHW) if len(shape) == 4 else tuple(shape)

