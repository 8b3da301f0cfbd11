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
- absorb_input_reshape: a Reshape of the input to an image that NHWC memory holds in the
  file's order: one channel ([1,49,10,1] or a flat [1,490] -> [1,1,49,10], as tf2onnx
  writes NHWC -> NCHW for one channel and keyword-spotting models take their features)
  or a 1x1 image. It goes the same way: the C input is the file's input bytes in order.
"""

from __future__ import annotations

import math

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
    _read_input_instead(g, input_name, transposed)
    dims = [onnx.TensorShapeProto.Dimension() for _ in range(4)]
    for new, old in zip(dims, [declared[i] for i in NCHW_FROM_NHWC]):
        new.CopyFrom(old)
    del declared[:]
    declared.extend(dims)
    return True


def _read_input_instead(g, input_name: str, outputs: set[str]) -> None:
    """Drop the nodes writing `outputs` (layout ops of the input) and have their readers read
    the input itself. Nodes are matched by output name: protobuf hands out a new wrapper on
    every access."""
    kept = [onnx.NodeProto.FromString(n.SerializeToString()) for n in g.node if not set(n.output) & outputs]
    for node in kept:
        node.input[:] = [input_name if name in outputs else name for name in node.input]
    del g.node[:]
    g.node.extend(kept)


def constant_tensors(model: onnx.ModelProto) -> dict[str, TensorProto]:
    """Every constant the file names before folding: initializers and Constant nodes' values."""
    values = {t.name: t for t in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Constant" and node.output:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is not None:
                values[node.output[0]] = value
    return values


def _constant(model: onnx.ModelProto, name: str) -> np.ndarray | None:
    tensor = constant_tensors(model).get(name)
    try:
        return None if tensor is None else numpy_helper.to_array(tensor)
    except Exception:  # data that does not fit its type and shape: left for import to report
        return None


def _reshaped(model, node, dims: list[int]) -> list[int] | None:
    """The static shape a Reshape of a tensor of shape `dims` gives (0 copies, -1 infers)."""
    target = _constant(model, node.input[1]) if len(node.input) > 1 else None
    if target is None or target.dtype.kind not in "iu" or target.ndim != 1:
        return None
    allowzero = any(a.name == "allowzero" and a.i for a in node.attribute)
    shape = [dims[k] if int(d) == 0 and not allowzero and k < len(dims) else int(d) for k, d in enumerate(target)]
    known = math.prod(d for d in shape if d != -1)  # Python integers: no overflow on hostile sizes
    if shape.count(-1) > 1 or any(d < -1 for d in shape) or known <= 0:
        return None
    total = math.prod(dims)
    shape = [total // known if d == -1 else d for d in shape]
    return shape if math.prod(shape) == total else None


def absorb_input_reshape(model: onnx.ModelProto, input_name: str, limit: int) -> bool:
    """True when the input fed one chain of Reshapes and Transposes to an image [1,C,H,W]
    whose NHWC memory is the input's memory in order (one channel, a 1x1 image, or a flat
    vector reshaped to NHWC and transposed to NCHW), which is gone now: its reader reads
    the input, whose declared shape is now that image. `limit` bounds the input's size."""
    g = model.graph
    declared = next(i for i in g.input if i.name == input_name).type.tensor_type.shape.dim
    dims = [d.dim_value for d in declared]
    if min(dims, default=0) <= 0 or math.prod(dims) > limit or len(dims) == 4 and dims[1] == 1:
        return False
    memory, chain, name = np.arange(math.prod(dims)).reshape(dims), [], input_name
    while True:
        users = [n for n in g.node if name in n.input]
        if len(users) != 1 or users[0].op_type not in ("Reshape", "Transpose") or users[0].input[0] != name \
                or users[0].domain not in ("", "ai.onnx") or name in {o.name for o in g.output}:
            break
        memory = _apply(model, users[0], memory)
        if memory is None:
            return False
        chain.append(users[0].output[0])
        name = users[0].output[0]
        if _nhwc_in_order(memory):
            break
    if not chain or memory.shape[0] != 1 or name in {o.name for o in g.output} or not _nhwc_in_order(memory):
        return False
    # Only the chain's last output has readers outside it; the rest are dropped with it.
    _read_input_instead(g, input_name, set(chain))
    del declared[:]
    for size in memory.shape:
        declared.add().dim_value = int(size)
    return True


def _nhwc_in_order(memory: np.ndarray) -> bool:
    """Is `memory` (element indices of the input, NCHW) an image whose NHWC bytes are the
    input's in order?"""
    return memory.ndim == 4 and np.array_equal(memory.transpose(0, 2, 3, 1).ravel(), np.arange(memory.size))


def _apply(model, node, memory: np.ndarray) -> np.ndarray | None:
    """The element indices `memory` after a Reshape or Transpose with constant parameters."""
    if node.op_type == "Transpose":
        perm = _perm(node) or list(reversed(range(memory.ndim)))
        return memory.transpose(perm) if sorted(perm) == list(range(memory.ndim)) else None
    shape = _reshaped(model, node, list(memory.shape))
    return None if shape is None else memory.reshape(shape)
