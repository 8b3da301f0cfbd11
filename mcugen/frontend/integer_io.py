"""Integer graph inputs and outputs: a full-int8 model (tf2onnx's export of a .tflite, a
.tflite read directly) takes int8 or uint8 and gives int8 or uint8.

The file says so with an integer graph input that feeds DequantizeLinear (or a Cast to
float: image bytes), and an integer graph output written by a QuantizeLinear. mcugen's
frontend works in float with QuantizeLinear -> DequantizeLinear pairs, so these become
exactly that: a float input followed by a QuantizeLinear with the model's parameters,
and a float output after a DequantizeLinear. The pairs then fold like every other
(passes/fold_qdq.py), leaving the model's own parameters on the input and output. The
integer types are returned as values: the C takes and gives those bytes as they are,
and verify feeds integer samples.

Layout ops that tf2onnx leaves right after an input's DequantizeLinear (the NHWC -> NCHW
Transpose, or a Reshape when there is one channel) move above the new QuantizeLinear,
so the input's own layout change is absorbed as for a float model (tidy.py).
"""

from __future__ import annotations

import math

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper

from mcugen.errors import McugenError, quote
from mcugen.frontend import tidy
from mcugen.frontend.tidy import constant_tensors

INTEGER_TYPES = {TensorProto.INT8: "int8", TensorProto.UINT8: "uint8"}
LAYOUT_OPS = ("Transpose", "Reshape", "Flatten", "Squeeze", "Unsqueeze")


def _per_tensor(node, constants, dtype: int) -> tuple[float, int] | None:
    """(scale, zero point) of a DequantizeLinear/QuantizeLinear with constant per-tensor
    parameters of the integer type `dtype`, else None."""
    inputs = list(node.input) + ["", ""]
    if inputs[1] not in constants or (inputs[2] and inputs[2] not in constants):
        return None
    try:
        scale = numpy_helper.to_array(constants[inputs[1]])
        zp = numpy_helper.to_array(constants[inputs[2]]) if inputs[2] else np.zeros((), _np(dtype))
    except Exception:
        return None
    if scale.size != 1 or zp.size != 1 or scale.dtype.kind != "f" or zp.dtype != _np(dtype):
        return None
    return float(scale.reshape(-1)[0]), int(zp.reshape(-1)[0])


def _np(dtype: int) -> np.dtype:
    return np.dtype(np.int8) if dtype == TensorProto.INT8 else np.dtype(np.uint8)


def replace_nodes(g, nodes) -> None:
    """g.node := nodes (which may be g.node's own elements: copied first)."""
    copies = [onnx.NodeProto.FromString(n.SerializeToString()) for n in nodes]
    del g.node[:]
    g.node.extend(copies)


def float_io(model: onnx.ModelProto, source: str) -> tuple[str, str, int]:
    """Rewrite an integer input and output as float ones with QuantizeLinear/DequantizeLinear
    pairs, and move layout ops out from between every QuantizeLinear and its DequantizeLinear,
    in place. Returns the file's input and output types ("float32", "int8", "uint8") and how
    many layout ops moved."""
    g = model.graph
    inits = {t.name for t in g.initializer}
    inp = next(i for i in g.input if i.name not in inits)
    moved = sink_layout_ops(model)  # tf2onnx reshapes the int8 input itself before its DequantizeLinear
    types = _input(model, inp, source), _output(model, g.output[0], source)
    return *types, moved + sink_layout_ops(model)  # and the new output DequantizeLinear may follow one


def _input(model, inp, source) -> str:
    ttype = inp.type.tensor_type
    if ttype.elem_type not in INTEGER_TYPES:
        return "float32"
    dtype, g = ttype.elem_type, model.graph
    name = quote(inp.name)
    readers = [n for n in g.node if inp.name in n.input]
    constants = constant_tensors(model)
    params = set()
    for node in readers:
        if node.op_type == "DequantizeLinear" and node.input[0] == inp.name:
            params.add(_per_tensor(node, constants, dtype))
        elif node.op_type == "Cast" and _cast_to_float(node):
            params.add((1.0, 0))  # image bytes as they are: real = 1.0 * (q - 0)
        else:
            params.add(None)
    if not readers or None in params or len(params) != 1:
        raise McugenError(f"{source}: input {name} is {INTEGER_TYPES[dtype].upper()}; mcugen takes an integer input "
                          "only into DequantizeLinear nodes of one per-tensor scale and zero point, or a Cast to float")
    scale, zp = params.pop()
    quantized = f"{inp.name}/mcugen_quantized"
    names = _params_initializers(model, inp.name, scale, zp, dtype)
    for node in readers:
        if node.op_type == "Cast":
            node.CopyFrom(onnx.helper.make_node("DequantizeLinear", [quantized, *names], list(node.output), name=node.name))
        else:
            node.input[0] = quantized
    quantize = onnx.helper.make_node("QuantizeLinear", [inp.name, *names], [quantized], name=f"{inp.name}/mcugen_quantize")
    g.node.insert(0, quantize)
    ttype.elem_type = TensorProto.FLOAT
    for _ in range(len(g.node)):
        if not _hoist_layout_op(model, quantized):
            break
    return INTEGER_TYPES[dtype]


def _cast_to_float(node) -> bool:
    return any(a.name == "to" and a.i == TensorProto.FLOAT for a in node.attribute)


def _params_initializers(model, base: str, scale: float, zp: int, dtype: int) -> list[str]:
    names = [f"{base}/mcugen_scale", f"{base}/mcugen_zero_point"]
    model.graph.initializer.extend([numpy_helper.from_array(np.array(scale, np.float32), names[0]),
                                    numpy_helper.from_array(np.array(zp, _np(dtype)), names[1])])
    return names


def _hoist_layout_op(model, quantized: str) -> bool:
    """x -> Q -> DQ(s) -> one layout op each (all alike)  =>  x -> layout op -> Q -> DQ, for the
    QuantizeLinear writing `quantized`. Per-tensor quantization commutes with moving bytes, so
    the result is the same; repeated, the input's layout ops come first, where tidy absorbs them.
    (Nodes are told apart by index: protobuf hands out a new wrapper on every access.)"""
    nodes = list(model.graph.node)
    k = next(i for i, n in enumerate(nodes) if list(n.output) == [quantized])
    readers = {i: [j for j, m in enumerate(nodes) if n.output[0] in m.input] for i, n in enumerate(nodes)}
    dequantizers = readers[k]
    moved = [j for d in dequantizers for j in readers[d]]
    if not moved or any(nodes[j].op_type not in LAYOUT_OPS for j in moved) or \
            any(len(readers[d]) != 1 for d in dequantizers):
        return False
    key = {(nodes[j].op_type, tuple(nodes[j].input[1:]), tuple(sorted(a.SerializeToString() for a in nodes[j].attribute)))
           for j in moved}
    if len(key) != 1 or {o.name for o in model.graph.output} & {nodes[d].output[0] for d in dequantizers}:
        return False
    quantize, first = nodes[k], nodes[moved[0]]
    laid_out = tidy.fresh_name(model.graph, f"{quantized}/mcugen_laid_out")
    layout_node = onnx.helper.make_node(first.op_type, [quantize.input[0], *first.input[1:]], [laid_out], name=first.name)
    layout_node.attribute.extend(first.attribute)
    quantize.input[0] = laid_out
    survivor = first.output[0]
    nodes[dequantizers[0]].output[0] = survivor  # one DequantizeLinear is enough now
    others = {nodes[j].output[0] for j in moved[1:]}
    for n in nodes:  # every other layout op's readers read the one that stays
        n.input[:] = [survivor if name in others else name for name in n.input]
    gone = {k, *dequantizers, *moved}
    rest = [n for j, n in enumerate(nodes) if j not in gone and j > k]
    replace_nodes(model.graph, [*nodes[:k], layout_node, quantize, nodes[dequantizers[0]], *rest])
    return True


def _output(model, out, source) -> str:
    ttype = out.type.tensor_type
    if ttype.elem_type not in INTEGER_TYPES:
        return "float32"
    dtype, g = ttype.elem_type, model.graph
    producer = _quantize_behind(model, out.name)
    params = _per_tensor(producer, constant_tensors(model), dtype) if producer is not None else None
    if params is None:
        raise McugenError(f"{source}: output {quote(out.name)} is {INTEGER_TYPES[dtype].upper()}; mcugen gives an "
                          "integer output only from a QuantizeLinear of one per-tensor scale and zero point "
                          f"(possibly followed by {', '.join(LAYOUT_OPS)})")
    quantized = f"{out.name}/mcugen_quantized"
    for node in g.node:
        node.output[:] = [quantized if name == out.name else name for name in node.output]
        node.input[:] = [quantized if name == out.name else name for name in node.input]
    names = _params_initializers(model, out.name, *params, dtype)
    g.node.append(onnx.helper.make_node("DequantizeLinear", [quantized, *names], [out.name],
                                        name=f"{out.name}/mcugen_dequantize"))
    ttype.elem_type = TensorProto.FLOAT
    return INTEGER_TYPES[dtype]


def _quantize_behind(model, name: str):
    """The QuantizeLinear that wrote `name`, looking back through layout ops."""
    producers = {o: n for n in model.graph.node for o in n.output}
    node = producers.get(name)
    for _ in range(len(model.graph.node)):
        if node is None or node.op_type == "QuantizeLinear":
            return node
        if node.op_type not in LAYOUT_OPS:
            return None
        node = producers.get(node.input[0])
    return None


def sink_layout_ops(model: onnx.ModelProto) -> int:
    """QuantizeLinear -> layout op(s) -> DequantizeLinear  =>  QuantizeLinear -> DequantizeLinear
    -> layout op(s), as tf2onnx writes a Reshape or Squeeze on int8 data. Per-tensor
    quantization commutes with moving bytes. Returns how many layout ops moved."""
    g, moved = model.graph, 0
    for _ in range(len(g.node)):  # each round moves one op one place down; bounded
        producers = {o: n for n in g.node for o in n.output}
        constants = constant_tensors(model)
        integer_inputs = {i.name for i in g.input if i.type.tensor_type.elem_type in INTEGER_TYPES}
        step = _one_sink(g, producers, constants, integer_inputs)
        if not step:
            return moved
        moved += 1
    return moved


def _one_sink(g, producers, constants, integer_inputs) -> bool:
    for k, dq in enumerate(g.node):
        if dq.op_type != "DequantizeLinear":
            continue
        layout_op = producers.get(dq.input[0])
        if layout_op is None or layout_op.op_type not in LAYOUT_OPS:
            continue
        if not _integer_activation(layout_op, producers, integer_inputs):
            continue
        readers = [n for n in g.node if layout_op.output[0] in n.input]
        if len(readers) != 1 or layout_op.output[0] in {o.name for o in g.output}:
            continue
        if not (len(dq.input) > 1 and dq.input[1] in constants and math.prod(constants[dq.input[1]].dims) == 1):
            continue  # per-axis: the axis would move too
        x, y = layout_op.input[0], dq.output[0]
        mid = tidy.fresh_name(g, f"{x}/mcugen_dequantized")
        dq.input[0], dq.output[0] = x, mid
        layout_op.input[0], layout_op.output[0] = mid, y
        nodes = list(g.node)
        j = next(i for i, n in enumerate(nodes) if list(n.output) == [y])
        nodes[j], nodes[k] = nodes[k], nodes[j]  # keep the order topological: dq first
        replace_nodes(g, nodes)
        return True
    return False


def _integer_activation(node, producers, integer_inputs) -> bool:
    """Does node's data input come (through layout ops) from a QuantizeLinear or an integer
    graph input?"""
    for _ in range(len(producers) + 1):
        name = node.input[0]
        node = producers.get(name)
        if node is None or node.op_type == "QuantizeLinear":
            return node is not None or name in integer_inputs
        if node.op_type not in LAYOUT_OPS:
            return False
    return False
