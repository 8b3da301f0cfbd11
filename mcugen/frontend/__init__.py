"""Frontend: an ONNX file in, an IR graph (NHWC, batch 1) out.

Loading is defensive (the file may be missing, truncated, hostile); every problem becomes
a McugenError naming what and where. Each supported ONNX op type has one small importer
in importers.py that reads its attributes and constant inputs and returns IR nodes. Importers only
translate; rewrites that span several nodes (folding BatchNorm, Pad, activations) are
passes, in mcugen/passes/.
"""

from __future__ import annotations

import math
from pathlib import Path

import onnx

from mcugen import layout
from mcugen.errors import McugenError, quote
from mcugen.frontend import integer_io, qdq, tflite
from mcugen.frontend.context import MAX_ACTIVATION_BYTES, Context, describe
from mcugen.frontend.fold import fold_constants
from mcugen.frontend.importers import IMPORTERS
from mcugen.frontend.load import load
from mcugen.frontend.shapes import (
    array_of,
    checked_constant,
    infer_shapes,
    known_shape,
    tidy_model,
)
from mcugen.ir import Graph, Node, Tensor


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
    model, io = tidy_model(model, inputs[0].name, source, notes, input_shape)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)
    quantized: dict[str, qdq.QuantizedConstant] = {}
    model = fold_constants(model, infer_shapes(model, source), opset, quantized)
    shapes = infer_shapes(model, source)  # again: folded shape sub-graphs make more shapes static
    consts = {t.name: checked_constant(t.name, array_of(t, source), source) for t in model.graph.initializer}
    ctx = Context(consts, shapes, opset, notes, quantized, from_tflite=tflite.converted_from_tflite(model))

    missing = [node for node in model.graph.node if _importer(node) is None]
    if missing:  # every unsupported op at once, so one run tells the whole story
        raise McugenError(unsupported(missing[0], opset, also=missing[1:]))
    nodes: list[Node] = []
    for node in model.graph.node:
        nodes.extend(_importer(node)(node, ctx))
    if ctx.requantized:
        notes.append(f"{len(ctx.requantized)} layers' model-quantized weights do not fit mcugen's symmetric "
                     f"per-channel int8 and are re-quantized from their values ({ctx.requantized[0]}, ...)")

    input_name, output_name = inputs[0].name, model.graph.output[0].name
    if output_name in consts:
        raise McugenError(f"{source}: the model's output is a constant; there is nothing to compute")
    tensors = {}
    for name in [input_name] + [o for n in nodes for o in n.outputs]:
        shape = known_shape(name, shapes, source)
        if math.prod(shape) > MAX_ACTIVATION_BYTES:
            raise McugenError(f"{source}: tensor {quote(name)} of shape {list(shape)} is over "
                              f"{MAX_ACTIVATION_BYTES >> 20} MiB as int8; no microcontroller holds it")
        tensors[name] = Tensor(name, layout.ir_shape(shape))
    for n in nodes:
        for name in n.inputs:
            if name not in tensors:
                raise McugenError(f"{source}: tensor {quote(name)} is used but never produced")
    graph = Graph(tensors, nodes, input_name, output_name, opset, source, **io)
    if output_name not in tensors:
        raise McugenError(f"{source}: the output {quote(output_name)} is not produced by any node")
    return graph, notes


def _importer(node):
    return IMPORTERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None


MAX_LISTED = 8  # further unsupported nodes are counted, not named


def unsupported(node, opset: int, also=()) -> str:
    """The one-line refusal of a node without an importer; `also`: the model's other nodes
    without one, named after it (the first few, then a count)."""
    others = ""
    if also:
        named = ", ".join(f"{quote(n.name or '<unnamed>')} ({n.op_type})" for n in also[:MAX_LISTED])
        more = f" and {len(also) - MAX_LISTED} more" if len(also) > MAX_LISTED else ""
        others = f"; nor are {len(also)} other node{'s' if len(also) > 1 else ''}: {named}{more}"
    if node.op_type in qdq.QOPERATOR:
        return (f"{describe(node, opset)} is not supported: it is onnxruntime's QOperator format; mcugen takes "
                f"pre-quantized models in the QDQ format (quantize_static with quant_format=QuantFormat.QDQ){others}")
    return f"{describe(node, opset)} is not supported{others}; supported: {', '.join(sorted(IMPORTERS))}"




def load_float_io(path: str | Path) -> onnx.ModelProto:
    """The model file with float input and output (integer_io.py) and no layout op between a
    QuantizeLinear and its DequantizeLinear: what onnxruntime runs for verify's figures."""
    model = load(path)
    integer_io.float_io(model, Path(path).name)
    return model


def read(path: str | Path, input_shape: tuple[int, ...] | None = None) -> tuple[Graph, list[str]]:
    """load + import_model: the frontend's one entry point."""
    return import_model(load(path), Path(path).name, input_shape)
