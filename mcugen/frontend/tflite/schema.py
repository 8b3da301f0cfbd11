"""The few tables of TFLite's schema.fbs that mcugen reads, parsed from a checked
FlatBuffers reader (flatbuf.py) into plain dataclasses, with every index and size checked.

Field ids are the order of the fields in tensorflow/lite/schema/schema.fbs (version 3).
Only subgraph 0, the model's main graph, is read.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from mcugen.errors import McugenError, quote
from mcugen.frontend.tflite.flatbuf import Reader, Table

IDENTIFIER = b"TFL3"  # bytes 4..8 of every file the TFLite converter writes
SCHEMA_VERSION = 3
MAX_RANK = 8  # TFLite kernels take at most 6 dimensions
MAX_ELEMENTS = 1 << 31

# BuiltinOperator, by code (schema.fbs; CUSTOM is 32): a word list reads better than 210 quoted names.
BUILTIN_NAMES = """
ADD AVERAGE_POOL_2D CONCATENATION CONV_2D DEPTHWISE_CONV_2D DEPTH_TO_SPACE DEQUANTIZE EMBEDDING_LOOKUP
FLOOR FULLY_CONNECTED HASHTABLE_LOOKUP L2_NORMALIZATION L2_POOL_2D LOCAL_RESPONSE_NORMALIZATION LOGISTIC
LSH_PROJECTION LSTM MAX_POOL_2D MUL RELU RELU_N1_TO_1 RELU6 RESHAPE RESIZE_BILINEAR RNN SOFTMAX
SPACE_TO_DEPTH SVDF TANH CONCAT_EMBEDDINGS SKIP_GRAM CALL CUSTOM EMBEDDING_LOOKUP_SPARSE PAD
UNIDIRECTIONAL_SEQUENCE_RNN GATHER BATCH_TO_SPACE_ND SPACE_TO_BATCH_ND TRANSPOSE MEAN SUB DIV SQUEEZE
UNIDIRECTIONAL_SEQUENCE_LSTM STRIDED_SLICE BIDIRECTIONAL_SEQUENCE_RNN EXP TOPK_V2 SPLIT LOG_SOFTMAX
DELEGATE BIDIRECTIONAL_SEQUENCE_LSTM CAST PRELU MAXIMUM ARG_MAX MINIMUM LESS NEG PADV2 GREATER
GREATER_EQUAL LESS_EQUAL SELECT SLICE SIN TRANSPOSE_CONV SPARSE_TO_DENSE TILE EXPAND_DIMS EQUAL NOT_EQUAL
LOG SUM SQRT RSQRT SHAPE POW ARG_MIN FAKE_QUANT REDUCE_PROD REDUCE_MAX PACK LOGICAL_OR ONE_HOT LOGICAL_AND
LOGICAL_NOT UNPACK REDUCE_MIN FLOOR_DIV REDUCE_ANY SQUARE ZEROS_LIKE FILL FLOOR_MOD RANGE
RESIZE_NEAREST_NEIGHBOR LEAKY_RELU SQUARED_DIFFERENCE MIRROR_PAD ABS SPLIT_V UNIQUE CEIL REVERSE_V2 ADD_N
GATHER_ND COS WHERE RANK ELU REVERSE_SEQUENCE MATRIX_DIAG QUANTIZE MATRIX_SET_DIAG ROUND HARD_SWISH IF
WHILE NON_MAX_SUPPRESSION_V4 NON_MAX_SUPPRESSION_V5 SCATTER_ND SELECT_V2 DENSIFY SEGMENT_SUM BATCH_MATMUL
PLACEHOLDER_FOR_GREATER_OP_CODES CUMSUM CALL_ONCE BROADCAST_TO RFFT2D CONV_3D IMAG REAL COMPLEX_ABS
HASHTABLE HASHTABLE_FIND HASHTABLE_IMPORT HASHTABLE_SIZE REDUCE_ALL CONV_3D_TRANSPOSE VAR_HANDLE
READ_VARIABLE ASSIGN_VARIABLE BROADCAST_ARGS RANDOM_STANDARD_NORMAL BUCKETIZE RANDOM_UNIFORM MULTINOMIAL
GELU DYNAMIC_UPDATE_SLICE RELU_0_TO_1 UNSORTED_SEGMENT_PROD UNSORTED_SEGMENT_MAX UNSORTED_SEGMENT_SUM
ATAN2 UNSORTED_SEGMENT_MIN SIGN BITCAST BITWISE_XOR RIGHT_SHIFT
""".split()  # noqa: SIM905
CUSTOM = 32


def builtin_name(code: int) -> str:
    return BUILTIN_NAMES[code] if 0 <= code < len(BUILTIN_NAMES) else f"builtin op {code}"


# TensorType: name and numpy type of the types mcugen reads (the others are named in messages).
TYPE_NAMES = ("FLOAT32", "FLOAT16", "INT32", "UINT8", "INT64", "STRING", "BOOL", "INT16", "COMPLEX64", "INT8", "FLOAT64",
              "COMPLEX128", "UINT64", "RESOURCE", "VARIANT", "UINT32", "UINT16", "INT4", "BFLOAT16", "INT2", "UINT4",
              "FLOAT8_E4M3FN", "FLOAT8_E5M2")
FLOAT32, FLOAT16, INT32, UINT8, INT64, INT16, INT8 = 0, 1, 2, 3, 4, 7, 9
DTYPES = {FLOAT32: np.float32, FLOAT16: np.float16, INT32: np.int32, UINT8: np.uint8, INT64: np.int64,
          INT16: np.int16, INT8: np.int8}


def type_name(code: int) -> str:
    return TYPE_NAMES[code] if 0 <= code < len(TYPE_NAMES) else f"type {code}"


@dataclass(frozen=True)
class Quantization:
    """real = scale * (q - zero_point), per tensor (one scale) or along `axis`."""

    scale: np.ndarray  # float32
    zero_point: np.ndarray  # int64, as many as scales
    axis: int  # quantized_dimension, for more than one scale


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    type: int  # TensorType
    shape: tuple[int, ...]
    quant: Quantization | None
    data: np.ndarray | None = field(repr=False)  # a constant's values, in `shape`; None for an activation

    @property
    def label(self) -> str:
        return f"tensor {quote(self.name or '<unnamed>')} (index {self.index})"


@dataclass(frozen=True)
class Operator:
    index: int
    code: int  # BuiltinOperator
    custom: str  # custom_code of a CUSTOM op
    inputs: tuple[int, ...]  # tensor indices; -1 is an optional input left out
    outputs: tuple[int, ...]
    options_type: int  # the BuiltinOptions union's type
    options: Table | None = field(repr=False)

    @property
    def label(self) -> str:
        name = f"CUSTOM '{self.custom}'" if self.code == CUSTOM else builtin_name(self.code)
        return f"operator {self.index} ({name})"


@dataclass(frozen=True)
class Model:
    tensors: list[Tensor]
    operators: list[Operator]  # in execution order
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]
    description: str


def read(data: bytes, source: str) -> Model:
    r = Reader(data, source)
    if len(data) < 8 or bytes(data[4:8]) != IDENTIFIER:
        r.fail("header", f"bytes 4..8 are not the TFLite identifier {IDENTIFIER.decode()}")
    root = r.root("model")
    version = root.scalar(0, "I", 0, "version")
    if version != SCHEMA_VERSION:
        r.refuse("model.version", f"schema version {version}; mcugen reads version {SCHEMA_VERSION}")
    if root.tables(9, "external_buffers"):
        r.refuse("model.external_buffers", "external buffer groups are not supported")
    codes = [_opcode(t) for t in root.tables(1, "operator_codes")]
    buffers = [_buffer(r, t) for t in root.tables(4, "buffers")]
    subgraphs = root.tables(2, "subgraphs")
    if not subgraphs:
        r.fail("model.subgraphs", "the model has no subgraph")
    g = subgraphs[0]
    tensors = [_tensor(r, t, i, buffers) for i, t in enumerate(g.tables(0, "tensors"))]
    operators = [_operator(r, t, i, codes, len(tensors)) for i, t in enumerate(g.tables(3, "operators"))]
    inputs, outputs = (_indices(r, g, fid, name, len(tensors), optional=False) for fid, name in ((1, "inputs"), (2, "outputs")))
    return Model(tensors, operators, inputs, outputs, root.string(3, "description"))


def _indices(r: Reader, t: Table, fid: int, name: str, count: int, optional: bool) -> tuple[int, ...]:
    values = t.array(fid, "i", name)
    low = -1 if optional else 0
    bad = [int(v) for v in values if not low <= v < count]
    if bad:
        r.fail(f"{t.where}.{name}", f"tensor index {bad[0]} is out of range (the subgraph has {count} tensors)")
    return tuple(int(v) for v in values)


def _opcode(t: Table) -> tuple[int, str]:
    """(builtin code, custom code). Codes over 127 live in builtin_code; older files have
    only the int8 deprecated_builtin_code: TFLite takes the larger of the two."""
    deprecated = t.scalar(0, "b", 0, "deprecated_builtin_code")
    code = max(deprecated, t.scalar(3, "i", 0, "builtin_code"))
    return code, t.string(1, "custom_code")


def _buffer(r: Reader, t: Table) -> memoryview | None:
    """A buffer's bytes: inside the flatbuffer, or (models over 2 GB) at `offset` from the
    start of the file, `size` bytes long; None when empty."""
    data = t.bytes(0, "data")
    offset, size = t.scalar(1, "Q", 0, "offset"), t.scalar(2, "Q", 0, "size")
    if data is not None and len(data):
        return data
    if offset > 1:  # 0 and 1 mean "no data outside the flatbuffer"
        r.check(offset, size, f"{t.where}.offset")
        return r.data[offset: offset + size]
    return None


def _tensor(r: Reader, t: Table, index: int, buffers: list) -> Tensor:
    where = t.where
    shape = t.array(0, "i", "shape")
    if len(shape) > MAX_RANK or (shape < 0).any():
        r.fail(f"{where}.shape", f"bad shape {shape.tolist()[:MAX_RANK + 1]}")
    shape = tuple(int(d) for d in shape)
    if math.prod(shape) > MAX_ELEMENTS:
        r.fail(f"{where}.shape", f"shape {list(shape)} has over {MAX_ELEMENTS:,} elements")
    kind = t.scalar(1, "b", 0, "type")
    buffer = t.scalar(2, "I", 0, "buffer")
    if buffer >= max(len(buffers), 1):
        r.fail(f"{where}.buffer", f"buffer index {buffer} is out of range (the model has {len(buffers)} buffers)")
    if t.has(6) or t.scalar(10, "I", 0, "external_buffer"):
        r.refuse(where, "sparse tensors and external buffers are not supported")
    if t.scalar(5, "?", False, "is_variable"):
        r.refuse(f"{where}.is_variable", "variable tensors are not supported")
    raw = buffers[buffer] if buffers else None
    data = None if raw is None else _values(r, f"{where} (buffer {buffer})", raw, kind, shape)
    q = t.table(4, "quantization")
    return Tensor(index, t.string(3, "name"), kind, shape, None if q is None else _quantization(r, q, shape), data)


def _values(r: Reader, where: str, raw: memoryview, kind: int, shape: tuple[int, ...]) -> np.ndarray:
    if kind not in DTYPES:
        r.refuse(where, f"constants of type {type_name(kind)} are not supported")
    dtype = np.dtype(DTYPES[kind]).newbyteorder("<")
    if len(raw) != math.prod(shape) * dtype.itemsize:
        r.fail(where, f"{len(raw)} bytes of data for shape {list(shape)} of {type_name(kind)} "
                      f"({math.prod(shape) * dtype.itemsize} bytes)")
    r.spend(len(raw), where)  # materialized once per tensor naming it: bounds buffers shared many times
    return np.frombuffer(raw, dtype).reshape(shape)


def _quantization(r: Reader, t: Table, shape: tuple[int, ...]) -> Quantization | None:
    """None when the table holds no scales (float tensors may carry min/max only)."""
    scale = t.array(2, "f", "scale")
    zero_point = t.array(3, "q", "zero_point")
    if not len(scale):
        return None
    if t.scalar(4, "B", 0, "details_type"):
        r.refuse(f"{t.where}.details", "custom or blockwise quantization is not supported")
    if not len(zero_point):
        zero_point = np.zeros(len(scale), np.int64)
    axis = t.scalar(6, "i", 0, "quantized_dimension")
    if len(zero_point) != len(scale):
        r.fail(t.where, f"{len(scale)} scales but {len(zero_point)} zero points")
    if len(scale) > 1 and not (0 <= axis < len(shape) and shape[axis] == len(scale)):
        r.fail(t.where, f"{len(scale)} scales do not match dimension {axis} of shape {list(shape)}")
    return Quantization(scale.astype(np.float32), zero_point.astype(np.int64), int(axis))


def _operator(r: Reader, t: Table, index: int, codes: list, tensors: int) -> Operator:
    opcode = t.scalar(0, "I", 0, "opcode_index")
    if opcode >= len(codes):
        r.fail(f"{t.where}.opcode_index", f"{opcode} is out of range (the model has {len(codes)} operator codes)")
    code, custom = codes[opcode]
    inputs = _indices(r, t, 1, "inputs", tensors, optional=True)
    outputs = _indices(r, t, 2, "outputs", tensors, optional=False)
    return Operator(index, code, custom, inputs, outputs, t.scalar(3, "B", 0, "builtin_options_type"),
                    t.table(4, "builtin_options"))


# ---------------------------------------------------------------------------- options

# Per builtin op: (the BuiltinOptions union type it must carry, {field: (id, format, default)}).
# A format ending in [] is a vector. Defaults are schema.fbs's.
PADDING, STRIDE_W, STRIDE_H = (0, "b", 0), (1, "i", 0), (2, "i", 0)
OPTIONS = {
    "CONV_2D": (1, dict(padding=PADDING, stride_w=STRIDE_W, stride_h=STRIDE_H, activation=(3, "b", 0),
                        dilation_w=(4, "i", 1), dilation_h=(5, "i", 1))),
    "DEPTHWISE_CONV_2D": (2, dict(padding=PADDING, stride_w=STRIDE_W, stride_h=STRIDE_H, depth_multiplier=(3, "i", 0),
                                  activation=(4, "b", 0), dilation_w=(5, "i", 1), dilation_h=(6, "i", 1))),
    "AVERAGE_POOL_2D": (5, dict(padding=PADDING, stride_w=STRIDE_W, stride_h=STRIDE_H, filter_w=(3, "i", 0),
                                filter_h=(4, "i", 0), activation=(5, "b", 0))),
    "FULLY_CONNECTED": (8, dict(activation=(0, "b", 0), weights_format=(1, "b", 0), keep_num_dims=(2, "?", False))),
    "SOFTMAX": (9, dict(beta=(0, "f", 0.0))),
    "ADD": (11, dict(activation=(0, "b", 0))),
    "MUL": (21, dict(activation=(0, "b", 0))),
    "MEAN": (27, dict(keep_dims=(0, "?", False))),
    "SUB": (28, dict(activation=(0, "b", 0))),
    "SQUEEZE": (30, dict(squeeze_dims=(0, "i[]", None))),
    "LEAKY_RELU": (75, dict(alpha=(0, "f", 0.0))),
    "RESIZE_BILINEAR": (15, dict(align_corners=(2, "?", False), half_pixel_centers=(3, "?", False))),
    "RESIZE_NEAREST_NEIGHBOR": (74, dict(align_corners=(0, "?", False), half_pixel_centers=(1, "?", False))),
}
OPTIONS["MAX_POOL_2D"] = OPTIONS["AVERAGE_POOL_2D"]


def options(op: Operator, source: str) -> dict:
    """The op's builtin options as a dict (schema defaults for absent fields or tables)."""
    union, fields = OPTIONS.get(builtin_name(op.code), (0, {}))
    t = op.options
    if t is not None and fields and op.options_type != union:
        raise McugenError(f"{source}: corrupt TFLite file: {op.label} carries options of union type "
                          f"{op.options_type}, not {union}")
    out = {}
    for key, (fid, fmt, default) in fields.items():
        if t is None:
            out[key] = default if not fmt.endswith("[]") else np.zeros(0, np.int32)
        elif fmt.endswith("[]"):
            out[key] = t.array(fid, fmt[:-2], key)
        else:
            out[key] = t.scalar(fid, fmt, default, key)
    return out
