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
- hoist_input_transpose: that Transpose written after element-wise steps of the input
  (tf2onnx's export of a .tflite with Keras' Rescaling layer: Mul and Add by scalars
  between QuantizeLinear/DequantizeLinear pairs, then the Transpose) moves up to the
  input, where absorb_input_transpose takes it. Element-wise steps with scalar
  parameters commute with moving bytes.
- cancel_transposes: a Transpose to NHWC and, after element-wise steps, its inverse back
  to NCHW (tf2onnx leaves such islands where it could not push them out: a HardSwish
  between Q/DQ pairs, a squeeze-excite Mul) cancel: the first moves down through each
  step until it meets the second. A step's other operand of rank 4 gets the inverse
  Transpose (on a [1,1,1,C] scale it moves no bytes). Kept only when the count of
  Transposes goes down.
- absorb_input_reshape: a Reshape of the input to an image that NHWC memory holds in the
  file's order: one channel ([1,49,10,1] or a flat [1,490] -> [1,1,49,10], as tf2onnx
  writes NHWC -> NCHW for one channel and keyword-spotting models take their features)
  or a 1x1 image. It goes the same way: the C input is the file's input bytes in order.
"""

from __future__ import annotations

import heapq
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


# One activation in, one out, every other input a scalar: these commute with a Transpose.
ELEMENTWISE = {"QuantizeLinear", "DequantizeLinear", "Add", "Sub", "Mul", "Div", "Relu", "Clip", "LeakyRelu",
               "Sigmoid", "HardSigmoid", "HardSwish", "Tanh", "Identity", "Cast"}


def hoist_input_transpose(model: onnx.ModelProto, input_name: str) -> int:
    """x -> element-wise step -> Transpose(perm=[0,3,1,2])  =>  x -> Transpose -> the step,
    repeated while the step reads the input through such steps only; returns how many
    steps the Transposes moved past. Each step's output must feed only the Transpose."""
    moved = 0
    for _ in range(len(model.graph.node)):  # each swap moves one Transpose one step up; bounded
        if not _swap_one_transpose(model, input_name):
            return moved
        moved += 1
    return moved


def _swap_one_transpose(model, input_name) -> bool:
    g = model.graph
    nodes = list(g.node)
    producers = {o: k for k, n in enumerate(nodes) for o in n.output}
    outputs = {o.name for o in g.output}
    scalars = _scalar_names(model, nodes)
    for t, node in enumerate(nodes):
        if node.op_type != "Transpose" or node.domain not in ("", "ai.onnx") or _perm(node) != NCHW_FROM_NHWC:
            continue
        k = producers.get(node.input[0])
        if k is None or not _commutes(nodes[k], scalars) or not _from_input(nodes, producers, k, input_name, scalars):
            continue
        step = nodes[k]
        if step.output[0] in outputs or sum(step.output[0] in n.input for n in nodes) != 1:
            continue
        x, z = step.input[0], node.output[0]
        moved = fresh_name(g, f"{x}/mcugen_nchw")
        node.input[0], node.output[0] = x, moved
        step.input[0], step.output[0] = moved, z
        nodes[k], nodes[t] = nodes[t], nodes[k]  # the Transpose now runs first
        del g.node[:]
        g.node.extend(nodes)
        return True
    return False


def _commutes(node, scalars: set[str]) -> bool:
    return (node.op_type in ELEMENTWISE and node.domain in ("", "ai.onnx") and len(node.output) == 1
            and all(name in scalars or name == "" for name in node.input[1:]))


def _from_input(nodes, producers, k, input_name, scalars) -> bool:
    """Does node k read the input through element-wise steps alone?"""
    for _ in range(len(nodes)):
        name = nodes[k].input[0]
        if name == input_name:
            return True
        k = producers.get(name)
        if k is None or not _commutes(nodes[k], scalars):
            return False
    return False


def _scalar_names(model, nodes) -> set[str]:
    """Names holding one constant value: size-1 initializers and Constants, and their
    DequantizeLinear (tf2onnx's quantized scalars)."""
    scalars = {name for name, t in constant_tensors(model).items() if math.prod(t.dims) == 1}
    for node in nodes:
        if node.op_type == "DequantizeLinear" and all(name in scalars for name in node.input if name):
            scalars.add(node.output[0])
    return scalars


BINARY = {"Add", "Sub", "Mul", "Div"}


def cancel_transposes(model: onnx.ModelProto) -> int:
    """Transposes removed (see the module docstring); the model is left as it was when the
    count would not go down."""
    before = sum(n.op_type == "Transpose" for n in model.graph.node)
    if not before:
        return 0
    trial = onnx.ModelProto.FromString(model.SerializeToString())
    try:
        inferred = onnx.shape_inference.infer_shapes(trial).graph
    except Exception:  # noqa: BLE001 - shape inference reports problems later, with names
        return 0
    shapes = {v.name: [d.dim_value if d.HasField("dim_value") else -1 for d in v.type.tensor_type.shape.dim]
              for v in [*inferred.value_info, *inferred.input]}
    for _ in range(8 * len(trial.graph.node)):  # each move takes a Transpose one step down; bounded
        if not _move_one_transpose(trial, shapes):
            break
    after = sum(n.op_type == "Transpose" for n in trial.graph.node)
    if after >= before:
        return 0
    del model.graph.node[:]
    model.graph.node.extend(trial.graph.node)
    return before - after


def _moves_no_bytes(shape, perm) -> bool:
    """A Transpose of `shape` that keeps the order of its non-1 axes is a Reshape."""
    if not shape or min(shape) < 0:
        return False
    kept = [axis for axis in perm if shape[axis] != 1]
    return kept == sorted(kept)


def _move_one_transpose(model, shapes) -> bool:
    g = model.graph
    nodes = list(g.node)
    outputs = {o.name for o in g.output}
    scalars = _scalar_names(model, nodes)
    readers_of: dict[str, list[int]] = {}
    for k, n in enumerate(nodes):
        for name in dict.fromkeys(n.input):
            readers_of.setdefault(name, []).append(k)
    for t, node in enumerate(nodes):
        perm = _perm(node)
        if node.op_type != "Transpose" or perm is None or len(perm) != 4 or node.output[0] in outputs \
                or node.name.endswith(INVERSE):  # an operand's inverse stays put: moving it would undo the move
            continue
        readers = readers_of.get(node.output[0], [])
        if len(readers) > 1:  # one copy per reader, each then moves on its own
            for j, k in enumerate(readers[1:], 1):
                copy = fresh_name(g, f"{node.output[0]}/mcugen_copy_{j}")
                nodes[k].input[:] = [copy if name == node.output[0] else name for name in nodes[k].input]
                nodes.insert(t + 1, onnx.helper.make_node("Transpose", list(node.input), [copy], perm=perm,
                                                          name=f"{node.name}/mcugen_copy_{j}"))
            _topological(g, nodes)
            return True
        if not readers:
            continue
        k = readers[0]
        step = nodes[k]
        inverse = [perm.index(i) for i in range(4)]
        if step.op_type == "Transpose" and _perm(step) == inverse:
            _bypass(g, nodes, {t, k}, step.output[0], node.input[0])
            return True
        if step.op_type == "Reshape" and step.input[0] == node.output[0] and _moves_no_bytes(shapes.get(node.input[0]), perm):
            _bypass(g, nodes, {t}, node.output[0], node.input[0])
            return True
        if len(step.output) != 1 or step.output[0] in outputs or step.domain not in ("", "ai.onnx"):
            continue
        if step.input[0] == node.output[0] and _commutes(step, scalars):
            _swap_down(g, nodes, t, k)
            return True
        if step.input[0] == node.output[0] and _reduce_through(step, perm, len(step.input) > 1 and step.input[1]):
            _swap_down(g, nodes, t, k)
            return True
        if step.op_type in BINARY and list(step.input).count(node.output[0]) == 1:
            mine = list(step.input).index(node.output[0])
            other = step.input[1 - mine]
            if len(shapes.get(other, [])) != 4 and other not in scalars:
                continue
            if other not in scalars:
                moved = fresh_name(g, f"{other}/mcugen_transposed")
                nodes.insert(k, onnx.helper.make_node("Transpose", [other], [moved], perm=inverse,
                                                      name=f"{node.name}{INVERSE}"))
                step.input[1 - mine] = moved
                k += 1
            if mine == 1:  # the swap below moves input 0; the op is the same either way round for Add/Mul
                if step.op_type not in ("Add", "Mul"):
                    continue
                step.input[0], step.input[1] = step.input[1], step.input[0]
            _swap_down(g, nodes, t, k)
            return True
    return False


REDUCE = ("ReduceMean", "ReduceMax")
INVERSE = "/mcugen_inverse"


def _reduce_through(step, perm, axes_input) -> bool:
    """A ReduceMean/ReduceMax keeping its dims (axes an attribute) after Transpose(perm):
    reduce the same axes before it instead (rewritten here); False when it cannot."""
    if step.op_type not in REDUCE or axes_input:
        return False
    attrs = {a.name: a for a in step.attribute}
    if "axes" not in attrs or ("keepdims" in attrs and attrs["keepdims"].i != 1):
        return False
    axes = [a % 4 for a in attrs["axes"].ints]
    del attrs["axes"].ints[:]
    attrs["axes"].ints.extend(sorted(perm[a] for a in axes))
    return True


def _swap_down(g, nodes, t, k) -> None:
    """Transpose t -> step k  =>  step k -> Transpose t (the Transpose keeps its output name)."""
    transpose, step = nodes[t], nodes[k]
    x, y, z = transpose.input[0], transpose.output[0], step.output[0]
    step.input[0], step.output[0] = x, y
    transpose.input[0], transpose.output[0] = y, z
    nodes[t], nodes[k] = step, transpose
    _topological(g, nodes)


def _bypass(g, nodes, gone: set[int], old: str, new: str) -> None:
    kept = [n for j, n in enumerate(nodes) if j not in gone]
    for n in kept:
        n.input[:] = [new if name == old else name for name in n.input]
    _topological(g, kept)


def _topological(g, nodes) -> None:
    """Write `nodes` back in an order where each reads only what is written before it
    (Kahn's algorithm, ties in the given order)."""
    producer = {o: k for k, n in enumerate(nodes) for o in n.output}
    waits = [{producer[name] for name in n.input if name in producer} for n in nodes]
    users: dict[int, list[int]] = {}
    for k, deps in enumerate(waits):
        for d in deps:
            users.setdefault(d, []).append(k)
    count = [len(w) for w in waits]
    ready = [k for k, c in enumerate(count) if c == 0]
    heapq.heapify(ready)
    order = []
    while ready:
        k = heapq.heappop(ready)
        order.append(k)
        for u in users.get(k, []):
            count[u] -= 1
            if count[u] == 0:
                heapq.heappush(ready, u)
    order += [k for k in range(len(nodes)) if k not in set(order)]  # a cycle: not from these moves
    kept = [onnx.NodeProto.FromString(nodes[k].SerializeToString()) for k in order]
    del g.node[:]
    g.node.extend(kept)


def fresh_name(g, base: str) -> str:
    """`base`, or `base` with a number after it, so that no tensor of the graph has it yet:
    one rewrite may run many times on tensors of the same name."""
    taken = {i.name for i in g.input} | {t.name for t in g.initializer} | {o for n in g.node for o in n.output}
    name, k = base, 0
    while name in taken:
        k += 1
        name = f"{base}_{k}"
    return name


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
