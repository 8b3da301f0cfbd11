"""Full-int8 models (docs/qdq.md#full-int8-models): int8/uint8 graph inputs and outputs,
layout ops between QuantizeLinear and DequantizeLinear, inputs reshaped to an image."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from helpers import COMPILERS, model, save
from helpers.int8_models import keras_like
from onnx import TensorProto, helper, numpy_helper

from mcugen import frontend, layout, pipeline, reference
from mcugen.backend import codegen
from mcugen.errors import McugenError
from mcugen.frontend import qdq
from mcugen.quant import quantize
from mcugen.verify import verify

CASES = {
    "int8": dict(),
    "uint8": dict(dtype="uint8"),
    "one_channel": dict(channels=1),  # tf2onnx's NHWC -> NCHW as a Reshape
    "flat_one_channel": dict(flat_input=True, channels=1),  # KWS: [1, 490] -> [1, 1, 49, 10]
    "flat_three_channels": dict(flat_input=True),  # Reshape to NHWC, then Transpose to NCHW
}


@pytest.mark.parametrize("case", CASES)
def test_full_int8_model_compiles_and_is_bit_exact(case, tmp_path):
    path = save(keras_like(**CASES[case]), tmp_path)
    compiled = pipeline.build(path)
    g = compiled.graph
    want = CASES[case].get("dtype", "int8")
    assert (g.input_type, g.output_type) == (want, want)
    assert g.input_layout == "NHWC"  # the C input is the file's input bytes in order
    assert all(n.op != "reshape" for n in g.nodes)  # the input's layout change and the int8 Reshape are free
    result = verify(str(path), compiled, "t", samples=40, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer
    assert result.cosine > 0.99  # the int8 outputs against the float model fed the same (dequantized) inputs


@pytest.mark.parametrize("case", CASES)
def test_the_rewritten_model_computes_what_the_file_does(case, tmp_path):
    """mcugen's float graph against onnxruntime running the file's own model on the integer
    samples: only the rounding of the inner QuantizeLinear/DequantizeLinear pairs differs,
    so compare against the same model with those pairs as clips (qdq.strip), fed the same
    integers dequantized, and the first QuantizeLinear of the rewritten input recovers them."""
    path = save(keras_like(**CASES[case]), tmp_path)
    graph, _ = pipeline.front(path)
    dtype = np.uint8 if graph.input_type == "uint8" else np.int8
    rng = np.random.default_rng(1)
    shape = layout.file_input_shape(graph)
    x_int = rng.integers(np.iinfo(dtype).min, np.iinfo(dtype).max + 1, size=(5, *shape[1:])).astype(dtype)
    q = graph.tensors[graph.input].fixed
    x = (q.scale * (x_int.astype(np.float64) - (128 if dtype == np.uint8 else 0) - q.zero_point)).astype(np.float32)
    stripped = qdq.strip(frontend.load_float_io(path))
    session = ort.InferenceSession(stripped.SerializeToString(), providers=["CPUExecutionProvider"])
    want = np.concatenate([session.run(None, {"input": x[i:i + 1]})[0] for i in range(len(x))])
    got = reference.run_float(graph, layout.input_to_ir(x, graph))
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-4, atol=1e-5)


def test_uint8_io_in_the_c_api(tmp_path):
    compiled = pipeline.build(save(keras_like(dtype="uint8"), tmp_path))
    header = codegen.generate(compiled.graph, compiled.plan, "m", "x")["m.h"]
    assert "typedef uint8_t m_input_t;" in header and "typedef uint8_t m_output_t;" in header
    assert "m_input_t *m_input(void);" in header and "const m_output_t *m_output(void);" in header
    # An int8 or float model's header keeps its old declarations, word for word.
    # The zero points are the file's uint8 ones: the softmax's 1/256 output is 0 in uint8.
    assert "#define M_OUTPUT_ZERO_POINT (0)" in header
    assert f"#define M_INPUT_ZERO_POINT ({compiled.graph.tensors[compiled.graph.input].q.zero_point + 128})" in header


def test_float_models_keep_their_c_api(tmp_path):
    m = model([helper.make_node("Sigmoid", ["input"], ["output"], name="s")], [1, 2, 4, 4], [1, 2, 4, 4])
    compiled = pipeline.build(save(m, tmp_path))
    header = codegen.generate(compiled.graph, compiled.plan, "m", "x")["m.h"]
    assert "typedef int8_t m_input_t;" in header and "int8_t *m_input(void);" in header
    assert "flip" not in codegen.generate(
        compiled.graph, compiled.plan, "m", "x")["m.c"]


@pytest.mark.parametrize("dtype", ["int8", "uint8"])
def test_integer_calibration_samples_are_the_models_own_bytes(dtype, tmp_path):
    path = save(keras_like(dtype=dtype), tmp_path)
    graph, _ = pipeline.front(path)
    info = np.iinfo(dtype)
    x = np.random.default_rng(2).integers(info.min, info.max + 1, size=(7, 8, 8, 3)).astype(dtype)
    np.savez(tmp_path / "calib.npz", input=x)
    cal = quantize.read_calibration(tmp_path / "calib.npz", graph)
    q = quantize.quantize(graph, {}).tensors[graph.input].q
    back = quantize.quantize_input(layout.input_to_ir(cal.samples, graph), q)
    np.testing.assert_array_equal(back.view(np.uint8) ^ 0x80 if dtype == "uint8" else back, x)
    bad = np.full((2, 8, 8, 3), 300, np.int32)
    np.savez(tmp_path / "bad.npz", input=bad)
    with pytest.raises(McugenError, match=f"outside {dtype}"):
        quantize.read_calibration(tmp_path / "bad.npz", graph)


def test_uint8_image_bytes_cast_to_float(tmp_path):
    """A float model whose input is uint8 pixels and a Cast: the C takes the bytes, scale 1."""
    nodes = [helper.make_node("Cast", ["input"], ["xf"], to=TensorProto.FLOAT, name="cast"),
             helper.make_node("Mul", ["xf", "k"], ["xs"], name="scale"),
             helper.make_node("Relu", ["xs"], ["output"], name="r")]
    m = model(nodes, [1, 2, 4, 4], [1, 2, 4, 4], [numpy_helper.from_array(np.float32(1 / 255), "k")])
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.UINT8
    compiled = pipeline.build(save(m, tmp_path))
    g = compiled.graph
    assert g.input_type == "uint8" and g.output_type == "float32"
    assert g.tensors[g.input].q.scale == 1.0 and g.tensors[g.input].q.zero_point == -128
    result = verify(str(tmp_path / "model.onnx"), compiled, "t", samples=8, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact


def test_int8_input_into_anything_but_dequantize_is_refused(tmp_path):
    m = model([helper.make_node("Relu", ["input"], ["output"], name="r")], [1, 2, 4, 4], [1, 2, 4, 4])
    m.graph.input[0].type.tensor_type.elem_type = TensorProto.INT8
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.INT8
    with pytest.raises(McugenError, match="input 'input' is INT8; mcugen takes an integer input only into "
                                          "DequantizeLinear"):
        pipeline.front(save(m, tmp_path))


def test_int8_output_not_from_a_quantize_linear_is_refused(tmp_path):
    m = keras_like()
    nodes = list(m.graph.node)
    nodes[-1].output[0] = "q_out"
    nodes.append(helper.make_node("Relu", ["q_out"], ["output"], name="int_relu"))
    m.graph.ClearField("node")
    m.graph.node.extend(nodes)
    with pytest.raises(McugenError, match="output 'output' is INT8; mcugen gives an integer output only from a "
                                          "QuantizeLinear"):
        pipeline.front(save(m, tmp_path, "relu.onnx"))


def test_a_flat_input_reshaped_to_an_image_is_free(tmp_path):
    """A float keyword-spotting input: [1, 490] -> Reshape [1, 1, 49, 10] -> Conv."""
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.normal(0, 0.3, (4, 1, 3, 3)).astype(np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 1, 49, 10], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["img"], name="reshape"),
             helper.make_node("Conv", ["img", "w"], ["output"], kernel_shape=[3, 3], name="conv")]
    path = save(model(nodes, [1, 490], [1, 4, 47, 8], [w, shape]), tmp_path)
    graph, notes = pipeline.front(path)
    assert [n.op for n in graph.nodes] == ["conv"] and graph.shape(graph.input) == (1, 49, 10, 1)
    assert quantize.onnx_input_shape(graph) == (490,)  # --calib and onnxruntime still take the file's shape
    x = rng.normal(0, 1, (3, 490)).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = np.concatenate([session.run(None, {"input": x[i:i + 1]})[0] for i in range(3)])
    got = layout.to_onnx(reference.run_float(graph, layout.input_to_ir(x, graph)))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_a_reshape_that_moves_bytes_is_not_absorbed(tmp_path):
    """[1, 490] -> [1, 10, 7, 7]: ten channels, so NHWC memory is not the file's order."""
    w = numpy_helper.from_array(np.ones((2, 10, 1, 1), np.float32), "w")
    shape = numpy_helper.from_array(np.array([1, 10, 7, 7], np.int64), "shape")
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["img"], name="reshape"),
             helper.make_node("Conv", ["img", "w"], ["output"], kernel_shape=[1, 1], name="conv")]
    with pytest.raises(McugenError, match="'reshape' \\(Reshape\\) cannot be compiled"):
        pipeline.front(save(model(nodes, [1, 490], [1, 2, 7, 7], [w, shape]), tmp_path))


def test_layout_ops_between_quantize_and_dequantize_move_after_them(tmp_path):
    m = keras_like()
    before = [n.op_type for n in m.graph.node]
    model_copy = onnx.ModelProto.FromString(m.SerializeToString())
    from mcugen.frontend import integer_io

    assert integer_io.sink_layout_ops(model_copy) == 1
    after = [n.op_type for n in model_copy.graph.node]
    k = after.index("Reshape")
    assert after[k - 1] == "DequantizeLinear" and after[k - 2] == "QuantizeLinear"
    assert sorted(before) == sorted(after)


def test_a_weight_transposed_after_its_dequantize_linear_keeps_its_integers(tmp_path):
    """tf2onnx may leave TFLite's OHWI weight behind its DequantizeLinear, then a Transpose to
    OIHW: the model's int8 values and per-channel scales are still taken as they are."""
    from helpers.int8_models import Builder

    b = Builder()
    x = b.node("Transpose", [b.dq("input", 0.02, 0)], perm=[0, 3, 1, 2])
    w_ohwi = np.random.default_rng(4).integers(-60, 61, size=(6, 3, 3, 2)).astype(np.int8)  # re-quantizing would stretch them
    scales = np.linspace(0.002, 0.01, 6).astype(np.float32)
    w = b.node("DequantizeLinear", [b.const(w_ohwi), b.const(scales), b.const(np.zeros(6, np.int8))], axis=0)
    w = b.node("Transpose", [w], perm=[0, 3, 1, 2])
    x = b.node("Conv", [x, w], kernel_shape=[3, 3])
    b.q(x, 0.05, 0)
    b.nodes[-1].output[0] = "output"
    graph = helper.make_graph(b.nodes, "ohwi", [helper.make_tensor_value_info("input", TensorProto.INT8, [1, 5, 5, 2])],
                              [helper.make_tensor_value_info("output", TensorProto.INT8, [1, 6, 3, 3])], b.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    compiled = pipeline.build(save(m, tmp_path))
    assert not any("re-quantized" in n for n in compiled.notes)
    conv = compiled.graph.nodes[0]
    np.testing.assert_array_equal(conv.params["weight"], w_ohwi)  # OHWI is also mcugen's layout


def test_a_denormal_scale_is_refused(tmp_path):
    """A corrupt or hostile file's denormal scale would overflow the multipliers: one line."""
    m = keras_like()
    for t in m.graph.initializer:
        if t.data_type == TensorProto.FLOAT and not t.dims and abs(numpy_helper.to_array(t) - 0.05) < 1e-9:
            t.CopyFrom(numpy_helper.from_array(np.array(1e-40, np.float32), t.name))
    with pytest.raises(McugenError, match="normal float32"):
        pipeline.build(save(m, tmp_path))


def test_a_chain_of_equal_quantize_dequantize_pairs_is_one(tmp_path):
    """Q -> DQ -> Q -> DQ with the same parameters (as some quantizers write around a
    reshape they then drop): one quantization, no requantizing layer."""
    from helpers.int8_models import Builder

    b = Builder()
    x = b.node("Transpose", [b.dq("input", 0.02, 0)], perm=[0, 3, 1, 2])
    w, ws = b.weight((4, 3, 1, 1))
    x = b.node("Conv", [x, w, b.bias(4, ws * 0.02)], kernel_shape=[1, 1])
    x = b.qdq(b.qdq(x, 0.05, 3), 0.05, 3)
    b.q(b.node("Relu", [x]), 0.05, 3)
    b.nodes[-1].output[0] = "output"
    graph = helper.make_graph(b.nodes, "chain", [helper.make_tensor_value_info("input", TensorProto.INT8, [1, 3, 3, 3])],
                              [helper.make_tensor_value_info("output", TensorProto.INT8, [1, 4, 3, 3])], b.inits)
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    compiled = pipeline.build(save(m, tmp_path))
    assert [n.op for n in compiled.graph.nodes] == ["pointwise_conv"]
    result = verify(str(tmp_path / "model.onnx"), compiled, "t", samples=10, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact


def test_two_layout_ops_of_one_quantize_linear_sink_to_distinct_names():
    """One QuantizeLinear read by two layout ops, each with its DequantizeLinear (a .tflite's
    MobileNetV3 through tf2onnx): both sink, and every tensor keeps one writer."""
    from mcugen.frontend import integer_io

    scalar = [numpy_helper.from_array(np.array(0.05, np.float32), "s"), numpy_helper.from_array(np.array(3, np.int8), "z"),
              numpy_helper.from_array(np.array([1, 24], np.int64), "flat")]
    nodes = [helper.make_node("QuantizeLinear", ["input", "s", "z"], ["q"], name="q"),
             helper.make_node("Reshape", ["q", "flat"], ["r1"], name="r1"),
             helper.make_node("Transpose", ["q"], ["t2"], name="t2", perm=[0, 2, 3, 1]),
             helper.make_node("DequantizeLinear", ["r1", "s", "z"], ["d1"], name="d1"),
             helper.make_node("DequantizeLinear", ["t2", "s", "z"], ["d2"], name="d2"),
             helper.make_node("Flatten", ["d2"], ["f2"], name="f2"),
             helper.make_node("Add", ["d1", "f2"], ["output"], name="add")]
    m = model(nodes, [1, 2, 3, 4], [1, 24], scalar)
    assert integer_io.sink_layout_ops(m) == 2
    onnx.checker.check_model(m, full_check=True)  # static single assignment: no name written twice
    writers = [o for n in m.graph.node for o in n.output]
    assert len(writers) == len(set(writers))
