"""Constant folding: nodes whose inputs are all constants are evaluated at compile time
(onnx's reference evaluator), with bounds against hostile growth."""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import numpy_helper

from mcugen.errors import McugenError
from mcugen.frontend import qdq
from mcugen.frontend.context import MAX_ACTIVATION_BYTES, describe
from mcugen.frontend.shapes import array_of

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
    raw = {t.name: array_of(t, "model") for t in model.graph.initializer}
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
    if node.op_type == "Transpose" and quantized is not None and given[0] in quantized:
        # A quantized weight transposed after its DequantizeLinear (tf2onnx's OHWI -> OIHW)
        # keeps its integers and scales: the same transpose, the channel axis moved with it.
        perm = next((list(a.ints) for a in node.attribute if a.name == "perm"), None)
        constant = qdq.transpose_constant(quantized[given[0]], perm)
        if constant is not None:
            quantized[outputs[0]] = constant
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
