"""The MobileNet v2/v3 idioms through the frontend and passes: each becomes the expected
kernel ops, the rewritten float graph computes what onnxruntime computes on the original,
and the int8 C is bit-exact with the reference (the checks of test_passes.py)."""

import numpy as np
import pytest
from helpers import COMPILERS, init, model, save
from helpers.onnx_models import bn, check_int8_bit_exact, check_matches_onnxruntime, rand
from onnx import TensorProto, helper

from mcugen import pipeline
from mcugen.errors import McugenError

SIXTH = 1.0 / 6.0


def conv(name, x, y, cin, cout, k=1, group=1, **attrs):
    w = init(f"{name}_w", rand(cout, cin // group, k, k))
    b = init(f"{name}_b", rand(cout, scale=0.1))
    node = helper.make_node("Conv", [x, w.name, b.name], [y], name=name, group=group, **attrs)
    return node, [w, b]


def scalar(name, value):
    return init(name, np.float32(value))


def inverted_residual():
    """v2 block: expand 1x1 + BN + ReLU6, depthwise 3x3 + BN + ReLU6, project 1x1 + BN, Add."""
    c1, i1 = conv("expand", "input", "e", 4, 24)
    b1, j1 = bn("bn1", "e", "eb", 24)
    c2, i2 = conv("dw", "er", "d", 24, 24, k=3, group=24, pads=[1, 1, 1, 1])
    b2, j2 = bn("bn2", "d", "db", 24)
    c3, i3 = conv("project", "dr", "p", 24, 4)
    b3, j3 = bn("bn3", "p", "pb", 4)
    nodes = [c1, b1, helper.make_node("Clip", ["eb", "zero", "six"], ["er"], name="relu6a"), c2, b2,
             helper.make_node("Clip", ["db", "zero", "six"], ["dr"], name="relu6b"), c3, b3,
             helper.make_node("Add", ["input", "pb"], ["output"], name="residual")]
    inits = i1 + j1 + i2 + j2 + i3 + j3 + [scalar("zero", 0.0), scalar("six", 6.0)]
    return model(nodes, [1, 4, 6, 6], [1, 4, 6, 6], inits), \
        ["pointwise_conv", "depthwise_conv", "pointwise_conv", "add"]


def residual_add_relu6_as_max_min():
    """ReLU6 written Max(x, 0) -> Min(x, 6), fused into a conv and into a residual Add."""
    c1, i1 = conv("a", "input", "a", 3, 3, k=3, pads=[1, 1, 1, 1])
    c2, i2 = conv("b", "ar", "b", 3, 3)
    nodes = [c1, helper.make_node("Max", ["a", "zero"], ["am"], name="max"),
             helper.make_node("Min", ["am", "six"], ["ar"], name="min"), c2,
             helper.make_node("Add", ["b", "ar"], ["s"], name="add"),
             helper.make_node("Max", ["zero", "s"], ["sm"], name="max2"),
             helper.make_node("Min", ["sm", "six"], ["output"], name="min2")]
    return model(nodes, [1, 3, 5, 5], [1, 3, 5, 5], i1 + i2 + [scalar("zero", 0.0), scalar("six", 6.0)]), \
        ["conv", "pointwise_conv", "add"]


def hardswish_op():
    c1, i1 = conv("c1", "input", "a", 3, 6)
    c2, i2 = conv("c2", "h", "output", 6, 2)
    nodes = [c1, helper.make_node("HardSwish", ["a"], ["h"], name="hswish"), c2]
    return model(nodes, [1, 3, 4, 4], [1, 2, 4, 4], i1 + i2, opset=14), ["pointwise_conv", "lut", "pointwise_conv"]


def hardswish_pattern_div_last():
    """x * Clip(x + 3, 0, 6) / 6: Add, Clip (attributes, opset 9), Mul, Div."""
    c1, i1 = conv("c1", "input", "x", 3, 5)
    nodes = [c1, helper.make_node("Add", ["x", "three"], ["a"], name="add3"),
             helper.make_node("Clip", ["a"], ["c"], name="relu6", min=0.0, max=6.0),
             helper.make_node("Mul", ["x", "c"], ["m"], name="mul"),
             helper.make_node("Div", ["m", "six"], ["output"], name="div6")]
    return model(nodes, [1, 3, 4, 4], [1, 5, 4, 4], i1 + [scalar("three", 3.0), scalar("six", 6.0)], opset=9), \
        ["pointwise_conv", "lut"]


def hardswish_pattern_mul_sixth():
    """x * (Clip(x + 3, 0, 6) * 1/6), Clip with constant inputs, x second in the Mul."""
    c1, i1 = conv("c1", "input", "x", 3, 5)
    nodes = [c1, helper.make_node("Add", ["three", "x"], ["a"], name="add3"),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="relu6"),
             helper.make_node("Mul", ["c", "sixth"], ["s"], name="mul_sixth"),
             helper.make_node("Mul", ["s", "x"], ["output"], name="mul")]
    inits = i1 + [scalar("three", 3.0), scalar("zero", 0.0), scalar("six", 6.0), scalar("sixth", SIXTH)]
    return model(nodes, [1, 3, 4, 4], [1, 5, 4, 4], inits), ["pointwise_conv", "lut"]


def hardswish_pattern_max_min_on_vector():
    """The classifier's HardSwish after a Gemm, its ReLU6 as Max/Min, then a Gemm."""
    nodes = [helper.make_node("Flatten", ["input"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w1", "b1"], ["x"], name="fc1"),
             helper.make_node("Add", ["x", "three"], ["a"], name="add3"),
             helper.make_node("Max", ["a", "zero"], ["r"], name="max0"),
             helper.make_node("Min", ["r", "six"], ["c"], name="min6"),
             helper.make_node("Div", ["c", "six"], ["d"], name="div6"),
             helper.make_node("Mul", ["d", "x"], ["h"], name="mul"),
             helper.make_node("Gemm", ["h", "w2"], ["output"], name="fc2")]
    inits = [init("w1", rand(8, 6, scale=1.5)), init("b1", rand(6)), init("w2", rand(6, 3)),
             scalar("three", 3.0), scalar("zero", 0.0), scalar("six", 6.0)]
    return model(nodes, [1, 8], [1, 3], inits), ["fully_connected", "lut", "fully_connected"]


def hardsigmoid_pattern_and_op():
    """Clip(x + 3, 0, 6) / 6 and HardSigmoid(alpha, beta) (PaddlePaddle's own parameters)."""
    c1, i1 = conv("c1", "input", "x", 3, 4)
    nodes = [c1, helper.make_node("Add", ["x", "three"], ["a"], name="add3"),
             helper.make_node("Clip", ["a", "zero", "six"], ["c"], name="relu6"),
             helper.make_node("Div", ["c", "six"], ["h"], name="div6"),
             helper.make_node("HardSigmoid", ["x"], ["g"], name="hsig", alpha=0.2, beta=0.5),
             helper.make_node("Add", ["h", "g"], ["output"], name="sum")]
    inits = i1 + [scalar("three", 3.0), scalar("zero", 0.0), scalar("six", 6.0)]
    return model(nodes, [1, 3, 4, 4], [1, 4, 4, 4], inits), ["pointwise_conv", "lut", "lut", "add"]


def squeeze_excitation():
    """v3 SE: GlobalAveragePool -> 1x1 conv -> ReLU -> 1x1 conv -> HardSigmoid -> Mul(x, s)."""
    c1, i1 = conv("dw", "input", "d", 8, 8, k=3, group=8, pads=[1, 1, 1, 1])
    c2, i2 = conv("fc1", "g", "f1", 8, 4)
    c3, i3 = conv("fc2", "f1r", "f2", 4, 8)
    nodes = [c1, helper.make_node("HardSwish", ["d"], ["x"], name="hswish"),
             helper.make_node("GlobalAveragePool", ["x"], ["g"], name="squeeze"), c2,
             helper.make_node("Relu", ["f1"], ["f1r"], name="relu"), c3,
             helper.make_node("HardSigmoid", ["f2"], ["s"], name="hsig", alpha=SIXTH),
             helper.make_node("Mul", ["x", "s"], ["output"], name="excite")]
    return model(nodes, [1, 8, 6, 6], [1, 8, 6, 6], i1 + i2 + i3, opset=14), \
        ["depthwise_conv", "lut", "global_avg_pool", "pointwise_conv", "pointwise_conv", "lut", "mul"]


def squeeze_excitation_scale_first_with_reshapes():
    """SE through Flatten -> Gemm ... -> Reshape [1,C,1,1], and Mul(s, x): the scale first."""
    nodes = [helper.make_node("ReduceMean", ["input"], ["g"], name="squeeze", axes=[2, 3], keepdims=0),
             helper.make_node("Gemm", ["g", "w1", "b1"], ["f1"], name="fc1", transB=1),
             helper.make_node("Relu", ["f1"], ["f1r"], name="relu"),
             helper.make_node("Gemm", ["f1r", "w2", "b2"], ["f2"], name="fc2", transB=1),
             helper.make_node("Sigmoid", ["f2"], ["s"], name="sigmoid"),
             helper.make_node("Reshape", ["s", "shape"], ["s4"], name="reshape"),
             helper.make_node("Mul", ["s4", "input"], ["output"], name="excite")]
    inits = [init("w1", rand(3, 6)), init("b1", rand(3)), init("w2", rand(6, 3)), init("b2", rand(6)),
             helper.make_tensor("shape", TensorProto.INT64, [4], [1, 6, 1, 1])]
    return model(nodes, [1, 6, 5, 5], [1, 6, 5, 5], inits), \
        ["global_avg_pool", "fully_connected", "fully_connected", "lut", "mul"]


def maxpool_variants():
    c1, i1 = conv("c1", "input", "a", 2, 3, k=3, pads=[1, 1, 1, 1])
    nodes = [c1, helper.make_node("MaxPool", ["a"], ["m"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                                  pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["m"], ["p"], name="pool2", kernel_shape=[2, 2], dilations=[2, 1],
                              pads=[1, 0, 1, 1]),
             helper.make_node("Relu", ["p"], ["output"], name="relu")]
    return model(nodes, [1, 2, 7, 8], [1, 3, 4, 4], i1, opset=12), ["conv", "max_pool", "max_pool"]


def shape_subgraph_reshape():
    """torch's x.view(x.size(0), -1): Shape -> Gather -> Unsqueeze -> Concat -> Reshape, folded."""
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"], name="gap"),
             helper.make_node("Shape", ["g"], ["sh"], name="shape"),
             helper.make_node("Constant", [], ["zero"], name="c0", value=helper.make_tensor("z", 7, [], [0])),
             helper.make_node("Gather", ["sh", "zero"], ["n"], name="gather", axis=0),
             helper.make_node("Unsqueeze", ["n", "axes"], ["n1"], name="unsq"),
             helper.make_node("Concat", ["n1", "minus1"], ["newshape"], name="concat", axis=0),
             helper.make_node("Reshape", ["g", "newshape"], ["r"], name="reshape"),
             helper.make_node("Gemm", ["r", "w"], ["output"], name="fc")]
    inits = [helper.make_tensor("axes", 7, [1], [0]), helper.make_tensor("minus1", 7, [1], [-1]), init("w", rand(5, 3))]
    return model(nodes, [1, 5, 3, 3], [1, 3], inits), ["global_avg_pool", "fully_connected"]


def scalar_arithmetic():
    """Sigmoid, then 2 * s - 1 and a division: one table."""
    c1, i1 = conv("c1", "input", "x", 3, 4)
    nodes = [c1, helper.make_node("Sigmoid", ["x"], ["s"], name="sigmoid"),
             helper.make_node("Mul", ["two", "s"], ["m"], name="mul2"),
             helper.make_node("Sub", ["m", "one"], ["d"], name="sub1"),
             helper.make_node("Sub", ["one", "d"], ["e"], name="one_minus"),
             helper.make_node("Div", ["e", "two"], ["output"], name="half")]
    return model(nodes, [1, 3, 3, 3], [1, 4, 3, 3], i1 + [scalar("two", 2.0), scalar("one", 1.0)]), \
        ["pointwise_conv", "lut"]


CASES = [inverted_residual, residual_add_relu6_as_max_min, hardswish_op, hardswish_pattern_div_last,
         hardswish_pattern_mul_sixth, hardswish_pattern_max_min_on_vector, hardsigmoid_pattern_and_op,
         squeeze_excitation, squeeze_excitation_scale_first_with_reshapes, maxpool_variants,
         shape_subgraph_reshape, scalar_arithmetic]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_rewritten_graph_matches_onnxruntime(case, tmp_path):
    check_matches_onnxruntime(case, tmp_path)


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_int8_c_is_bit_exact(case, tmp_path):
    check_int8_bit_exact(case, tmp_path)


def test_hardswish_pattern_is_one_table_of_hardswish(tmp_path):
    """The folded pattern's table equals the HardSwish op's, value for value."""
    graphs = [pipeline.build(save(case()[0], tmp_path, f"{case.__name__}.onnx")).graph
              for case in (hardswish_op, hardswish_pattern_div_last)]
    pattern = graphs[1].nodes[1]
    assert pattern.attrs["steps"][-1] == ("affine", SIXTH, 0.0)
    x = np.linspace(-8, 8, 161)
    from mcugen.ops import lut

    np.testing.assert_allclose(lut.run_float(pattern, x), lut.STEPS["hardswish"](x, x), atol=1e-12)


def two_tensors(op, shape_b):
    nodes = [helper.make_node("Conv", ["input", "w"], ["b"], name="conv"),
             helper.make_node(op, ["input", "b"], ["output"], name="bad")]
    return model(nodes, [1, 2, 3, 3], [1, 2, 3, 3], [init("w", rand(*shape_b))])


@pytest.mark.parametrize("m,words", [
    (lambda: two_tensors("Sub", (2, 2, 1, 1)), r"\(Sub, opset 13\) of two tensors"),
    (lambda: two_tensors("Add", (2, 2, 3, 3)), "Add of equal shapes"),
    (lambda: model([helper.make_node("Mul", ["input", "c"], ["output"], name="m")], [1, 2, 3, 3], [1, 2, 3, 3],
                   [init("c", rand(1, 2, 3, 3))]), "only a scalar constant"),
    (lambda: model([helper.make_node("MaxPool", ["input"], ["output"], name="m", kernel_shape=[1, 1],
                                     pads=[1, 1, 1, 1])], [1, 2, 3, 3], [1, 2, 5, 5]), "window with no input"),
    (lambda: model([helper.make_node("ReduceMean", ["input"], ["output"], name="m", axes=[1])], [1, 2, 3, 3],
                   [1, 1, 3, 3]), "axes 2, 3"),
])
def test_unsupported_forms_are_refused_clearly(m, words, tmp_path):
    with pytest.raises(McugenError, match=words):
        pipeline.front(save(m(), tmp_path))
