"""The .tflite reader (mcugen/frontend/tflite/flatbuf.py, schema.py) on hand-built files:
what it reads, and the one-line refusals of files that lie about themselves."""

import flatbuffers
import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_models as tm  # noqa: E402

from mcugen.errors import McugenError  # noqa: E402
from mcugen.frontend import tflite  # noqa: E402
from mcugen.frontend.tflite import flatbuf, schema  # noqa: E402

tfl = tm.tfl


def small(mutate=None) -> bytes:
    """A conv with fused RELU6; `mutate(builder)` edits the object model before packing."""
    b = tm.Builder(1)
    x = tm.image_input(b, (1, 5, 5, 2))
    y = b.conv(x, 3, kernel=3, stride=2, activation=tm.RELU6)
    b.inputs, b.outputs = [x], [y]
    if mutate:
        mutate(b)
    return b.build(b.inputs, b.outputs)


def refused(data: bytes, *words) -> str:
    with pytest.raises(McugenError) as info:
        tflite.convert(data, "m.tflite")
    line = str(info.value)
    assert "\n" not in line and line.startswith("m.tflite: ")
    for word in words:
        assert word in line, line
    return line


def test_reads_tensors_operators_and_quantization():
    m = schema.read(small(), "m.tflite")
    assert (m.inputs, m.outputs) == ((0,), (3,))
    assert m.description == "mcugen test"
    x, w, bias, y = m.tensors
    assert (x.name, x.type, x.shape, x.data) == ("serving_default_input:0", schema.INT8, (1, 5, 5, 2), None)
    assert float(x.quant.scale[0]) == pytest.approx(0.02) and int(x.quant.zero_point[0]) == -3
    assert w.data.shape == (3, 3, 3, 2) and w.data.dtype == np.int8
    assert w.quant.scale.shape == (3,) and w.quant.axis == 0
    assert bias.data.dtype == np.int32 and y.shape == (1, 3, 3, 3)
    (op,) = m.operators
    assert (op.label, op.inputs, op.outputs) == ("operator 0 (CONV_2D)", (0, 1, 2), (3,))
    opts = schema.options(op, "m.tflite")
    assert opts == dict(padding=0, stride_w=2, stride_h=2, activation=3, dilation_w=1, dilation_h=1)


def test_builtin_code_over_127_is_read_from_builtin_code():
    """HARD_SWISH (117) fits the deprecated int8 code; codes above 127 only in builtin_code."""
    def code(b):
        b.opcodes[0].deprecatedBuiltinCode = 127  # PLACEHOLDER_FOR_GREATER_OP_CODES
        b.opcodes[0].builtinCode = 150  # GELU
    refused(small(code), "operator 0 (GELU) is not supported")


def test_detects_tflite_by_identifier_or_suffix(tmp_path):
    data = small()
    (tmp_path / "a.tflite").write_bytes(data)
    (tmp_path / "a.bin").write_bytes(data)
    (tmp_path / "a.onnx").write_bytes(data)
    assert tflite.is_tflite(tmp_path / "a.tflite") and tflite.is_tflite(tmp_path / "a.bin")
    assert not tflite.is_tflite(tmp_path / "a.onnx")


def test_buffer_outside_the_flatbuffer():
    """Models over 2 GB keep buffers after the flatbuffer, at offset/size from the file's start."""
    data = small()
    m = tfl.ModelT.InitFromPackedBuf(data, 0)
    outside = bytes(m.buffers[1].data)
    m.buffers[1].data, m.buffers[1].offset, m.buffers[1].size = None, 1 << 40, len(outside)
    for _ in range(2):  # the second time with the packed length as the offset: the same size
        builder = flatbuffers.Builder(1024)
        builder.Finish(m.Pack(builder), b"TFL3")
        packed = bytes(builder.Output())
        m.buffers[1].offset = len(packed)
    weights = schema.read(packed + outside, "m.tflite").tensors[1]
    assert np.array_equal(weights.data, schema.read(data, "m.tflite").tensors[1].data)
    refused(packed + outside[:-1], "buffers[1].offset", "outside the file")


@pytest.mark.parametrize("mutate, words", [
    (lambda b: setattr(b.tensors[1], "buffer", 99), ["tensors[1].buffer", "buffer index 99 is out of range"]),
    (lambda b: b.ops[0].inputs.__setitem__(0, 40), ["operators[0].inputs", "tensor index 40 is out of range"]),
    (lambda b: setattr(b.ops[0], "opcodeIndex", 5), ["operators[0].opcode_index", "5 is out of range"]),
    (lambda b: setattr(b, "outputs", [-1]), ["subgraphs[0].outputs", "tensor index -1"]),
    (lambda b: setattr(b.tensors[1], "shape", [3, 3, 3, 3]),
     ["tensors[1] (buffer 1)", "54 bytes of data for shape [3, 3, 3, 3]"]),
    (lambda b: setattr(b.tensors[1], "shape", [-1, 3, 3, 2]), ["tensors[1].shape", "bad shape"]),
    (lambda b: setattr(b.tensors[1], "shape", [1] * 9), ["tensors[1].shape", "bad shape"]),
    (lambda b: setattr(b.tensors[3], "shape", [65536, 65536, 1, 1]), ["over 2,147,483,648 elements"]),
    (lambda b: setattr(b.tensors[1], "type", tfl.TensorType.INT4), ["constants of type INT4 are not supported"]),
    (lambda b: setattr(b.tensors[1].quantization, "zeroPoint", [0, 0]), ["3 scales but 2 zero points"]),
    (lambda b: setattr(b.tensors[1].quantization, "quantizedDimension", 3), ["3 scales do not match dimension 3"]),
    (lambda b: setattr(b.tensors[0], "isVariable", True), ["variable tensors are not supported"]),
    (lambda b: setattr(b.ops[0], "builtinOptionsType", tfl.BuiltinOptions.Pool2DOptions),
     ["operator 0 (CONV_2D) carries options of union type 5, not 1"]),
], ids=["buffer", "tensor", "opcode", "output", "size", "negative-dim", "rank", "huge", "int4", "zero-points",
        "axis", "variable", "options-type"])
def test_inconsistent_files_are_refused_with_where(mutate, words):
    line = refused(small(mutate), *words)
    assert ("corrupt TFLite file" in line) == ("supported" not in line), line


def test_version_and_identifier():
    data = bytearray(small())
    refused(bytes(data[:4]) + b"ONNX" + bytes(data[8:]), "header", "TFL3")
    m = tfl.ModelT.InitFromPackedBuf(bytes(data), 0)
    m.version = 2
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), b"TFL3")
    refused(bytes(builder.Output()), "schema version 2")


def test_names_that_are_not_utf8_are_refused():
    def bad_name(b):
        b.tensors[0].name = b"\xff\xfe"
    refused(small(bad_name), "tensors[0].name", "not valid UTF-8")


def test_reader_checks_every_offset():
    r = flatbuf.Reader(b"\x08\x00\x00\x00TFL3", "m.tflite")
    with pytest.raises(McugenError, match="outside the file"):
        r.root("model")  # the root table's soffset lies past the end
    r = flatbuf.Reader(b"\x04\x00\x00\x00" + b"\x00\x80\x00\x00", "m.tflite")
    with pytest.raises(McugenError, match="model"):
        r.root("model")  # its vtable lies before the start


def test_shared_tables_cannot_amplify_work():
    """One tensor with a 20,000-byte name, listed 20,000 times: a small file that a naive
    reader would spend 400 MB of work on. The budget stops it."""
    builder = flatbuffers.Builder(1 << 16)
    name = builder.CreateString("n" * 20000)
    tfl.TensorStart(builder)
    tfl.TensorAddName(builder, name)
    tensor = builder.EndObject()
    tfl.SubGraphStartTensorsVector(builder, 20000)
    for _ in range(20000):
        builder.PrependUOffsetTRelative(tensor)
    tensors = builder.EndVector()
    tfl.SubGraphStart(builder)
    tfl.SubGraphAddTensors(builder, tensors)
    subgraph = builder.EndObject()
    tfl.ModelStartSubgraphsVector(builder, 1)
    builder.PrependUOffsetTRelative(subgraph)
    subgraphs = builder.EndVector()
    tfl.ModelStart(builder)
    tfl.ModelAddVersion(builder, 3)
    tfl.ModelAddSubgraphs(builder, subgraphs)
    builder.Finish(builder.EndObject(), b"TFL3")
    data = bytes(builder.Output())
    assert len(data) < 120_000
    refused(data, "refers to the same data too many times")
