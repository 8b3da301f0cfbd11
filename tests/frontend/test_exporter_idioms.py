"""Exporter idioms (docs/qdq.md#exporter-idioms): tf2onnx's NHWC input, float16 constants, dead nodes, unused
opset domains, local functions, PaddlePaddle's HardSigmoid, Reshape with 0 and -1 and
Softmax over the channels, symbolic spatial sizes with --input-shape. Each model's
rewritten float graph computes what onnxruntime computes on the file, in the file's own
input layout, and its int8 C is bit-exact with the reference; the forms mcugen does not
take are refused with one clear line."""

import json
import subprocess
import sys

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from helpers import COMPILERS, init, model, needs_target, save
from onnx import TensorProto, helper

from mcugen import layout, pipeline, reference
from mcugen.errors import McugenError
from mcugen.quant import quantize
from mcugen.verify import verify

RNG = np.random.default_rng(3)


def rand(*shape, scale=0.5):
    return RNG.normal(0, scale, size=shape).astype(np.float32)


def conv_net(x="input", cin=3, mid=6, classes=4, head=None):
    """conv 3x3/2 -> ReLU -> depthwise 3x3 -> GlobalAveragePool -> Flatten -> Gemm, with `head`
    nodes after the Gemm's output 'logits' (default: Softmax over it)."""
    nodes = [helper.make_node("Conv", [x, "w1", "b1"], ["c1"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("Relu", ["c1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="dw", group=mid, pads=[1, 1, 1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["logits"], name="fc", transB=1)]
    nodes += head if head is not None else [helper.make_node("Softmax", ["logits"], ["output"], name="softmax")]
    inits = [init("w1", rand(mid, cin, 3, 3)), init("b1", rand(mid, scale=0.1)), init("w2", rand(mid, 1, 3, 3)),
             init("fw", rand(classes, mid)), init("fb", rand(classes, scale=0.1))]
    return nodes, inits


def run_both(path, input_shape=None, count=4):
    """(mcugen's float graph, onnxruntime) on the same samples, in ONNX output order."""
    graph, notes = pipeline.front(path, input_shape)
    x = RNG.uniform(-2, 2, size=(count, *quantize.onnx_input_shape(graph))).astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    given = session.get_inputs()[0]
    dtype = np.float16 if given.type == "tensor(float16)" else np.float32
    want = np.concatenate([session.run(None, {given.name: x[i: i + 1].astype(dtype)})[0] for i in range(count)])
    got = reference.run_float(graph, layout.input_to_ir(x, graph))
    got = layout.to_onnx(got) if got.ndim == 4 else got
    return got.reshape(want.shape), want.astype(np.float64), graph, notes


def check(path, rtol=1e-4, atol=1e-5, input_shape=None):
    got, want, graph, notes = run_both(path, input_shape)
    np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    if COMPILERS:
        compiled = pipeline.build(path, input_shape=input_shape)
        result = verify(str(path), compiled, "t", samples=4, cc=COMPILERS[0], weights_bytes=0, macs=0)
        assert result.bit_exact, result.first_bad_layer
    return graph, notes


# ---------------------------------------------------------------------------- tf2onnx's NHWC input


def nhwc_input_model():
    nodes, inits = conv_net(x="nchw")
    nodes.insert(0, helper.make_node("Transpose", ["input"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]))
    return model(nodes, [1, 10, 12, 3], [1, 4], inits)


def test_nhwc_input_transpose_is_absorbed(tmp_path):
    graph, notes = check(save(nhwc_input_model(), tmp_path))
    assert graph.input_layout == "NHWC" and graph.shape(graph.input) == (1, 10, 12, 3)
    assert quantize.onnx_input_shape(graph) == (10, 12, 3)  # what --calib and onnxruntime are given
    assert any("NHWC" in note for note in notes)
    assert [n.op for n in graph.nodes] == ["conv", "depthwise_conv", "global_avg_pool", "fully_connected", "softmax"]


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_nhwc_input_calibration_is_in_the_files_layout(tmp_path):
    path = save(nhwc_input_model(), tmp_path)
    np.savez(tmp_path / "nhwc.npz", input=RNG.uniform(-1, 1, (8, 10, 12, 3)).astype(np.float32))
    np.savez(tmp_path / "nchw.npz", input=RNG.uniform(-1, 1, (8, 3, 10, 12)).astype(np.float32))
    proc = mcugen("verify", path, "--calib", tmp_path / "nhwc.npz", "--samples", "6", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["bit_exact"] and data["calibration_samples"] == 3 and data["float_reference"] == "onnxruntime"
    assert data["cosine"] > 0.95  # the float comparison fed onnxruntime NHWC samples
    refused = mcugen("compile", path, "--calib", tmp_path / "nchw.npz", "-o", tmp_path / "out")
    assert refused.returncode == 2 and "(N, 10, 12, 3)" in refused.stderr
    reported = json.loads(mcugen("report", path, "--json").stdout)["input"]
    assert reported["onnx_layout"] == "NHWC" and reported["onnx_shape"] == reported["shape"] == [10, 12, 3]


def test_nhwc_input_transpose_after_rescaling_is_absorbed(tmp_path):
    """tf2onnx's export of a .tflite with Keras' Rescaling: Mul and Add by scalars on the
    NHWC input, then the Transpose to NCHW. The Transpose moves up to the input and goes."""
    nodes, inits = conv_net(x="nchw")
    nodes[:0] = [helper.make_node("Mul", ["input", "scale"], ["scaled"], name="rescale_mul"),
                 helper.make_node("Add", ["scaled", "offset"], ["shifted"], name="rescale_add"),
                 helper.make_node("Transpose", ["shifted"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2])]
    inits += [init("scale", np.array(1 / 127.5)), init("offset", np.array(-1.0))]
    graph, notes = check(save(model(nodes, [1, 10, 12, 3], [1, 4], inits), tmp_path))
    assert graph.input_layout == "NHWC" and quantize.onnx_input_shape(graph) == (10, 12, 3)
    assert any("up past 2 element-wise steps" in note for note in notes)
    assert [n.op for n in graph.nodes][1:] == ["conv", "depthwise_conv", "global_avg_pool", "fully_connected", "softmax"]


def nhwc_island_model():
    """tf2onnx's islands in NHWC between NCHW convs (a .tflite's MobileNetV3 squeeze-excite):
    Transpose to NHWC, HardSwish, a ReduceMean over H and W (keepdims) through a 1x1 conv
    whose [1,C,1,1] result is reshaped to [1,1,1,C], a Mul by it, Transpose back; and a
    [1,C,1,1] -> [1,1,1,C] Reshape around a HardSwish before the last 1x1 conv."""
    c = 6
    nodes = [helper.make_node("Conv", ["input", "w1"], ["c1"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["c1"], ["t"], name="to_nhwc", perm=[0, 2, 3, 1]),
             helper.make_node("HardSwish", ["t"], ["hs"], name="hswish"),
             helper.make_node("ReduceMean", ["hs"], ["m"], name="se_mean", axes=[1, 2], keepdims=1),
             helper.make_node("Transpose", ["m"], ["m_nchw"], name="se_to_nchw", perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["m_nchw", "w_se"], ["se"], name="se_conv"),
             helper.make_node("Sigmoid", ["se"], ["gate"], name="se_gate"),
             helper.make_node("Reshape", ["gate", "to_nhwc_shape"], ["gate_nhwc"], name="se_reshape"),
             helper.make_node("Mul", ["hs", "gate_nhwc"], ["excited"], name="se_mul"),
             helper.make_node("Transpose", ["excited"], ["back"], name="to_nchw", perm=[0, 3, 1, 2]),
             helper.make_node("GlobalAveragePool", ["back"], ["g"], name="gap"),
             helper.make_node("Reshape", ["g", "to_nhwc_shape"], ["g_nhwc"], name="head_reshape"),
             helper.make_node("HardSwish", ["g_nhwc"], ["g_hs"], name="head_hswish"),
             helper.make_node("Reshape", ["g_hs", "to_nchw_shape"], ["g_nchw"], name="head_back"),
             helper.make_node("Conv", ["g_nchw", "w_out"], ["logits"], name="logits"),
             helper.make_node("Flatten", ["logits"], ["output"], name="flatten")]
    inits = [init("w1", rand(c, 3, 3, 3)), init("w_se", rand(c, c, 1, 1)), init("w_out", rand(4, c, 1, 1)),
             helper.make_tensor("to_nhwc_shape", TensorProto.INT64, [4], [1, 1, 1, c]),
             helper.make_tensor("to_nchw_shape", TensorProto.INT64, [4], [1, c, 1, 1])]
    return model(nodes, [1, 3, 8, 8], [1, 4], inits, opset=14)


def test_nhwc_islands_between_transposes_cancel(tmp_path):
    graph, notes = check(save(nhwc_island_model(), tmp_path))
    assert any("Transposes that cancel" in note for note in notes)
    assert "reshape" not in [n.op for n in graph.nodes]


def test_hardswish_at_opset_13_is_read_at_14(tmp_path):
    """tf2onnx writes HardSwish even at --opset 13, where ONNX has none."""
    nodes, inits = conv_net(head=[helper.make_node("HardSwish", ["logits"], ["output"], name="hswish")])
    at_13 = save(model(nodes, [1, 3, 8, 8], [1, 4], inits, opset=13), tmp_path, "at13.onnx")
    graph, _ = pipeline.front(at_13)  # onnxruntime refuses this file; the same graph at 14 is the reference
    _, want, at_14, _ = run_both(save(model(nodes, [1, 3, 8, 8], [1, 4], inits, opset=14), tmp_path))
    x = RNG.uniform(-2, 2, size=(4, 3, 8, 8)).astype(np.float32)
    np.testing.assert_allclose(reference.run_float(graph, layout.input_to_ir(x, graph)),
                               reference.run_float(at_14, layout.input_to_ir(x, at_14)))
    assert graph.nodes[-1].op == "lut"


def test_keras_flatten_after_a_transpose_to_nhwc_is_free(tmp_path):
    """tf2onnx's Keras Flatten: Transpose(perm=[0,2,3,1]) to NHWC, then Reshape [1, -1],
    then MatMul + Add. Together the two read NHWC memory in order: no move at all."""
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Transpose", ["c"], ["t"], name="to_nhwc", perm=[0, 2, 3, 1]),
             helper.make_node("Reshape", ["t", "shape"], ["f"], name="flatten"),
             helper.make_node("MatMul", ["f", "fw"], ["m"], name="dense"),
             helper.make_node("Add", ["m", "fb"], ["output"], name="bias")]
    inits = [init("w", rand(4, 3, 3, 3)), helper.make_tensor("shape", TensorProto.INT64, [2], [1, -1]),
             init("fw", rand(5 * 6 * 4, 3)), init("fb", rand(3))]
    graph, _ = check(save(model(nodes, [1, 3, 5, 6], [1, 3], inits), tmp_path))
    assert [n.op for n in graph.nodes] == ["conv", "fully_connected"]
    np.testing.assert_array_equal(graph.nodes[1].attrs["weight"], onnx.numpy_helper.to_array(inits[2]).T)


def test_a_transpose_that_moves_bytes_folds_into_the_gemm_or_is_refused(tmp_path):
    nodes, inits = conv_net(x="t")
    nodes.insert(0, helper.make_node("Transpose", ["input"], ["t"], name="swap_hw", perm=[0, 1, 3, 2]))
    with pytest.raises(McugenError, match=r"'swap_hw' \(Transpose\) cannot be compiled: a Flatten/Reshape/Transpose"):
        pipeline.front(save(model(nodes, [1, 3, 8, 8], [1, 4], inits), tmp_path))
    flat = [helper.make_node("Transpose", ["input"], ["t"], name="swap_hw", perm=[0, 1, 3, 2]),
            helper.make_node("Flatten", ["t"], ["f"], name="flat"),
            helper.make_node("Gemm", ["f", "fw"], ["output"], name="fc", transB=1)]
    graph, _ = check(save(model(flat, [1, 2, 3, 4], [1, 3], [init("fw", rand(3, 24))]), tmp_path, "folds.onnx"))
    assert [n.op for n in graph.nodes] == ["fully_connected"]


# ---------------------------------------------------------------------------- file-level clean-ups


def test_float16_constants_are_upcast(tmp_path):
    """Weights stored as float16 behind Cast nodes, as float16 converters write them."""
    nodes, inits = conv_net()
    for tensor in inits[:3]:
        half = onnx.numpy_helper.to_array(tensor).astype(np.float16)
        tensor.CopyFrom(onnx.numpy_helper.from_array(half, tensor.name + "_fp16"))
        nodes.insert(0, helper.make_node("Cast", [tensor.name], [tensor.name[:-5]], to=TensorProto.FLOAT))
    graph, notes = check(save(model(nodes, [1, 3, 8, 8], [1, 4], inits), tmp_path))
    assert any("float16" in note for note in notes)


def test_a_float16_model_compiles_as_float32(tmp_path):
    """Input, weights and output in float16: mcugen computes what the float32 model does."""
    nodes, inits = conv_net(head=[])
    m32 = model(nodes, [1, 3, 8, 8], [1, 4], inits, output_name="logits")
    m16 = onnx.ModelProto.FromString(m32.SerializeToString())
    for tensor in m16.graph.initializer:
        tensor.CopyFrom(onnx.numpy_helper.from_array(onnx.numpy_helper.to_array(tensor).astype(np.float16), tensor.name))
    for vi in list(m16.graph.input) + list(m16.graph.output):
        vi.type.tensor_type.elem_type = TensorProto.FLOAT16
    g16, notes = pipeline.front(save(m16, tmp_path, "m16.onnx"))
    g32, _ = pipeline.front(save(m32, tmp_path, "m32.onnx"))
    x = RNG.uniform(-2, 2, (3, 8, 8, 3))
    rounded = reference.run_float(g32, x.astype(np.float16).astype(np.float64))  # m32's weights, not rounded
    np.testing.assert_allclose(reference.run_float(g16, x), rounded, rtol=2e-2, atol=2e-2)
    assert any("float16" in note for note in notes)


def test_dead_nodes_and_unused_domains_are_ignored(tmp_path):
    nodes, inits = conv_net()
    nodes += [helper.make_node("Sin", ["c1"], ["unused"], name="dangling"),
              helper.make_node("Cos", ["unused"], ["unused2"], name="dangling2")]
    m = model(nodes, [1, 3, 8, 8], [1, 4], inits)
    m.opset_import.extend([helper.make_opsetid("com.microsoft", 1), helper.make_opsetid("ai.onnx.ml", 3)])
    graph, notes = check(save(m, tmp_path))
    assert any("removed 2 nodes" in note for note in notes)


def test_local_functions_are_inlined(tmp_path):
    """A HardSwish written as a model-local function (x * HardSigmoid(x)), called twice."""
    body = [helper.make_node("HardSigmoid", ["x"], ["s"], alpha=1.0 / 6.0),
            helper.make_node("Mul", ["x", "s"], ["y"])]
    function = helper.make_function("local", "HSwish", ["x"], ["y"], body, [helper.make_opsetid("", 13)])
    nodes, inits = conv_net(head=[helper.make_node("HSwish", ["logits"], ["output"], name="call", domain="local")])
    nodes[1] = helper.make_node("HSwish", ["c1"], ["r1"], name="call0", domain="local")
    m = model(nodes, [1, 3, 8, 8], [1, 4], inits)
    m.functions.append(function)
    m.opset_import.append(helper.make_opsetid("local", 1))
    graph, notes = check(save(m, tmp_path))
    assert any("inlined 1 local functions" in note for note in notes)
    assert [n.op for n in graph.nodes].count("lut") == 2


# ---------------------------------------------------------------------------- PaddlePaddle


def test_paddle_hardsigmoid_reshape_zero_minus_one_and_channel_softmax(tmp_path):
    """paddle2onnx: HardSigmoid with its own alpha and beta, Reshape to [0, -1], and a
    Softmax over axis 1 of an image (the channels: NHWC's last axis)."""
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("HardSigmoid", ["c"], ["h"], name="hsig", alpha=0.1666667, beta=0.5),
             helper.make_node("Mul", ["c", "h"], ["hs"], name="hswish"),
             helper.make_node("Softmax", ["hs"], ["sm"], name="channel_softmax", axis=1),
             helper.make_node("Reshape", ["sm", "shape"], ["flat"], name="reshape"),
             helper.make_node("MatMul", ["flat", "fw"], ["output"], name="fc")]
    inits = [init("w", rand(5, 3, 3, 3)), helper.make_tensor("shape", TensorProto.INT64, [2], [0, -1]),
             init("fw", rand(5 * 4 * 4, 3))]
    graph, _ = check(save(model(nodes, [1, 3, 4, 4], [1, 3], inits), tmp_path))
    assert [n.op for n in graph.nodes] == ["conv", "lut", "softmax", "fully_connected"]


def test_softmax_over_the_channels_before_opset_13(tmp_path):
    """Opset 11's Softmax works on every axis from `axis` on: over [C,1,1] that is the channels."""
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"], name="gap"),
             helper.make_node("Conv", ["g", "w"], ["c"], name="conv"),
             helper.make_node("Softmax", ["c"], ["output"], name="softmax", axis=1)]
    check(save(model(nodes, [1, 4, 3, 3], [1, 5, 1, 1], [init("w", rand(5, 4, 1, 1))], opset=11), tmp_path))


@pytest.mark.parametrize("axis,opset,shape", [(2, 13, [1, 4, 3, 3]), (1, 11, [1, 4, 3, 3]), (0, 13, [1, 4])])
def test_softmax_over_another_axis_is_refused(axis, opset, shape, tmp_path):
    nodes = [helper.make_node("Softmax", ["input"], ["output"], name="sm", axis=axis)]
    with pytest.raises(McugenError, match=rf"node 'sm' \(Softmax, opset {opset}\): Softmax over axis {axis} .* channels"):
        pipeline.front(save(model(nodes, shape, shape, opset=opset), tmp_path))


# ---------------------------------------------------------------------------- symbolic spatial sizes


def ocr_model():
    """An OCR-like classifier on [N, 3, H, W] with symbolic H and W."""
    nodes, inits = conv_net(mid=8, classes=10)
    nodes.insert(2, helper.make_node("Conv", ["r1", "w3"], ["r1b"], name="conv2", pads=[1, 1, 1, 1], strides=[2, 2]))
    nodes[3].input[0] = "r1b"
    inits.append(init("w3", rand(8, 8, 3, 3)))
    return model(nodes, None, ["N", 10], inits, input_dims=["N", 3, "H", "W"])


def mcugen(*args):
    return subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True)


def test_stale_declared_shapes_are_ignored(tmp_path):
    """Paddle2ONNX declares the output [-1, 10] (or leaves value_info from another input
    size): with --input-shape the shapes are inferred afresh, not checked against those."""
    m = ocr_model()
    m.graph.output[0].type.tensor_type.shape.dim[0].Clear()
    m.graph.output[0].type.tensor_type.shape.dim[0].dim_value = -1
    m.graph.value_info.append(helper.make_tensor_value_info("r1", TensorProto.FLOAT, [-1, 8, 99, 99]))
    path = save(m, tmp_path)
    got, want, graph, _ = run_both(path, (1, 3, 48, 192))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert graph.shape(graph.output) == (1, 10)


def test_symbolic_spatial_sizes_need_input_shape(tmp_path):
    path = save(ocr_model(), tmp_path)
    for command in (["report", path], ["compile", path, "-o", tmp_path / "out"]):
        proc = mcugen(*command)
        assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
        assert "--input-shape 1,3,H,W" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()
    for bad, words in (("1,3,48", "has 3 dimensions"), ("1,4,48,192", "dimension 1: the model fixes it to 3"),
                       ("1,3,x,192", "comma-separated sizes"), ("1,3,0,192", "comma-separated sizes")):
        proc = mcugen("report", path, "--input-shape", bad)
        assert proc.returncode == 2 and words in proc.stderr, proc.stderr


def test_symbolic_spatial_sizes_compile_with_input_shape(tmp_path):
    path = save(ocr_model(), tmp_path)
    got, want, graph, _ = run_both(path, (1, 3, 48, 192))
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
    assert graph.shape(graph.input) == (1, 48, 192, 3)
    report = json.loads(mcugen("report", path, "--input-shape", "1,3,48,192", "--json").stdout)
    assert report["input"]["shape"] == [48, 192, 3] and report["layers"][0]["output_shape"] == [24, 96, 8]
    proc = mcugen("compile", path, "--input-shape", "1,3,48,192", "-o", tmp_path / "out", "--name", "ocr")
    assert proc.returncode == 0, proc.stderr
    assert "#define OCR_INPUT_SIZE 27648" in (tmp_path / "out" / "ocr.h").read_text()


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_symbolic_spatial_sizes_verify_with_input_shape(tmp_path):
    proc = mcugen("verify", save(ocr_model(), tmp_path), "--input-shape", "1,3,48,192", "--samples", "4", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["bit_exact"] and data["float_reference"] == "onnxruntime" and data["cosine"] > 0.9


@needs_target
def test_symbolic_spatial_sizes_bench_with_input_shape(tmp_path):
    proc = mcugen("bench", save(ocr_model(), tmp_path), "--input-shape", "1,3,16,32", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["output_bit_exact"] and len(data["layers"]) == 6 and data["instructions"] > 0
