"""The resize op (mcugen/ops/resize.py): its int8 C kernel byte for byte against TensorFlow
Lite Micro running a one-op RESIZE_BILINEAR (or RESIZE_NEAREST_NEIGHBOR) .tflite model,
and the int8 bilinear blend within its error bound of the float one. The kernels against
the numpy reference on random cases are in tests/c/test_library_kernels.py."""

import numpy as np
import pytest
from helpers import COMPILERS, one_layer_graph, run_graph_c
from helpers.kernels import CC, resize_attrs

from mcugen import ops
from mcugen.ir import Node, QParams
from mcugen.quant import errorbound

Q = QParams(0.05, 3)
SAMPLES = 100


def resize_node(mode, coordinate, in_hw, out_hw, nearest_mode="round_prefer_floor") -> Node:
    node = Node("r", "resize", [], [], resize_attrs(mode, coordinate, in_hw, out_hw, nearest_mode))
    node.params = ops.resize.quantize(node, Q, Q)
    return node


def tflite_model(in_hw, out_hw, channels, bilinear, align_corners, half_pixel_centers) -> bytes:
    """A .tflite file of one RESIZE_BILINEAR or RESIZE_NEAREST_NEIGHBOR on an int8 image,
    built with tflite-micro's schema object API."""
    import flatbuffers
    import tflite_micro.tensorflow.lite.micro.python.schema_py_generated as tfl

    def tensor(shape, kind, buffer, name, quantized=True):
        t = tfl.TensorT()
        t.shape, t.type, t.buffer, t.name = list(shape), kind, buffer, name
        if quantized:
            t.quantization = tfl.QuantizationParametersT()
            t.quantization.scale, t.quantization.zeroPoint = [Q.scale], [Q.zero_point]
        return t

    m = tfl.ModelT()
    m.version = 3
    m.buffers = [tfl.BufferT() for _ in range(4)]
    m.buffers[2].data = np.array(out_hw, np.int32).tobytes()
    graph = tfl.SubGraphT()
    graph.tensors = [tensor((1, *in_hw, channels), tfl.TensorType.INT8, 1, b"input"),
                     tensor((2,), tfl.TensorType.INT32, 2, b"size", quantized=False),
                     tensor((1, *out_hw, channels), tfl.TensorType.INT8, 3, b"output")]
    graph.inputs, graph.outputs = [0], [2]
    op = tfl.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0, 1], [2]
    if bilinear:
        op.builtinOptions, op.builtinOptionsType = tfl.ResizeBilinearOptionsT(), tfl.BuiltinOptions.ResizeBilinearOptions
        code = tfl.BuiltinOperator.RESIZE_BILINEAR
    else:
        op.builtinOptions = tfl.ResizeNearestNeighborOptionsT()
        op.builtinOptionsType = tfl.BuiltinOptions.ResizeNearestNeighborOptions
        code = tfl.BuiltinOperator.RESIZE_NEAREST_NEIGHBOR
    op.builtinOptions.alignCorners, op.builtinOptions.halfPixelCenters = align_corners, half_pixel_centers
    graph.operators = [op]
    opcode = tfl.OperatorCodeT()
    opcode.builtinCode = opcode.deprecatedBuiltinCode = code
    m.operatorCodes, m.subgraphs = [opcode], [graph]
    builder = flatbuffers.Builder(1024)
    builder.Finish(m.Pack(builder), b"TFL3")
    return bytes(builder.Output())


def tflm_outputs(model: bytes, x: np.ndarray) -> np.ndarray:
    from tflite_micro.python.tflite_micro import runtime

    interpreter = runtime.Interpreter.from_bytes(model, arena_size=1 << 20)
    outs = []
    for sample in x:
        interpreter.set_input(sample[None], 0)
        interpreter.invoke()
        outs.append(np.array(interpreter.get_output(0)))
    return np.concatenate(outs)


SHAPES = [((128, 128), (96, 96), 3), ((7, 7), (14, 14), 8), ((5, 9), (3, 4), 2), ((6, 4), (13, 11), 3),
          ((3, 3), (1, 1), 4), ((1, 5), (4, 1), 1)]
FLAGS = {"tflite_half_pixel": (False, True), "tflite_align_corners": (True, False), "tflite_asymmetric": (False, False)}


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("mode", ["linear", "nearest"])
@pytest.mark.parametrize("coordinate", list(FLAGS))
@pytest.mark.parametrize("in_hw,out_hw,channels", SHAPES, ids=lambda v: "x".join(map(str, v)) if isinstance(v, tuple) else str(v))
def test_int8_kernel_is_tflite_micro_s_byte_for_byte(mode, coordinate, in_hw, out_hw, channels):
    """100 random int8 images through TFLM's RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR and
    through the C kernel (and the numpy reference): every byte equal. TFLM's bilinear
    rounds half away from zero (its default build, not TFLITE_SINGLE_ROUNDING)."""
    pytest.importorskip("tflite_micro")
    rng = np.random.default_rng(sum(in_hw) * 31 + sum(out_hw) + channels)
    x = rng.integers(-128, 128, size=(SAMPLES, *in_hw, channels), dtype=np.int8)
    want = tflm_outputs(tflite_model(in_hw, out_hw, channels, mode == "linear", *FLAGS[coordinate]), x)
    node = resize_node(mode, coordinate, in_hw, out_hw)
    out_shape = (1, *out_hw, channels)
    got = run_graph_c(one_layer_graph(node, (1, *in_hw, channels), out_shape, Q, Q), x, CC)
    np.testing.assert_array_equal(ops.resize.run_int8(node, x), got)
    np.testing.assert_array_equal(want, got)


def test_onnx_coordinates_equal_tflite_s_where_its_10_bit_scale_is_exact():
    """half_pixel and align_corners computed exactly (ONNX) give TFLite's integer tables
    wherever 1024 in / out (align_corners: 1024 (in - 1) / (out - 1)) is an integer, as for
    2x and 4x; elsewhere TFLite's rounded scale drifts along the row (128 -> 96: 32/1024 of
    a pixel at the far end) and ONNX's exact coordinates are kept."""
    def tables(coordinate, n_in, n_out):
        attrs = resize_attrs("linear", coordinate, (n_in, 1), (n_out, 1))
        return ops.resize.axis_table(attrs, 0, integer=True)

    for onnx_name, tflite_name, n_in, n_out in [("half_pixel", "tflite_half_pixel", 7, 14),
                                                ("half_pixel", "tflite_half_pixel", 32, 8),
                                                ("align_corners", "tflite_align_corners", 5, 17),
                                                ("asymmetric", "tflite_asymmetric", 3, 12)]:
        assert all(np.array_equal(a, b) for a, b in zip(tables(onnx_name, n_in, n_out), tables(tflite_name, n_in, n_out)))
    exact, tflite = tables("half_pixel", 128, 96), tables("tflite_half_pixel", 128, 96)
    drift = (exact[0] * 1024 + exact[2]) - (tflite[0] * 1024 + tflite[2])
    assert drift.max() == 32 and drift.min() >= 0


@pytest.mark.parametrize("coordinate", ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                                        "tf_half_pixel_for_nn", "tflite_half_pixel", "tflite_align_corners"])
@pytest.mark.parametrize("in_hw,out_hw", [((128, 128), (96, 96)), ((7, 7), (14, 14)), ((5, 9), (3, 17))])
def test_int8_bilinear_is_within_its_error_bound_of_float(coordinate, in_hw, out_hw):
    """On every input int8 holds (the extremes included), the dequantized int8 output is
    within error_bound of the float blend of the dequantized input: the 10-bit weights and
    the rounding; for TFLite's coordinates also its 10-bit scale's drift. ONNX's bound is
    below an LSB."""
    node = resize_node("linear", coordinate, in_hw, out_hw)
    graph = one_layer_graph(node, (1, *in_hw, 2), (1, *out_hw, 2), Q, Q)
    rng = np.random.default_rng(len(coordinate))
    x = np.concatenate([rng.integers(-128, 128, size=(20, *in_hw, 2)),
                        rng.choice([-128, 127], size=(20, *in_hw, 2))]).astype(np.int8)
    got = Q.scale * (ops.resize.run_int8(node, x).astype(np.float64) - Q.zero_point)
    want = ops.resize.run_float(node, Q.scale * (x.astype(np.float64) - Q.zero_point))
    bound = ops.resize.error_bound(graph, node, 0.0)
    assert np.max(np.abs(got - want)) <= bound + 1e-12
    if not coordinate.startswith("tflite"):
        assert bound <= 0.75 * Q.scale + 1e-12  # half an LSB of rounding, 255 / 1024 of the 10-bit weights
    graph.tensors["x"].q = Q
    assert errorbound.output_bound(graph) == pytest.approx(bound + Q.scale / 2)  # the input's rounding passes through


def test_nearest_is_an_exact_gather():
    node = resize_node("nearest", "half_pixel", (9, 7), (4, 15), "round_prefer_ceil")
    x = np.random.default_rng(0).integers(-128, 128, size=(3, 9, 7, 2)).astype(np.int8)
    real = ops.resize.run_float(node, x.astype(np.float64))
    np.testing.assert_array_equal(ops.resize.run_int8(node, x), real.astype(np.int8))
    assert ops.resize.error_bound(one_layer_graph(node, (1, 9, 7, 2), (1, 4, 15, 2), Q, Q), node, 0.01) == 0.01
