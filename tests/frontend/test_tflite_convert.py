"""The .tflite -> ONNX conversion (mcugen/frontend/tflite/convert.py): the QDQ form
tf2onnx writes, equivalence with TFLite Micro running the file, the refusals, and the
float-I/O files mcugen compiles end to end."""

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

pytest.importorskip("tflite_micro")
pytest.importorskip("onnxruntime")

from helpers import COMPILERS  # noqa: E402
from helpers import tflite_models as tm  # noqa: E402

from mcugen import pipeline  # noqa: E402
from mcugen.errors import McugenError  # noqa: E402
from mcugen.frontend import tflite  # noqa: E402
from mcugen.verify import verify  # noqa: E402

B, tfl = tm.B, tm.tfl


def convert(data: bytes) -> onnx.ModelProto:
    m = tflite.convert(data, "m.tflite")
    onnx.checker.check_model(m, full_check=True)
    return m


def refused(data: bytes, *words) -> str:
    with pytest.raises(McugenError) as info:
        tflite.convert(data, "m.tflite")
    line = str(info.value)
    assert "\n" not in line
    for word in words:
        assert word in line, line
    return line


def inits(m):
    return {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}


def test_conv_is_tf2onnx_qdq():
    """int8 input NHWC -> Transpose -> DequantizeLinear; weights and bias behind DequantizeLinear;
    the fused RELU6 as a Clip before the output's QuantizeLinear, whose int8 is the output."""
    data = tm.conv_relu6()
    m = convert(data)
    assert [n.op_type for n in m.graph.node] == ["Transpose", "DequantizeLinear", "DequantizeLinear",
                                                 "DequantizeLinear", "Conv", "Clip", "QuantizeLinear"]
    (inp,), (out,) = m.graph.input, m.graph.output
    dims = lambda vi: [d.dim_value for d in vi.type.tensor_type.shape.dim]  # noqa: E731
    assert (inp.type.tensor_type.elem_type, dims(inp)) == (onnx.TensorProto.INT8, [1, 9, 9, 3])
    assert (out.type.tensor_type.elem_type, dims(out)) == (onnx.TensorProto.INT8, [1, 8, 5, 5])
    assert out.name == m.graph.node[-1].output[0] == "t3"
    transpose, dq_in, dq_w, dq_b, conv, clip, _ = m.graph.node
    assert transpose.input[0] == inp.name and dq_in.input[0] == transpose.output[0]
    assert onnx.helper.get_attribute_value(transpose.attribute[0]) == [0, 3, 1, 2]
    assert conv.name == "t3" and list(conv.input) == [dq_in.output[0], dq_w.output[0], dq_b.output[0]]
    values = inits(m)
    x, w, bias, _ = tflite.schema.read(data, "m.tflite").tensors
    assert np.array_equal(values[dq_w.input[0]], w.data.transpose(0, 3, 1, 2))  # OHWI -> OIHW
    assert {a.name: a.i for a in dq_w.attribute} == {"axis": 0}
    assert np.array_equal(values[dq_w.input[1]], w.quant.scale) and not values[dq_w.input[2]].any()
    assert values[dq_b.input[0]].dtype == np.int32
    assert np.array_equal(values[dq_b.input[1]], (x.quant.scale[0] * w.quant.scale.astype(np.float64)).astype(np.float32))
    assert [float(values[name]) for name in clip.input[1:]] == [0.0, 6.0]


def test_same_padding_is_tflite_s_and_average_pool_counts_valid_taps():
    """SAME on an even size with stride 2: TFLite pads the one extra row after, not before."""
    b = tm.Builder(0)
    x = tm.image_input(b, (1, 8, 8, 2))
    y = b.conv(x, 2, kernel=3, stride=2)
    z = b.pool(y, B.AVERAGE_POOL_2D, 2, 1, tm.SAME)
    m = convert(b.build([x], [z]))
    attrs = {n.op_type: {a.name: onnx.helper.get_attribute_value(a) for a in n.attribute} for n in m.graph.node}
    assert attrs["Conv"]["pads"] == [0, 0, 1, 1] and attrs["Conv"]["strides"] == [2, 2]
    assert attrs["AveragePool"]["pads"] == [0, 0, 1, 1] and attrs["AveragePool"]["count_include_pad"] == 0


def test_depthwise_weights_are_c_1_kh_kw():
    data = tm.depthwise()
    m = convert(data)
    conv = next(n for n in m.graph.node if n.op_type == "Conv")
    assert {a.name: a.i for a in conv.attribute if a.name == "group"} == {"group": 6}
    dq_w = next(n for n in m.graph.node if n.output[0] == conv.input[1])
    w = tflite.schema.read(data, "m.tflite").tensors[1]
    assert np.array_equal(inits(m)[dq_w.input[0]], w.data.transpose(3, 0, 1, 2))
    assert {a.name: a.i for a in dq_w.attribute} == {"axis": 0}


def test_fully_connected_flattens_in_nhwc_order():
    m = convert(tm.fc_softmax())
    ops = [n.op_type for n in m.graph.node if n.op_type not in ("QuantizeLinear", "DequantizeLinear")]
    assert ops == ["Transpose", "Transpose", "Reshape", "Gemm", "Softmax"]  # the input's, then NCHW -> NHWC
    assert [onnx.helper.get_attribute_value(n.attribute[0]) for n in m.graph.node if n.op_type == "Transpose"] == \
        [[0, 3, 1, 2], [0, 2, 3, 1]]


def test_uint8_activations_give_the_same_real_values():
    """The same network with uint8 activations (zero points + 128): onnxruntime's outputs are
    the int8 model's + 128, exactly."""
    def build(kind):
        b = tm.Builder(7)
        shift = 128 if kind == tm.UINT8 else 0
        x = b.tensor((1, 6, 6, 3), kind, 0.02, -3 + shift)
        y = b.conv(x, 4, kernel=3, activation=tm.RELU)
        b.tensors[y].type = kind
        b.tensors[y].quantization.zeroPoint = [b.tensors[y].quantization.zeroPoint[0] + shift]
        return b.build([x], [y])
    x = np.random.default_rng(0).integers(-128, 128, size=(4, 6, 6, 3)).astype(np.int8)
    y8 = tm.run_onnxruntime(convert(build(tm.INT8)), x)
    yu = tm.run_onnxruntime(convert(build(tm.UINT8)), (x.astype(np.int16) + 128).astype(np.uint8))
    assert yu.dtype == np.uint8 and np.array_equal(yu.astype(np.int16) - 128, y8)


# Softmax turns a 1-LSB difference in its input into a few LSB of its output; a SUB of two
# tensors that are each within 1 LSB can be 2 apart.
MAX_LSB = {"classifier": 8, "activations": 2}


@pytest.mark.parametrize("name", sorted(tm.MODELS))
def test_agrees_with_tflite_micro(name, capsys):
    """TFLM's int8 kernels against onnxruntime running the conversion as DequantizeLinear,
    float op, QuantizeLinear: within 1 LSB (rounding: TFLite's fixed-point multipliers vs a
    float scale). The figure is printed; the bound is asserted."""
    data = tm.MODELS[name]()
    m = convert(data)
    shape = [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim]
    x = np.random.default_rng(0).integers(-128, 128, size=(20, *shape[1:])).astype(np.int8)
    want = tm.run_tflm(data, x).astype(np.int32)
    got = tm.run_onnxruntime(m, x).astype(np.int32)
    if got.ndim == 4:
        got = got.transpose(0, 2, 3, 1)  # a 4-D output stays NCHW in the ONNX model
    diff = np.abs(got.reshape(want.shape) - want)
    with capsys.disabled():
        print(f"\n{name}: {diff.size} outputs, {np.mean(diff == 0):.1%} equal, {np.mean(diff <= 1):.1%} within 1 LSB, "
              f"at most {diff.max()} LSB apart")
    assert diff.max() <= MAX_LSB.get(name, 1)


@pytest.mark.parametrize("name", ["classifier", "residual_add"])
def test_float_io_model_compiles_bit_exact(name, tmp_path):
    """A model with float input and output (QUANTIZE first, DEQUANTIZE last) goes through
    mcugen's existing frontend today: compile and verify, bit-exact."""
    if not COMPILERS:
        pytest.skip("no C compiler")
    path = tmp_path / f"{name}.tflite"
    path.write_bytes(tm.MODELS[name](float_io=True))
    compiled = pipeline.build(path)
    result = verify(str(path), compiled, "t", samples=6, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer
    assert result.cosine > 0.99


DATA = Path(__file__).resolve().parent / "data"  # files the TFLite converter wrote: data/make_keras_tflite.py


def test_a_keras_file_agrees_with_tflite():
    """A Keras network as TensorFlow's converter writes it, full int8: the conversion in
    onnxruntime against TFLite's own outputs (stored with the file). Its Keras Reshapes
    compute their shape with SHAPE, STRIDED_SLICE and PACK, which the output does not
    need: they are dropped, not refused."""
    data = (DATA / "keras_tiny_int8.tflite").read_bytes()
    assert "PACK" in {op.label.split("(")[1][:-1] for op in tflite.schema.read(data, "k").operators}
    m = convert(data)
    expected = np.load(DATA / "keras_tiny_expected.npz")
    got = tm.run_onnxruntime(m, expected["x"]).astype(np.int32)
    diff = np.abs(got.reshape(expected["y"].shape) - expected["y"])
    print(f"\nkeras_tiny: {np.mean(diff == 0):.1%} of {diff.size} outputs equal to TFLite's, at most {diff.max()} LSB apart")
    assert diff.max() <= 2


def test_a_keras_file_with_float_io_compiles_bit_exact(tmp_path):
    if not COMPILERS:
        pytest.skip("no C compiler")
    path = DATA / "keras_tiny_float.tflite"
    compiled = pipeline.build(path)
    assert [n.op for n in compiled.graph.nodes][-2:] == ["fully_connected", "softmax"]
    result = verify(str(path), compiled, "t", samples=6, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer


def test_every_unsupported_op_is_named_in_the_one_line():
    b = tm.Builder(0)
    x = tm.image_input(b, (1, 4, 4, 2))
    y = b.conv(x, 2, kernel=1)
    t1, t2, t3 = (b.tensor((1, 4, 4, 2), tm.INT8, 0.1, 0) for _ in range(3))
    b.op(B.EXP, [y], [t1])
    b.op(B.CUSTOM, [t1], [t2])
    b.opcodes[-1].customCode = "MyOp"
    b.op(B.SPACE_TO_DEPTH, [t2], [t3])
    line = refused(b.build([x], [t3]), "m.tflite: operator 1 (EXP) is not supported; nor are 2 other operators: "
                   "2 (CUSTOM 'MyOp'), 3 (SPACE_TO_DEPTH); supported TFLite ops: ADD, AVERAGE_POOL_2D")
    assert "CONV_2D" in line


def _conv_with(**change):
    """A conv on 4 channels whose input then claims 2: a depthwise one has multiplier 2, a
    plain one groups; or a conv with another fused activation."""
    b = tm.Builder(0)
    x = tm.image_input(b, (1, 4, 4, 4))
    y = b.conv(x, 4, kernel=3, depthwise=change.get("depthwise", False))
    if "activation" in change:
        b.ops[0].builtinOptions.fusedActivationFunction = change["activation"]
    else:
        b.tensors[x].shape = [1, 4, 4, 2]
    return b.build([x], [y])


@pytest.mark.parametrize("data, words", [
    (lambda: _conv_with(depthwise=True), ["operator 0 (DEPTHWISE_CONV_2D)", "depth multiplier 1"]),
    (lambda: _conv_with(activation=tfl.ActivationFunctionType.TANH), ["fused activation TANH is not supported"]),
    (lambda: _conv_with(), ["grouped convolutions are not supported"]),
], ids=["multiplier", "fused-tanh", "grouped"])
def test_conv_forms_mcugen_cannot_take_are_refused(data, words):
    refused(data(), *words)


def test_softmax_beta_other_than_1_is_refused():
    b = tm.Builder(0)
    x = b.tensor((1, 10), tm.INT8, 0.1, 0)
    y = b.softmax(x)
    b.ops[0].builtinOptions.beta = 0.5
    refused(b.build([x], [y]), "operator 0 (SOFTMAX): beta 0.5 is not supported")


def test_int16_activations_and_two_inputs_are_refused():
    b = tm.Builder(0)
    x = b.tensor((1, 4, 4, 2), tfl.TensorType.INT16, 0.1, 0)
    y = b.tensor((1, 4, 4, 2), tfl.TensorType.INT16, 0.1, 0)
    b.op(B.RELU, [x], [y])
    refused(b.build([x], [y]), "(index 0)", "INT16 activations are not supported")
    b = tm.Builder(0)
    x, x2 = tm.image_input(b, (1, 4, 4, 2)), tm.image_input(b, (1, 4, 4, 2))
    refused(b.build([x, x2], [b.add(x, x2, 0.1)]), "2 inputs and 1 outputs; mcugen takes one of each")


def test_shapes_the_file_contradicts_are_refused():
    b = tm.Builder(0)
    x = tm.image_input(b, (1, 8, 8, 2))
    y = b.conv(x, 3, kernel=3, stride=2)
    b.tensors[y].shape = [1, 5, 4, 3]
    refused(b.build([x], [y]), "tensor 't3' (index 3): the file declares shape [1, 5, 4, 3], "
                               "but operator 0 (CONV_2D) gives [1, 4, 4, 3]")


def test_cli_reads_tflite(tmp_path):
    """compile, report and verify take the same path as for ONNX; messages name the file."""
    import subprocess
    import sys

    path = tmp_path / "net.tflite"
    path.write_bytes(tm.classifier(float_io=True))
    proc = subprocess.run([sys.executable, "-m", "mcugen", "report", str(path)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "net.tflite" in proc.stdout and "fully_connected" in proc.stdout


def tanh_after_conv() -> bytes:
    """A conv, then TANH (TFLite's int8 output scale 1/128, zero point 0)."""
    b = tm.Builder(11)
    x = tm.image_input(b, (1, 5, 5, 3))
    y = b.conv(x, 4, kernel=3, out_scale=0.04)
    return b.build([x], [b.simple(B.TANH, [y], (1, 5, 5, 4), 1 / 128, 0)])


def rescaling_conv() -> bytes:
    """Keras' Rescaling layer as TFLite writes it, then more arithmetic by constants: MUL by a
    quantized scalar, ADD of one, SUB of one (each rounding to its own output), then a conv.
    TFLite computes each from the constant's integer and scale, not its real value."""
    b = tm.Builder(13)
    x = tm.image_input(b, (1, 6, 6, 3), 0.9, -128)  # pixels 0..255
    y = x
    for code, opts, (value, scale, zp), (out_scale, out_zp) in [
            (B.MUL, tfl.MulOptionsT(), (127, 0.0078740157, 0), (0.0078125, 0)),
            (B.ADD, tfl.AddOptionsT(), (-127, 0.0078740157, 0), (0.0078431, 1)),
            (B.SUB, tfl.SubOptionsT(), (93, 0.0021, -5), (0.0069, -3))]:
        c = b.tensor((1,), tm.INT8, scale, zp, data=[value])
        kind = getattr(tfl.BuiltinOptions, type(opts).__name__[:-1])
        y = b.simple(code, [y, c], (1, 6, 6, 3), out_scale, out_zp, kind, opts)
    return b.build([x], [b.conv(y, 4, kernel=3, out_scale=0.05)])


def conv_prelu_depthwise() -> bytes:
    """A conv, then PRELU with one alpha per channel ([1,1,C], an alpha zero point of 3, as
    Keras' PReLU(shared_axes=[1, 2])), then a depthwise conv."""
    b = tm.Builder(12)
    x = tm.image_input(b, (1, 6, 6, 3))
    y = b.conv(x, 5, kernel=3, out_scale=0.05)
    alpha = b.tensor((1, 1, 5), tm.INT8, 0.004, 3, b.rng.integers(-128, 128, (1, 1, 5)))
    p = b.simple(B.PRELU, [y, alpha], (1, 6, 6, 5), 0.03, -20)
    return b.build([x], [b.conv(p, 5, kernel=3, depthwise=True, out_scale=0.04)])


# layout_ops (a MEAN over the channels) and activations (a SUB of two tensors) use forms mcugen
# refuses (docs/tflite.md); the rest, and a TANH, compile.
INT8_MODELS = {**{k: v for k, v in tm.MODELS.items() if k not in ("layout_ops", "activations")}, "tanh": tanh_after_conv,
               "prelu": conv_prelu_depthwise, "rescaling": rescaling_conv}


@pytest.mark.parametrize("name", INT8_MODELS)
def test_full_int8_model_gives_tflm_bytes(name, tmp_path):
    """Every small int8 model read as .tflite, compiled to C: bit-exact with the reference,
    and byte-identical to TFLite Micro on 100 random inputs (verify's tflm_identical)."""
    if not COMPILERS:
        pytest.skip("no C compiler")
    path = tmp_path / "m.tflite"
    path.write_bytes(INT8_MODELS[name]())
    compiled = pipeline.build(path)
    assert compiled.graph.input_type == "int8"
    result = verify(str(path), compiled, "t", samples=100, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer
    assert (result.tflm_samples, result.tflm_identical) == (100, 1.0), result.notes


def resize_model(code, size, align_corners, half_pixel_centers) -> bytes:
    """A conv, then RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR with TFLite's flags."""
    b = tm.Builder(12)
    x = tm.image_input(b, (1, 7, 6, 3))
    y = b.conv(x, 4, kernel=3, out_scale=0.04)
    bilinear = code == B.RESIZE_BILINEAR
    opts = tfl.ResizeBilinearOptionsT() if bilinear else tfl.ResizeNearestNeighborOptionsT()
    opts.alignCorners, opts.halfPixelCenters = align_corners, half_pixel_centers
    kind = tfl.BuiltinOptions.ResizeBilinearOptions if bilinear else tfl.BuiltinOptions.ResizeNearestNeighborOptions
    sizes = b.tensor((2,), tm.INT32, data=np.array(size, np.int32))
    q = b.tensors[y].quantization  # TFLite's RESIZE keeps its input's scale and zero point
    z = b.simple(code, [y, sizes], (1, *size, 4), float(q.scale[0]), int(q.zeroPoint[0]), kind, opts)
    return b.build([x], [z])


@pytest.mark.parametrize("flags", [(False, True), (True, False), (False, False)],
                         ids=["half_pixel_centers", "align_corners", "neither"])
@pytest.mark.parametrize("code,size", [(B.RESIZE_BILINEAR, (11, 9)), (B.RESIZE_BILINEAR, (4, 3)),
                                       (B.RESIZE_NEAREST_NEIGHBOR, (13, 5))], ids=["bilinear_up", "bilinear_down",
                                                                                   "nearest"])
def test_tflite_resize_gives_tflm_bytes(code, size, flags, tmp_path):
    """A .tflite's RESIZE_*: TFLite's own coordinate tables (the importer knows the model is a
    .tflite's conversion), so the C gives TFLM's bytes."""
    if not COMPILERS:
        pytest.skip("no C compiler")
    path = tmp_path / "m.tflite"
    path.write_bytes(resize_model(code, size, *flags))
    compiled = pipeline.build(path)
    assert next(n for n in compiled.graph.nodes if n.op == "resize").attrs["coordinate"].startswith("tflite_")
    result = verify(str(path), compiled, "t", samples=100, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer
    assert (result.tflm_samples, result.tflm_identical) == (100, 1.0), result.notes


@pytest.mark.parametrize("doc, tflite_tables", [("converted from m.tflite", True), ("converted from keras_model", False)])
def test_tf2onnx_exports_of_a_tflite_take_tflites_resize(doc, tflite_tables, tmp_path):
    """tf2onnx's --tflite export says where it came from in the graph's doc string: such a
    model's Resize takes TFLite's coordinate tables too (checked against TFLM on real tf2onnx
    exports: docs/tflite.md); a model tf2onnx made from TensorFlow keeps ONNX's coordinates."""
    m = tflite.convert(resize_model(B.RESIZE_BILINEAR, (4, 3), False, True), "m.tflite")
    m.producer_name, m.graph.doc_string = "tf2onnx", doc
    path = tmp_path / "m.onnx"
    onnx.save(m, str(path))
    compiled = pipeline.build(path)
    coordinate = next(n for n in compiled.graph.nodes if n.op == "resize").attrs["coordinate"]
    assert coordinate.startswith("tflite_") == tflite_tables, coordinate
    if tflite_tables and COMPILERS:  # the ONNX file's C gives the .tflite's TFLM bytes
        from mcugen.verify import int8 as verify_int8
        from mcugen.verify import tflm

        tflite_path = tmp_path / "m.tflite"
        tflite_path.write_bytes(resize_model(B.RESIZE_BILINEAR, (4, 3), False, True))
        x, _ = verify_int8.make_inputs(compiled, 50)
        got = verify_int8.run_model(verify_int8.HostRunner(COMPILERS[0]), compiled, "t", x).reshape(len(x), -1)
        assert tflm.compare(tflite_path, x, got)["tflm_identical"] == 1.0
