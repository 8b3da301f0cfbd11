"""Frontend: an ONNX file in, an IR graph (NHWC, batch 1) out.

Loading is defensive (the file may be missing, truncated, hostile); every problem becomes
a McugenError naming what and where. Each supported ONNX op type has one small importer
below that reads its attributes and constant inputs and returns IR nodes. Importers only
translate; rewrites that span several nodes (folding BatchNorm, Pad, activations) are
passes, in mcugen/passes/.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from mcugen import layout, qdq, tidy
from mcugen.ops.common import pad_nhwc, taps, window_output_hw
from mcugen.errors import McugenError, escape, quote
from mcugen.ir import Graph, Node, Tensor

INF = math.inf
# No microcontroller has this much RAM; refusing early also bounds mcugen's own memory
# (calibration holds float copies of every activation) against hostile shape claims.
MAX_ACTIVATION_BYTES = 16 << 20


# ---------------------------------------------------------------------------- loading


def load(path: str | Path) -> onnx.ModelProto:
    """Read and check an ONNX file; external data is read only from the model's folder."""
    path = Path(path)
    if not path.exists():
        raise McugenError(f"{path}: no such file")
    if not path.is_file():
        raise McugenError(f"{path}: not a file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types on garbage input
        raise McugenError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise McugenError(f"{path}: not an ONNX model (no graph or no nodes)")
    _check_names(model, path)
    _load_external_data(model, path)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise McugenError(f"{path}: invalid ONNX model: {first[:200]}") from None
    return model


def _check_names(model: onnx.ModelProto, path: Path) -> None:
    """Names that are not valid UTF-8 come back from protobuf as bytes: a corrupt file."""
    g = model.graph
    names = [g.name] + [v.name for v in list(g.input) + list(g.output) + list(g.value_info)]
    names += [t.name for t in g.initializer]
    for n in g.node:
        names += [n.name, n.op_type, n.domain, *n.input, *n.output, *(a.name for a in n.attribute)]
    if any(not isinstance(name, str) for name in names):
        raise McugenError(f"{path}: a name in the model is not valid UTF-8 (a corrupt file)")


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    folder = path.resolve().parent
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder) or not target.is_file():
            raise McugenError(
                f"{path}: initializer {quote(tensor.name)} points at external data "
                f"{quote(location)}, which is not a file inside the model's folder"
            )
    try:
        onnx.load_external_data_for_model(model, str(folder))
    except Exception as exc:
        raise McugenError(f"{path}: cannot read external data ({type(exc).__name__})") from None


# ---------------------------------------------------------------------------- import


@dataclass
class Context:
    """What an importer may ask about its node's surroundings."""

    consts: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]  # ONNX layout (NCHW)
    opset: int
    notes: list[str] = field(default_factory=list)
    quantized: dict[str, qdq.QuantizedConstant] = field(default_factory=dict)  # constants behind a DequantizeLinear
    requantized: list[str] = field(default_factory=list)  # why model-quantized weights were not taken

    def const(self, node, index: int, what: str, required: bool = True) -> np.ndarray | None:
        if index >= len(node.input) or not node.input[index]:
            if required:
                raise McugenError(f"{describe(node, self.opset)}: missing input '{what}'")
            return None
        name = node.input[index]
        if name not in self.consts:
            raise McugenError(
                f"{describe(node, self.opset)}: input '{what}' ({quote(name)}) must be a "
                "constant (an initializer or a Constant node)"
            )
        return self.consts[name]

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.shapes:
            raise McugenError(f"the shape of tensor {quote(name)} is unknown, dynamic or empty; "
                              "mcugen needs static shapes")
        return self.shapes[name]


def describe(node, opset: int) -> str:
    """`node 'NAME' (OpType, opset N)`: how every message names an ONNX node."""
    op = f"{node.domain}.{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
    return f"node {quote(node.name or '<unnamed>')} ({op}, opset {opset})"


def attr(node, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default


def import_model(model: onnx.ModelProto, source: str = "model",
                 input_shape: tuple[int, ...] | None = None) -> tuple[Graph, list[str]]:
    """Translate a checked ONNX model to an IR graph. Returns (graph, notes for the user).
    `input_shape` (--input-shape) fixes the input's symbolic sizes, in the file's layout."""
    g = model.graph
    init_names = {t.name for t in g.initializer}
    inputs = [i for i in g.input if i.name not in init_names]
    if len(inputs) != 1:
        raise McugenError(f"{source}: the model has {len(inputs)} inputs; mcugen supports exactly one")
    if len(g.output) != 1:
        raise McugenError(f"{source}: the model has {len(g.output)} outputs; mcugen supports exactly one")
    notes: list[str] = []
    model, input_layout = _tidy(model, inputs[0].name, source, notes, input_shape)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    quantized: dict[str, qdq.QuantizedConstant] = {}
    model = fold_constants(model, _infer_shapes(model, source), opset, quantized)
    shapes = _infer_shapes(model, source)  # again: folded shape sub-graphs make more shapes static
    consts = {t.name: _constant(t.name, _array(t, source), source) for t in model.graph.initializer}
    ctx = Context(consts, shapes, opset, notes, quantized)

    nodes: list[Node] = []
    for node in model.graph.node:
        importer = IMPORTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        if importer is None:
            raise McugenError(unsupported(node, opset))
        nodes.extend(importer(node, ctx))
    if ctx.requantized:
        notes.append(f"{len(ctx.requantized)} layers' model-quantized weights do not fit mcugen's symmetric "
                     f"per-channel int8 and are re-quantized from their values ({ctx.requantized[0]}, ...)")

    input_name, output_name = inputs[0].name, model.graph.output[0].name
    if output_name in consts:
        raise McugenError(f"{source}: the model's output is a constant; there is nothing to compute")
    tensors = {}
    for name in [input_name] + [o for n in nodes for o in n.outputs]:
        shape = _known_shape(name, shapes, source)
        if math.prod(shape) > MAX_ACTIVATION_BYTES:
            raise McugenError(f"{source}: tensor {quote(name)} of shape {list(shape)} is over "
                              f"{MAX_ACTIVATION_BYTES >> 20} MiB as int8; no microcontroller holds it")
        tensors[name] = Tensor(name, layout.ir_shape(shape))
    for n in nodes:
        for name in n.inputs:
            if name not in tensors:
                raise McugenError(f"{source}: tensor {quote(name)} is used but never produced")
    graph = Graph(tensors, nodes, input_name, output_name, opset, source, input_layout)
    if output_name not in tensors:
        raise McugenError(f"{source}: the output {quote(output_name)} is not produced by any node")
    return graph, notes


def unsupported(node, opset: int) -> str:
    """The one-line refusal of a node without an importer."""
    if node.op_type in qdq.QOPERATOR:
        return (f"{describe(node, opset)} is not supported: it is onnxruntime's QOperator format; mcugen takes "
                "pre-quantized models in the QDQ format (quantize_static with quant_format=QuantFormat.QDQ)")
    return f"{describe(node, opset)} is not supported; supported: {', '.join(sorted(IMPORTERS))}"


def _tidy(model, input_name, source, notes, input_shape):
    """The file-level clean-ups (mcugen/tidy.py) on a copy of the model, then the input's
    shape; returns (model, the file input's layout)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())  # leave the caller's copy alone
    model, functions = tidy.inline_functions(model)
    if functions:
        notes.append(f"inlined {functions} local functions")
    tidy.drop_unused_opsets(model)
    if tidy.upcast_float16(model):
        notes.append("float16 constants upcast to float32")
    inp = next(i for i in model.graph.input if i.name == input_name)
    _fix_input_shape(inp, source, notes, input_shape)
    del model.graph.value_info[:]  # shapes the model claims are re-derived from the fixed input
    input_layout = "NCHW"
    if tidy.absorb_input_transpose(model, input_name):
        input_layout = "NHWC"
        notes.append(f"input {quote(input_name)} is NHWC: its Transpose to NCHW is absorbed (the C input is NHWC)")
    dead = tidy.remove_dead_nodes(model)
    if dead:
        notes.append(f"removed {dead} nodes whose outputs nobody uses")
    return model, input_layout


def _fix_input_shape(inp, source, notes, override=None) -> None:
    """Batch 1 everywhere: a symbolic batch becomes 1; other symbolic sizes come from
    --input-shape (`override`, in the file's layout), or are an error that says so."""
    ttype = inp.type.tensor_type
    if ttype.elem_type != onnx.TensorProto.FLOAT:
        dtype = onnx.TensorProto.DataType.Name(ttype.elem_type) if ttype.elem_type in onnx.TensorProto.DataType.values() else "?"
        raise McugenError(f"{source}: input {quote(inp.name)} is {dtype}; mcugen expects a float32 input")
    dims = ttype.shape.dim
    if len(dims) not in (2, 4):
        raise McugenError(
            f"{source}: input {quote(inp.name)} has rank {len(dims)}; mcugen expects "
            "an image [N,C,H,W] or a vector [N,F]"
        )
    if override is not None:
        _apply_input_shape(inp, source, override)
    if not dims[0].HasField("dim_value"):
        label = dims[0].dim_param or "?"
        notes.append(f"input {quote(inp.name)}: symbolic batch '{label}' compiled as 1")
        dims[0].Clear()
        dims[0].dim_value = 1
    elif dims[0].dim_value != 1:
        raise McugenError(
            f"{source}: input {quote(inp.name)} has batch {dims[0].dim_value}; mcugen compiles batch 1"
        )
    for axis, d in enumerate(dims[1:], start=1):
        if not d.HasField("dim_value") or d.dim_value <= 0:
            example = ",".join(["1"] + [str(e.dim_value) if e.HasField("dim_value") and e.dim_value > 0
                                        else _label(e.dim_param) for e in dims[1:]])
            raise McugenError(
                f"{source}: input {quote(inp.name)} has unknown size in dimension {axis} "
                f"('{_label(d.dim_param)}'); mcugen needs a static input shape: pass "
                f"--input-shape {example} with the sizes to compile for, in the model's input layout"
            )


def _label(dim_param: str) -> str:
    """A symbolic dimension's name for a message: safe on one line, never empty."""
    return escape(dim_param, 20) if dim_param else "?"


def _apply_input_shape(inp, source, shape) -> None:
    """--input-shape: the same rank as the input, agreeing with every size the model fixes."""
    dims = inp.type.tensor_type.shape.dim
    given = ",".join(map(str, shape))
    if len(shape) != len(dims):
        raise McugenError(f"--input-shape {given} has {len(shape)} dimensions; input {quote(inp.name)} "
                          f"of {source} has {len(dims)}")
    for axis, (d, size) in enumerate(zip(dims, shape)):
        if d.HasField("dim_value") and d.dim_value > 0 and d.dim_value != size:
            raise McugenError(f"--input-shape {given} disagrees with input {quote(inp.name)} of {source} in "
                              f"dimension {axis}: the model fixes it to {d.dim_value}")
        d.Clear()
        d.dim_value = size


def _infer_shapes(model, source) -> dict[str, tuple[int, ...]]:
    try:
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        raise McugenError(f"{source}: shape inference failed: {first}") from None
    shapes = {}
    g = inferred.graph
    for vi in list(g.input) + list(g.value_info) + list(g.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") and d.dim_value > 0 for d in t.shape.dim):
            shapes[vi.name] = tuple(int(d.dim_value) for d in t.shape.dim)
    return shapes


def _known_shape(name, shapes, source):
    if name not in shapes:
        raise McugenError(
            f"{source}: the shape of tensor {quote(name)} is unknown, dynamic or empty; "
            "mcugen needs static shapes"
        )
    return shapes[name]


def _to_float(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def _array(tensor: onnx.TensorProto, source: str) -> np.ndarray:
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # data that does not fit the declared type and shape
        dtype = onnx.TensorProto.DataType.Name(tensor.data_type) if tensor.data_type in onnx.TensorProto.DataType.values() else "?"
        raise McugenError(f"{source}: constant {quote(tensor.name)}: its data does not match its type "
                          f"({dtype}) and shape {list(tensor.dims)}") from None


def _constant(name: str, array: np.ndarray, source: str) -> np.ndarray:
    """A constant as float64 (integers kept), refusing NaN and infinity."""
    array = _to_float(array)
    if array.dtype.kind == "f" and not np.all(np.isfinite(array)):
        raise McugenError(f"{source}: constant {quote(name)} holds NaN or infinite values")
    return array


def reshape_permutation(in_shape, out_shape, transpose=None) -> np.ndarray | None:
    """How an ONNX reshape (or, with `transpose`, a Transpose of that perm) moves bytes once
    tensors are stored NHWC.

    Returns None when it leaves memory order alone (then it is free), else the gather
    index `perm` with out_memory[i] = in_memory[perm[i]].
    """
    n = int(np.prod(in_shape))
    memory = layout.to_onnx(np.arange(n).reshape(layout.ir_shape(in_shape)))
    moved = memory.transpose(transpose) if transpose is not None else memory.reshape(out_shape)
    moved = layout.to_ir(moved).ravel()
    return None if np.array_equal(moved, np.arange(n)) else moved


# ---------------------------------------------------------------------------- constant folding

MAX_FOLDED_ELEMENTS = 1 << 24  # a constant computed at compile time; bounds a hostile ConstantOfShape
# Ops whose output can be far larger than their inputs: the size is checked before evaluating.
GROWTH = {
    "ConstantOfShape": lambda v: math.prod(int(d) for d in v[0].reshape(-1)),
    "Expand": lambda v: math.prod(np.broadcast_shapes(v[0].shape, tuple(int(d) for d in v[1].reshape(-1)))),
    "Tile": lambda v: math.prod(int(a) * int(r) for a, r in zip(v[0].shape, v[1].reshape(-1))),
    "Range": lambda v: math.ceil((float(v[1]) - float(v[0])) / float(v[2])) if float(v[2]) else 0,
}
NEVER_FOLD = {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
SHAPE_OPS = {"Shape", "Size"}  # constant once the input's shape is static, whatever its values


def fold_constants(model: onnx.ModelProto, shapes, opset: int,
                   quantized: dict | None = None) -> onnx.ModelProto:
    """Evaluate at compile time every node whose inputs are all constants, and Shape/Size of a
    tensor whose shape is static: exporters' Shape -> Gather -> Unsqueeze -> Concat -> Reshape
    chains vanish. Folded nodes become initializers, so shape inference sees through them;
    Constant nodes stay (the Constant importer reads them) but feed the folding.
    A DequantizeLinear of constants (a QDQ model's weights) also records its integers and
    scales in `quantized`, under its output's name, for the importers to take."""
    raw = {t.name: _array(t, "model") for t in model.graph.initializer}
    kept, folded = [], {}
    for node in model.graph.node:
        values = _evaluate(node, raw, shapes, model.opset_import, opset, quantized)
        if values is None or node.op_type == "Constant":
            kept.append(node)
        if values is not None:
            raw.update(values)
            if node.op_type != "Constant":
                folded.update(values)
    if not folded:
        return model
    del model.graph.node[:]
    model.graph.node.extend(kept)
    model.graph.initializer.extend(numpy_helper.from_array(np.asarray(v), name) for name, v in folded.items())
    return model


def _check_growth(node, feeds, opset) -> None:
    estimate = GROWTH.get(node.op_type)
    if estimate is None:
        return
    try:
        size = estimate([feeds[name] for name in node.input if name])
    except Exception:
        return  # malformed inputs: the evaluator below reports them
    if size > MAX_FOLDED_ELEMENTS:
        raise McugenError(f"{describe(node, opset)}: its constant output would have {size:,} elements")


def _evaluate(node, raw, shapes, opset_import, opset, quantized=None) -> dict | None:
    """{output: value} of a foldable node (onnx's reference evaluator at the model's opsets),
    or None when it depends on the model's input."""
    given = [name for name in node.input if name]
    if node.domain not in ("", "ai.onnx") or node.op_type in NEVER_FOLD:
        return None
    if node.op_type in SHAPE_OPS and given and given[0] in shapes:
        if math.prod(shapes[given[0]]) > MAX_ACTIVATION_BYTES:
            return None  # refused later, with the size limit's message
        feeds = {given[0]: np.zeros(shapes[given[0]], np.float32)}
    elif all(name in raw for name in given):
        feeds = {name: raw[name] for name in given}
        _check_growth(node, feeds, opset)
    else:
        return None
    outputs = [name for name in node.output if name]
    if node.op_type == "DequantizeLinear":  # onnx's evaluator has no DequantizeLinear before opset 19
        value, constant = qdq.dequantize_constant(node, feeds, describe(node, opset))
        if quantized is not None:
            quantized[outputs[0]] = constant
        return {outputs[0]: value}
    if node.op_type == "QuantizeLinear":
        return {outputs[0]: qdq.quantize_constant(node, feeds, describe(node, opset))}
    graph = onnx.helper.make_graph(
        [node], "fold", [onnx.helper.make_tensor_value_info(name, 0, None) for name in feeds],
        [onnx.helper.make_tensor_value_info(name, 0, None) for name in outputs])
    try:
        from onnx.reference import ReferenceEvaluator

        values = ReferenceEvaluator(onnx.helper.make_model(graph, opset_imports=list(opset_import))).run(None, feeds)
    except Exception as exc:
        raise McugenError(f"{describe(node, opset)}: cannot evaluate it on its constant inputs "
                          f"({type(exc).__name__})") from None
    return dict(zip(outputs, values))


# ---------------------------------------------------------------------------- importers
# Each takes (onnx node, Context) and returns a list of IR nodes.


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
    The NHWC input's own Transpose is absorbed before import (mcugen/tidy.py)."""
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
    """What a QDQ model fixes for a weighted node (mcugen/qdq.py): `weight_scale`, one per
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
    if value.size != 1:
        raise McugenError(f"{describe(node, ctx.opset)}: only a scalar constant operand is supported "
                          f"(this one has shape {list(value.shape)})")
    c = float(value.reshape(-1)[0])
    steps = {"Add": (1.0, c), "Sub": (-1.0, c) if const_first else (1.0, -c), "Mul": (c, 0.0)}
    if node.op_type == "Div":
        if const_first or c == 0.0:
            raise McugenError(f"{describe(node, ctx.opset)}: only division of an activation by a non-zero constant "
                              "is supported")
        steps["Div"] = (1.0 / c, 0.0)
    return [_ir(node, "lut", [activation], steps=(("affine", *steps[node.op_type]),))]


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
    """HardSwish, HardSigmoid, Sigmoid: 256-entry lookup tables (mcugen/ops/lut.py)."""
    if node.op_type == "HardSigmoid":
        step = ("hardsigmoid", float(attr(node, "alpha", 0.2)), float(attr(node, "beta", 0.5)))
    else:
        step = (node.op_type.lower(),)
    return [_ir(node, "lut", node.input[:1], steps=(step,))]


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
            array = _array(value, "model")
        elif a.name in ("value_float", "value_int", "value_floats", "value_ints"):
            array = np.array(value)
        else:
            continue
        ctx.consts[node.output[0]] = _constant(node.output[0], array, "model")
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
    "Identity": import_identity,
    "HardSigmoid": import_elementwise,
    "HardSwish": import_elementwise,
    "MatMul": import_matmul,
    "Max": import_min_max,
    "MaxPool": import_max_pool,
    "Min": import_min_max,
    "Mul": import_arith,
    "Div": import_arith,
    "Pad": import_pad,
    "QuantizeLinear": import_quantize_linear,
    "ReduceMean": import_reduce_mean,
    "Relu": import_relu,
    "Reshape": import_reshape,
    "Sigmoid": import_elementwise,
    "Softmax": import_softmax,
    "Sub": import_arith,
    "Squeeze": import_reshape,
    "Transpose": import_transpose,
    "Unsqueeze": import_reshape,
}


def read(path: str | Path, input_shape: tuple[int, ...] | None = None) -> tuple[Graph, list[str]]:
    """load + import_model: the frontend's one entry point."""
    return import_model(load(path), Path(path).name, input_shape)
