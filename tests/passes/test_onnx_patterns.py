"""Frontend + passes: each ONNX idiom becomes the expected kernel ops, and the rewritten
float graph computes what onnxruntime computes on the original model. Each model is
also compiled to int8 C and verified bit-exact end to end."""

import numpy as np
import onnx
import pytest
from helpers import COMPILERS, init, model, save
from helpers.onnx_models import bn, check_int8_bit_exact, check_matches_onnxruntime, rand
from onnx import helper

from mcugen import pipeline
from mcugen.errors import McugenError


def conv_bn_relu():
    b, inits = bn("bn", "c", "b", 6)
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]), b,
             helper.make_node("Relu", ["b"], ["output"], name="relu")]
    return model(nodes, [1, 3, 8, 8], [1, 6, 8, 8], [init("w", rand(6, 3, 3, 3))] + inits), ["conv"]


def pad_conv_clip():
    nodes = [
        helper.make_node("Pad", ["input", "pads"], ["p"], name="pad", mode="constant"),
        helper.make_node("Conv", ["p", "w", "bias"], ["c"], name="conv", strides=[2, 2]),
        helper.make_node("Clip", ["c", "lo", "hi"], ["output"], name="relu6"),
    ]
    inits = [helper.make_tensor("pads", 7, [8], [0, 0, 0, 0, 0, 0, 1, 1]), init("w", rand(4, 3, 3, 3)),
             init("bias", rand(4)), init("lo", 0.0), init("hi", 6.0)]
    return model(nodes, [1, 3, 10, 10], [1, 4, 5, 5], inits), ["conv"]


def clip_opset6():
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv", group=3, pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c"], ["output"], name="clip", min=0.0, max=6.0)]
    return model(nodes, [1, 3, 6, 6], [1, 3, 6, 6], [init("w", rand(3, 1, 3, 3))], opset=9), ["depthwise_conv"]


def depthwise_bn_clip_pointwise():
    b1, i1 = bn("bn1", "d", "db", 5)
    b2, i2 = bn("bn2", "p", "pb", 7)
    nodes = [helper.make_node("Conv", ["input", "dw"], ["d"], name="dw", group=5, pads=[0, 0, 1, 1], strides=[2, 2]),
             b1, helper.make_node("Clip", ["db", "lo", "hi"], ["dr"], name="r1"),
             helper.make_node("Conv", ["dr", "pw"], ["p"], name="pw"), b2,
             helper.make_node("Clip", ["pb", "lo", "hi"], ["output"], name="r2")]
    inits = [init("dw", rand(5, 1, 3, 3)), init("pw", rand(7, 5, 1, 1)), init("lo", 0.0), init("hi", 6.0)] + i1 + i2
    return model(nodes, [1, 5, 8, 8], [1, 7, 4, 4], inits), ["depthwise_conv", "pointwise_conv"]


def flatten_gemm_nchw_order():
    """Flatten of a spatial tensor reads NCHW order: the reorder moves into the weights."""
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["output"], name="fc", transB=1, alpha=0.7, beta=1.3)]
    inits = [init("w", rand(3, 2, 1, 1)), init("fw", rand(4, 3 * 2 * 3)), init("fb", rand(4))]
    return model(nodes, [1, 2, 2, 3], [1, 4], inits), ["pointwise_conv", "fully_connected"]


def matmul_add_identity_dropout():
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"], name="gap"),
             helper.make_node("Identity", ["g"], ["i"], name="id"),
             helper.make_node("Reshape", ["i", "shape"], ["r"], name="reshape"),
             helper.make_node("Dropout", ["r"], ["d"], name="drop"),
             helper.make_node("MatMul", ["d", "mw"], ["m"], name="matmul"),
             helper.make_node("Add", ["m", "mb"], ["a"], name="add"),
             helper.make_node("Softmax", ["a"], ["output"], name="softmax", axis=-1)]
    inits = [helper.make_tensor("shape", 7, [2], [1, -1]), init("mw", rand(6, 3)), init("mb", rand(3))]
    return model(nodes, [1, 6, 4, 4], [1, 3], inits), ["global_avg_pool", "fully_connected", "softmax"]


def standalone_bn_then_conv():
    b, inits = bn("bn", "input", "b", 3)
    nodes = [b, helper.make_node("Conv", ["b", "w"], ["output"], name="conv", auto_pad="SAME_UPPER", strides=[2, 2])]
    return model(nodes, [1, 3, 7, 7], [1, 2, 4, 4], inits + [init("w", rand(2, 3, 3, 3))]), ["depthwise_conv", "conv"]


def avgpool_variants():
    nodes = [helper.make_node("AveragePool", ["input"], ["a"], name="ap0", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("AveragePool", ["a"], ["b"], name="ap1", kernel_shape=[2, 2], strides=[2, 2],
                              pads=[0, 0, 1, 1], count_include_pad=1),
             helper.make_node("Relu", ["b"], ["output"], name="relu")]
    return model(nodes, [1, 2, 5, 5], [1, 2, 3, 3], []), ["avg_pool", "avg_pool"]


def gemm_bn1d_relu_clip():
    b, inits = bn("bn", "g", "b", 5)
    nodes = [helper.make_node("Flatten", ["input"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w"], ["g"], name="fc"), b,
             helper.make_node("Relu", ["b"], ["r"], name="relu"),
             helper.make_node("Clip", ["r", "", "hi"], ["output"], name="clip")]
    return model(nodes, [1, 4, 1, 1], [1, 5], inits + [init("w", rand(4, 5)), init("hi", 1.0)]), ["fully_connected"]


def clip_then_relu_disjoint():
    """Clip(max=-1) then Relu: composes to a constant 0, not to an empty intersection."""
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
             helper.make_node("Clip", ["c", "", "hi"], ["k"], name="clip"),
             helper.make_node("Relu", ["k"], ["r"], name="relu"),
             helper.make_node("Conv", ["r", "w2", "b2"], ["output"], name="after")]
    inits = [init("w", rand(2, 2, 1, 1)), init("hi", -1.0), init("w2", rand(3, 2, 1, 1)), init("b2", rand(3))]
    return model(nodes, [1, 2, 3, 3], [1, 3, 3, 3], inits), ["pointwise_conv", "pointwise_conv"]


def matmul_add_bn():
    b, inits = bn("bn", "a", "output", 3)
    nodes = [helper.make_node("Flatten", ["input"], ["f"], name="flat", axis=0),
             helper.make_node("MatMul", ["f", "w"], ["m"], name="matmul"),
             helper.make_node("Add", ["bias", "m"], ["a"], name="add"), b]
    return model(nodes, [1, 2, 2, 2], [1, 3], inits + [init("w", rand(8, 3)), init("bias", rand(3))]), \
        ["fully_connected"]


def keras_head():
    """GlobalAveragePool -> 1x1 Conv -> Reshape -> Softmax (Keras MobileNet's classifier)."""
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["g"], name="gap"),
             helper.make_node("Conv", ["g", "w", "b"], ["c"], name="logits"),
             helper.make_node("Reshape", ["c", "shape"], ["r"], name="reshape"),
             helper.make_node("Softmax", ["r"], ["output"], name="softmax")]
    inits = [init("w", rand(5, 4, 1, 1)), init("b", rand(5)), helper.make_tensor("shape", 7, [2], [1, 5])]
    return model(nodes, [1, 4, 3, 3], [1, 5], inits), ["global_avg_pool", "pointwise_conv", "softmax"]


def leaky_relu_global_max_pool():
    """Conv -> LeakyRelu (a table) -> GlobalMaxPool (a max pool over the whole map) -> Flatten."""
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("LeakyRelu", ["c"], ["l"], name="leaky", alpha=0.1),
             helper.make_node("GlobalMaxPool", ["l"], ["g"], name="gmp"),
             helper.make_node("Flatten", ["g"], ["output"], name="flat")]
    inits = [init("w", rand(4, 3, 3, 3)), init("b", rand(4))]
    return model(nodes, [1, 3, 5, 6], [1, 4], inits), ["conv", "lut", "max_pool"]


def dscnn_first_conv_prelu():
    """A DS-CNN's first conv, 10x4 with strides (2, 2) and TF "same" padding (auto_pad
    SAME_UPPER), a PRelu with one slope per channel, all equal (Keras' shared_axes)."""
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], name="conv", auto_pad="SAME_UPPER",
                              kernel_shape=[10, 4], strides=[2, 2]),
             helper.make_node("PRelu", ["c", "slope"], ["output"], name="prelu")]
    inits = [init("w", rand(6, 1, 10, 4)), init("b", rand(6)), init("slope", np.full((6, 1, 1), 0.25, np.float32))]
    return model(nodes, [1, 1, 49, 10], [1, 6, 25, 5], inits), ["conv", "lut"]


def conv_prelu_per_channel_gemm_prelu():
    """Conv -> PRelu, one slope per channel [C,1,1] (torch nn.PReLU(C)) -> depthwise conv ->
    PRelu [1,C,1,1] (Keras' shared_axes=[1, 2]) -> Clip (fused) -> GlobalAveragePool -> Flatten -> Gemm ->
    PRelu [C] of a vector."""
    nodes = [helper.make_node("Conv", ["input", "w", "b"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["c", "s1"], ["p"], name="prelu1"),
             helper.make_node("Conv", ["p", "dw"], ["d"], name="dw", group=5, pads=[1, 1, 1, 1]),
             helper.make_node("PRelu", ["d", "s2"], ["q"], name="prelu2"),
             helper.make_node("Clip", ["q", "lo", "hi"], ["r"], name="clip"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "fw", "fb"], ["h"], name="fc", transB=1),
             helper.make_node("PRelu", ["h", "s3"], ["output"], name="prelu3")]
    slopes = np.array([0.25, -0.5, 1.5, 0.0, 0.1], np.float32)
    inits = [init("w", rand(5, 3, 3, 3)), init("b", rand(5)), init("s1", slopes.reshape(5, 1, 1)),
             init("dw", rand(5, 1, 3, 3)), init("s2", slopes[::-1].reshape(1, 5, 1, 1)),
             init("lo", -0.5), init("hi", 1.0), init("fw", rand(4, 5)), init("fb", rand(4)),
             init("s3", np.array([0.2, 0.3, -0.1, 0.05], np.float32))]
    return model(nodes, [1, 3, 6, 5], [1, 4], inits), ["conv", "prelu", "depthwise_conv", "prelu", "global_avg_pool",
                                                          "fully_connected", "prelu"]


def per_channel_normalization():
    """(x - mean) / std per channel in the graph, then a padded conv: a 1x1 depthwise layer
    (the two constants folded into one), then the conv."""
    nodes = [helper.make_node("Sub", ["input", "mean"], ["s"], name="sub_mean"),
             helper.make_node("Div", ["s", "std"], ["d"], name="div_std"),
             helper.make_node("Conv", ["d", "w", "b"], ["output"], name="conv", pads=[1, 1, 1, 1])]
    inits = [init("mean", np.array([0.485, 0.456, 0.406], np.float32).reshape(1, 3, 1, 1)),
             init("std", np.array([0.229, 0.224, 0.225], np.float32).reshape(1, 3, 1, 1)),
             init("w", rand(4, 3, 3, 3)), init("b", rand(4))]
    return model(nodes, [1, 3, 5, 6], [1, 4, 5, 6], inits), ["depthwise_conv", "conv"]


def vector_unsqueeze_conv():
    """A vector input reshaped to [1, C, 1, 1] for a padded 3x3 conv."""
    nodes = [helper.make_node("Unsqueeze", ["input", "axes"], ["u"], name="unsq"),
             helper.make_node("Conv", ["u", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["c"], ["output"], name="flat")]
    inits = [helper.make_tensor("axes", 7, [2], [2, 3]), init("w", rand(3, 6, 3, 3))]
    return model(nodes, [1, 6], [1, 3], inits), ["conv"]


def same_lower_dilated_and_pool_auto_pad():
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv", auto_pad="SAME_LOWER", strides=[2, 2]),
             helper.make_node("Conv", ["c", "w2"], ["d"], name="dilated", dilations=[2, 2], pads=[2, 2, 2, 2]),
             helper.make_node("AveragePool", ["d"], ["output"], name="pool", kernel_shape=[3, 3], auto_pad="SAME_UPPER")]
    inits = [init("w", rand(4, 3, 4, 4)), init("w2", rand(2, 4, 3, 3))]
    return model(nodes, [1, 3, 9, 8], [1, 2, 5, 4], inits), ["conv", "conv", "avg_pool"]


CASES = [clip_then_relu_disjoint, leaky_relu_global_max_pool, dscnn_first_conv_prelu, conv_prelu_per_channel_gemm_prelu,
         per_channel_normalization,
         matmul_add_bn, keras_head, vector_unsqueeze_conv,
         same_lower_dilated_and_pool_auto_pad, conv_bn_relu, pad_conv_clip, clip_opset6, depthwise_bn_clip_pointwise,
         flatten_gemm_nchw_order,
         matmul_add_identity_dropout, standalone_bn_then_conv, avgpool_variants, gemm_bn1d_relu_clip]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_rewritten_graph_matches_onnxruntime(case, tmp_path):
    check_matches_onnxruntime(case, tmp_path)


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("case", CASES, ids=lambda c: c.__name__)
def test_int8_c_is_bit_exact(case, tmp_path):
    check_int8_bit_exact(case, tmp_path)


def test_bn_fold_scales_weights_and_moves_the_shift_into_the_bias(tmp_path):
    m = conv_bn_relu()[0]
    path = save(m, tmp_path)
    graph, _ = pipeline.front(path)
    conv = graph.nodes[0]
    values = {t.name: onnx.numpy_helper.to_array(t).astype(np.float64) for t in m.graph.initializer}
    scale = values["bn_g"] / np.sqrt(values["bn_v"] + 1e-3)
    np.testing.assert_allclose(conv.attrs["weight"], values["w"].transpose(0, 2, 3, 1) * scale[:, None, None, None])
    np.testing.assert_allclose(conv.attrs["bias"], values["bn_b"] - values["bn_m"] * scale)
    assert conv.attrs["act"] == (0.0, float("inf"))


def test_pad_folds_into_conv_padding(tmp_path):
    graph, _ = pipeline.front(save(pad_conv_clip()[0], tmp_path))
    assert graph.nodes[0].attrs["pads"] == (0, 0, 1, 1)
    assert graph.nodes[0].attrs["act"] == (0.0, 6.0)


def leftover_relu_on_input():
    return model([helper.make_node("Relu", ["input"], ["output"], name="r")], [1, 2, 3, 3], [1, 2, 3, 3])


def leftover_pad_before_pool():
    nodes = [helper.make_node("Pad", ["input", "pads"], ["p"], name="pad"),
             helper.make_node("AveragePool", ["p"], ["output"], name="ap", kernel_shape=[2, 2])]
    return model(nodes, [1, 2, 4, 4], [1, 2, 5, 5], [helper.make_tensor("pads", 7, [8], [0, 0, 1, 1, 0, 0, 1, 1])])


def flatten_axis2_before_matmul():
    nodes = [helper.make_node("Flatten", ["input"], ["f"], name="flat", axis=2),
             helper.make_node("MatMul", ["f", "w"], ["output"], name="mm")]
    return model(nodes, [1, 4, 3, 3], [4, 2], [init("w", rand(9, 2))])


def softmax_after_spatial_flatten():
    """Softmax over H*W of a one-channel map: the flatten is free in memory, but the
    softmax would read a different last axis without it."""
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["f"], name="flat"),
             helper.make_node("Softmax", ["f"], ["output"], name="sm")]
    return model(nodes, [1, 2, 3, 3], [1, 9], [init("w", rand(1, 2, 1, 1))])


@pytest.mark.parametrize("case,words", [(leftover_relu_on_input, "activation must follow"),
                                        (leftover_pad_before_pool, "Pad must feed exactly one Conv"),
                                        (flatten_axis2_before_matmul, "changes the batch"),
                                        (softmax_after_spatial_flatten, "Flatten/Reshape/Transpose must leave NHWC data")])
def test_leftover_ops_are_refused_clearly(case, words, tmp_path):
    with pytest.raises(McugenError, match=words):
        pipeline.front(save(case(), tmp_path))


def prelu_per_element():
    """A slope per element (Keras' PReLU without shared_axes), which mcugen refuses."""
    nodes = [helper.make_node("PRelu", ["input", "slope"], ["output"], name="prelu")]
    return model(nodes, [1, 3, 4, 4], [1, 3, 4, 4], [init("slope", rand(3, 4, 4))])


def test_prelu_with_a_slope_per_element_is_refused_in_one_line(tmp_path):
    with pytest.raises(McugenError, match=r"node 'prelu' \(PRelu, opset \d+\): only PRelu with one slope per channel") as e:
        pipeline.front(save(prelu_per_element(), tmp_path))
    assert "\n" not in str(e.value) and "[3, 4, 4]" in str(e.value)
