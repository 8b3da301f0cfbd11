"""Shapes: the input's symbolic sizes fixed (--input-shape), ONNX shape inference, and
the arrays of initializers as float64."""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from mcugen import layout
from mcugen.errors import McugenError, escape, quote
from mcugen.frontend import integer_io, tidy
from mcugen.frontend.context import MAX_ACTIVATION_BYTES


def tidy_model(model, input_name, source, notes, input_shape):
    """The file-level clean-ups (mcugen/frontend/tidy.py, integer_io.py) on a copy of the
    model, then the input's shape; returns (model, facts about the file's input and output
    for the Graph: input_layout, input_file_shape, input_type, output_type)."""
    model = onnx.ModelProto.FromString(model.SerializeToString())  # leave the caller's copy alone
    input_type, output_type, moved = integer_io.float_io(model, source)
    if input_type != "float32" or output_type != "float32":
        notes.append(f"the model takes {input_type} and gives {output_type} with its own scales and zero points: "
                     "the C takes and gives those bytes as they are")
    if moved:
        notes.append(f"moved {moved} layout ops from between a QuantizeLinear and its DequantizeLinear to after it")
    model, functions = tidy.inline_functions(model)
    if functions:
        notes.append(f"inlined {functions} local functions")
    tidy.drop_unused_opsets(model)
    if tidy.upcast_float16(model):
        notes.append("float16 constants upcast to float32")
    inp = next(i for i in model.graph.input if i.name == input_name)
    _fix_input_shape(inp, source, notes, input_shape)
    # Shapes the model claims are re-derived from the fixed input: exporters leave stale ones
    # (Paddle2ONNX's -1 output dimension), which strict shape inference would call a conflict.
    del model.graph.value_info[:]
    for out in model.graph.output:
        out.type.tensor_type.ClearField("shape")
    file_shape = tuple(d.dim_value for d in inp.type.tensor_type.shape.dim)
    input_layout = "NCHW"
    hoisted = tidy.hoist_input_transpose(model, input_name)
    if hoisted:
        notes.append(f"moved the input's Transpose to NCHW up past {hoisted} element-wise steps, to the input")
    if tidy.absorb_input_transpose(model, input_name):
        input_layout = "NHWC"
        notes.append(f"input {quote(input_name)} is NHWC: its Transpose to NCHW is absorbed (the C input is NHWC)")
    elif tidy.absorb_input_reshape(model, input_name, MAX_ACTIVATION_BYTES):
        input_layout = "NHWC"
        notes.append(f"input {quote(input_name)} of shape {list(file_shape)} is reshaped (and transposed) to an image "
                     "whose NHWC bytes are the input's in order: the Reshape is absorbed (the C input is the file's "
                     "input as it is)")
    cancelled = tidy.cancel_transposes(model)
    if cancelled:
        notes.append(f"removed {cancelled} Transposes that cancel each other around element-wise steps")
    dead = tidy.remove_dead_nodes(model)
    if dead:
        notes.append(f"removed {dead} nodes whose outputs nobody uses")
    return model, dict(input_layout=input_layout, input_file_shape=file_shape,
                       input_type=input_type, output_type=output_type)


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


def infer_shapes(model, source) -> dict[str, tuple[int, ...]]:
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


def known_shape(name, shapes, source):
    if name not in shapes:
        raise McugenError(
            f"{source}: the shape of tensor {quote(name)} is unknown, dynamic or empty; "
            "mcugen needs static shapes"
        )
    return shapes[name]


def _to_float(array: np.ndarray) -> np.ndarray:
    return array.astype(np.float64) if array.dtype.kind == "f" else array


def array_of(tensor: onnx.TensorProto, source: str) -> np.ndarray:
    try:
        return numpy_helper.to_array(tensor)
    except Exception:  # data that does not fit the declared type and shape
        known = tensor.data_type in onnx.TensorProto.DataType.values()
        dtype = onnx.TensorProto.DataType.Name(tensor.data_type) if known else "?"
        raise McugenError(f"{source}: constant {quote(tensor.name)}: its data does not match its type "
                          f"({dtype}) and shape {list(tensor.dims)}") from None


def checked_constant(name: str, array: np.ndarray, source: str) -> np.ndarray:
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
