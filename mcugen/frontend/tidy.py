"""Model-level clean-ups before import: exporter idioms that concern the file, not one op.

Each works on the frontend's own copy of the model, in place unless it says otherwise,
and returns what it changed, for the note the user sees.

- inline_functions: ONNX local functions (model.functions, which the dynamo exporter can
  emit) are inlined with onnx.inliner, so every node is a plain ONNX op.
- drop_unused_opsets: opset imports of domains that no node uses (onnxruntime's tools
  add com.microsoft and others) are ignored.
- upcast_float16: float16 and bfloat16 constants, casts and declared types become
  float32. mcugen computes in float64 and int8 anyway.
- remove_dead_nodes: nodes whose outputs nobody uses are dropped, so a dangling branch
  (of an op mcugen does not support, say) does not stop the compile.
- absorb_input_transpose: tf2onnx's NHWC image input followed by Transpose(perm=[0,3,1,2]).
  The transpose goes and the input is declared as the NCHW tensor it produced. Its NHWC
  memory, which is what the C input holds, is the file's input as it is.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import AttributeProto, TensorProto, numpy_helper

from mcugen.errors import McugenError, quote

LOW_FLOATS = (TensorProto.FLOAT16, TensorProto.BFLOAT16)
NCHW_FROM_NHWC = [0, 3, 1, 2]


def inline_functions(model: onnx.ModelProto) -> tuple[onnx.ModelProto, int]:
    """(the model with its local functions inlined, how many there were)."""
    count = len(model.functions)
    if not count:
        return model, 0
    try:
        import onnx.inliner

        model = onnx.inliner.inline_local_functions(model)
    except Exception as exc:
        raise McugenError(f"cannot inline the model's {count} local functions ({type(exc).__name__})") from None
    del model.functions[:]
    return model, count


def drop_unused_opsets(model: onnx.ModelProto) -> int:
    used = {node.domain for node in model.graph.node} | {"", "ai.onnx"}
    kept = [o for o in model.opset_import if o.domain in used]
    dropped = len(model.opset_import) - len(kept)
    if dropped:
        del model.opset_import[:]
        model.opset_import.extend(kept)
    return dropped


def _float32(tensor: TensorProto) -> TensorProto:
    try:
        array = numpy_helper.to_array(tensor).astype(np.float32)
    except Exception:
        raise McugenError(f"constant {quote(tensor.name)}: its data does not match its type and shape") from None
    return numpy_helper.from_array(array, tensor.name)


def upcast_float16(model: onnx.ModelProto) -> int:
    """Every float16/bfloat16 initializer, Constant value and Cast target as float32;
    returns how many constants changed."""
    g, count = model.graph, 0
    for tensor in g.initializer:
        if tensor.data_type in LOW_FLOATS:
            tensor.CopyFrom(_float32(tensor))
            count += 1
    for node in g.node:
        for a in node.attribute:
            if a.type == AttributeProto.TENSOR and a.t.data_type in LOW_FLOATS:
                a.t.CopyFrom(_float32(a.t))
                count += 1
            elif node.op_type == "Cast" and a.name == "to" and a.i in LOW_FLOATS:
                a.i = TensorProto.FLOAT
    for vi in list(g.input) + list(g.output) + list(g.value_info):
        if vi.type.tensor_type.elem_type in LOW_FLOATS:
            vi.type.tensor_type.elem_type = TensorProto.FLOAT
    return count


def _subgraph_inputs(node) -> set[str]:
    """Names a node's sub-graphs (If, Loop bodies) read from the graph around them."""
    names = set()
    for a in node.attribute:
        for graph in ([a.g] if a.type == AttributeProto.GRAPH else list(a.graphs)):
            for inner in graph.node:
                names.update(inner.input)
                names.update(_subgraph_inputs(inner))
    return names


def remove_dead_nodes(model: onnx.ModelProto) -> int:
    """Drop nodes none of whose outputs is read (walking back from the graph output)."""
    g = model.graph
    needed = {o.name for o in g.output}
    kept = []
    for node in reversed(g.node):
        if any(name in needed for name in node.output if name):
            kept.append(node)
            needed.update(name for name in node.input if name)
            needed.update(_subgraph_inputs(node))
    removed = len(g.node) - len(kept)
    if removed:
        kept.reverse()
        del g.node[:]
        g.node.extend(kept)
    return removed


def _perm(node) -> list[int] | None:
    return next((list(a.ints) for a in node.attribute if a.name == "perm"), None)


def absorb_input_transpose(model: onnx.ModelProto, input_name: str) -> bool:
    """True when the input was NHWC and fed only Transpose(perm=[0,3,1,2]) nodes, which are
    gone now: their readers read the input, whose declared shape is now NCHW."""
    g = model.graph
    declared = next(i for i in g.input if i.name == input_name).type.tensor_type.shape.dim
    readers = [k for k, n in enumerate(g.node) if input_name in n.input]
    users = [g.node[k] for k in readers]
    if len(declared) != 4 or not users or any(
            n.op_type != "Transpose" or n.domain not in ("", "ai.onnx") or _perm(n) != NCHW_FROM_NHWC for n in users):
        return False
    transposed = {n.output[0] for n in users}
    if transposed & {o.name for o in g.output}:
        return False  # the model is only the transpose: nothing to absorb it into
    kept = [n for k, n in enumerate(g.node) if k not in readers]
    for node in kept:
        for k, name in enumerate(node.input):
            if name in transposed:
                node.input[k] = input_name
    del g.node[:]
    g.node.extend(kept)
    dims = [onnx.TensorShapeProto.Dimension() for _ in range(4)]
    for new, old in zip(dims, [declared[i] for i in NCHW_FROM_NHWC]):
        new.CopyFrom(old)
    del declared[:]
    declared.extend(dims)
    return True
