"""ONNX Resize and Upsample through the frontend (mcugen/ops/resize.py): models that resize
their own input (torch's F.interpolate, Keras' Resizing via tf2onnx) or a map inside the
network, nearest and bilinear, every coordinate transform, enlarging and shrinking. The
float graph computes what onnxruntime computes; compiled to int8, the C is bit-exact with
the reference; the forms mcugen does not take are refused in one line naming the node."""

import numpy as np
import pytest
from helpers import COMPILERS, init, model, save
from helpers.onnx_models import check_int8_bit_exact, check_matches_onnxruntime, rand
from onnx import TensorProto, helper, numpy_helper

from mcugen import pipeline
from mcugen.errors import McugenError

# onnxruntime computes the source coordinates in float32: at x ~ 127 they are ~1e-5 of a
# pixel off the exact ones mcugen uses, which moves a value in [-2, 2] by up to ~4e-5.
FLOAT32_COORDINATES = 1e-4


def ints(name, values):
    return numpy_helper.from_array(np.array(values, np.int64), name)


def floats(name, values):
    return numpy_helper.from_array(np.array(values, np.float32), name)


def resize(x, y, name="resize", sizes=None, scales=None, **attrs):
    """A Resize node (opset 13 form: roi, scales, sizes) and its constant."""
    if sizes is not None:
        return helper.make_node("Resize", [x, "", "", f"{name}_sizes"], [y], name=name, **attrs), ints(f"{name}_sizes", sizes)
    return helper.make_node("Resize", [x, "", f"{name}_scales"], [y], name=name, **attrs), floats(f"{name}_scales", scales)


def conv(x, y, name, cin, cout, **attrs):
    return (helper.make_node("Conv", [x, f"{name}_w", f"{name}_b"], [y], name=name, **attrs),
            [init(f"{name}_w", rand(cout, cin, 3, 3)), init(f"{name}_b", rand(cout))])


def torch_interpolate_bilinear_at_input():
    """F.interpolate(x, size=(12, 12), mode="bilinear") at the start of forward(), as torch's
    exporter writes it: sizes = Concat(Shape(x)[:2], [12, 12]), pytorch_half_pixel."""
    nodes = [helper.make_node("Shape", ["input"], ["shape"], name="shape"),
             helper.make_node("Slice", ["shape", "zero", "two"], ["nc"], name="slice"),
             helper.make_node("Concat", ["nc", "hw"], ["sizes"], name="concat", axis=0),
             helper.make_node("Resize", ["input", "", "", "sizes"], ["r"], name="interpolate", mode="linear",
                              coordinate_transformation_mode="pytorch_half_pixel", nearest_mode="floor",
                              cubic_coeff_a=-0.75)]
    c, inits = conv("r", "output", "conv", 3, 4, pads=[1, 1, 1, 1], strides=[2, 2])
    inits += [ints("zero", [0]), ints("two", [2]), ints("hw", [12, 12])]
    return model(nodes + [c], [1, 3, 20, 20], [1, 4, 6, 6], inits), ["resize", "conv"]


def bilinear_128_to_96_at_input():
    r, s = resize("input", "r", sizes=[1, 3, 96, 96], mode="linear")  # half_pixel, the default
    c, inits = conv("r", "output", "conv", 3, 4, pads=[1, 1, 1, 1], strides=[2, 2])
    return model([r, c], [1, 3, 128, 128], [1, 4, 48, 48], [s] + inits), ["resize", "conv"]


def keras_resizing_nhwc_input():
    """Keras' Resizing(12, 16) exported by tf2onnx: an NHWC input transposed to NCHW, then a
    half_pixel bilinear Resize by sizes."""
    nodes = [helper.make_node("Transpose", ["input"], ["t"], name="to_nchw", perm=[0, 3, 1, 2])]
    r, s = resize("t", "r", sizes=[1, 3, 12, 16], mode="linear", coordinate_transformation_mode="half_pixel")
    c, inits = conv("r", "output", "conv", 3, 4, pads=[1, 1, 1, 1])
    return model(nodes + [r, c], [1, 9, 7, 3], [1, 4, 12, 16], [s] + inits), ["resize", "conv"]


def upsample_inside(mode, transform, nearest_mode="round_prefer_floor"):
    """Conv -> Resize 7x7 -> 14x14 (scales 2) -> ReLU'd conv: the decoder half of a segmentation head."""
    def case():
        c1, i1 = conv("input", "c", "conv1", 3, 5, pads=[1, 1, 1, 1])
        r, s = resize("c", "r", scales=[1, 1, 2, 2], mode=mode, coordinate_transformation_mode=transform,
                      nearest_mode=nearest_mode)
        c2, i2 = conv("r", "k", "conv2", 5, 4, pads=[1, 1, 1, 1])
        relu = helper.make_node("Relu", ["k"], ["output"], name="relu")
        return model([c1, r, c2, relu], [1, 3, 7, 7], [1, 4, 14, 14], [s] + i1 + i2), ["conv", "resize", "conv"]
    case.__name__ = f"upsample_7_to_14_{mode}_{transform}_{nearest_mode}"
    return case


def shrink_and_stretch(mode, transform, nearest_mode="round_prefer_floor"):
    """One side shrinks, the other grows: 9x6 -> 5x13, by sizes."""
    def case():
        r, s = resize("input", "r", sizes=[1, 2, 5, 13], mode=mode, coordinate_transformation_mode=transform,
                      nearest_mode=nearest_mode)
        c, inits = conv("r", "output", "conv", 2, 3)
        return model([r, c], [1, 2, 9, 6], [1, 3, 3, 11], [s] + inits), ["resize", "conv"]
    case.__name__ = f"shrink_and_stretch_{mode}_{transform}_{nearest_mode}"
    return case


def opset18_axes():
    """Opset 18: sizes of height and width only (axes=[2, 3]), nearest."""
    node = helper.make_node("Resize", ["input", "", "", "hw"], ["r"], name="resize", mode="nearest", axes=[2, 3],
                            nearest_mode="round_prefer_ceil", coordinate_transformation_mode="asymmetric")
    c, inits = conv("r", "output", "conv", 3, 4, pads=[1, 1, 1, 1])
    return model([node, c], [1, 3, 10, 10], [1, 4, 6, 15], [ints("hw", [6, 15])] + inits, opset=18), \
        ["resize", "conv"]


def upsample9():
    """Upsample-9 (scales as an input), bilinear: asymmetric coordinates."""
    node = helper.make_node("Upsample", ["input", "up"], ["u"], name="upsample", mode="linear")
    c, inits = conv("u", "output", "conv", 2, 3, pads=[1, 1, 1, 1])
    return model([node, c], [1, 2, 4, 4], [1, 3, 8, 12], inits + [floats("up", [1, 1, 2, 3])], opset=9), \
        ["resize", "conv"]


def resize10():
    """Resize-10, nearest: asymmetric coordinates, rounded up when shrinking (as onnxruntime)."""
    node = helper.make_node("Resize", ["input", "down"], ["r"], name="resize", mode="nearest")
    c, inits = conv("r", "output", "conv", 2, 3, pads=[1, 1, 1, 1])
    return model([node, c], [1, 2, 9, 8], [1, 3, 4, 2], inits + [floats("down", [1, 1, 0.5, 0.25])], opset=10), \
        ["resize", "conv"]


TRANSFORMS = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn"]
CASES = [torch_interpolate_bilinear_at_input, keras_resizing_nhwc_input, opset18_axes, upsample9, resize10,
         upsample_inside("nearest", "asymmetric", "floor"), upsample_inside("linear", "align_corners"),
         *[shrink_and_stretch("linear", t) for t in TRANSFORMS],
         *[shrink_and_stretch("nearest", t, n) for t, n in zip(TRANSFORMS, ["round_prefer_floor", "round_prefer_ceil",
                                                                           "floor", "ceil", "round_prefer_ceil"])]]


@pytest.mark.parametrize("case", CASES + [bilinear_128_to_96_at_input], ids=lambda c: c.__name__)
def test_rewritten_graph_matches_onnxruntime(case, tmp_path):
    check_matches_onnxruntime(case, tmp_path, atol=FLOAT32_COORDINATES)


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("case", CASES[:7] + [bilinear_128_to_96_at_input], ids=lambda c: c.__name__)
def test_int8_c_is_bit_exact(case, tmp_path):
    check_int8_bit_exact(case, tmp_path)


def test_upsample7_attribute_and_onnx_s_2x_tables(tmp_path):
    """Upsample-7 takes its scales as an attribute; an exact 2x half_pixel upsampling has
    TFLite's own integer tables (1024 in / out is an integer)."""
    from mcugen import ops

    m = model([helper.make_node("Upsample", ["input"], ["output"], name="up", mode="nearest", scales=[1.0, 1.0, 2.0, 2.0])],
              [1, 2, 3, 3], [1, 2, 6, 6], opset=7)
    (node,) = pipeline.front(save(m, tmp_path))[0].nodes
    assert node.attrs["coordinate"] == "asymmetric" and node.attrs["nearest_mode"] == "floor"
    onnx_attrs = dict(mode="linear", coordinate="half_pixel", nearest_mode="floor", scales=None, in_size=(7, 7),
                      size=(14, 14))
    for axis in (0, 1):
        ours = ops.resize.axis_table(onnx_attrs, axis, integer=True)
        tflite = ops.resize.axis_table(dict(onnx_attrs, coordinate="tflite_half_pixel"), axis, integer=True)
        assert all(np.array_equal(a, b) for a, b in zip(ours, tflite))


def qdq_resize_requantized():
    """A QDQ model whose Resize output has other parameters than its input: the resize keeps
    its input's, and a table requantizes to the model's (passes/fold_qdq.py)."""
    q = lambda x, y, s, name: helper.make_node("QuantizeLinear", [x, s, "z"], [y], name=name)  # noqa: E731
    dq = lambda x, y, s, name: helper.make_node("DequantizeLinear", [x, s, "z"], [y], name=name)  # noqa: E731
    r, sizes = resize("xd", "r", sizes=[1, 2, 8, 8], mode="linear")
    c, inits = conv("rd", "output", "conv", 2, 3, pads=[1, 1, 1, 1])
    nodes = [q("input", "xq", "s_in", "q_in"), dq("xq", "xd", "s_in", "dq_in"), r,
             q("r", "rq", "s_out", "q_out"), dq("rq", "rd", "s_out", "dq_out"), c]
    inits += [sizes, init("s_in", np.float32(0.02)), init("s_out", np.float32(0.03)),
              numpy_helper.from_array(np.int8(1), "z")]
    return model(nodes, [1, 2, 5, 5], [1, 3, 8, 8], inits), ["resize", "lut", "conv"]


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_qdq_resize_keeps_its_input_s_parameters_and_a_table_requantizes(tmp_path):
    graph, _ = pipeline.front(save(qdq_resize_requantized()[0], tmp_path))
    assert [n.op for n in graph.nodes] == qdq_resize_requantized()[1]
    check_int8_bit_exact(qdq_resize_requantized, tmp_path)


def refused(opset=13, sizes=(1, 2, 8, 8), out=(1, 2, 8, 8), **attrs):
    """A Resize with one thing mcugen does not take."""
    node = helper.make_node("Resize", ["input", "", "", "sizes"], ["output"], name="the_resize",
                            **{"mode": "linear", **attrs})
    return model([node], [1, 2, 4, 4], out, [ints("sizes", sizes)], opset=opset)


@pytest.mark.parametrize("m,words", [
    (lambda: refused(mode="cubic"), "mode 'cubic' is not supported"),
    (lambda: refused(opset=18, antialias=1), "antialias=1 is not supported"),
    (lambda: refused(exclude_outside=1), "exclude_outside=1 is not supported"),
    (lambda: refused(coordinate_transformation_mode="tf_crop_and_resize"),
     "coordinate_transformation_mode 'tf_crop_and_resize' is not supported"),
    (lambda: refused(opset=19, coordinate_transformation_mode="half_pixel_symmetric"),
     "coordinate_transformation_mode 'half_pixel_symmetric' is not supported"),
    (lambda: refused(opset=18, keep_aspect_ratio_policy="not_larger", sizes=[1, 2, 8, 6], out=[1, 2, 6, 6]),
     "keep_aspect_ratio_policy=not_larger is not supported"),
    (lambda: refused(opset=18, axes=[1, 2], sizes=[2, 8], out=[1, 2, 8, 4]), r"not axes \[1, 2\]"),
    (lambda: refused(sizes=[1, 4, 8, 8], out=[1, 4, 8, 8]), r"only resizing height and width is supported, not \[1, 2, 4, 4\]"),
    (lambda: model([helper.make_node("Resize", ["input", "", "scales"], ["output"], name="the_resize")],
                   [1, 2, 9, 9], [1, 2, 11, 11], [floats("scales", [1, 1, 11 / 9, 11 / 9])]),
     "give sizes instead"),
    (lambda: model([helper.make_node("Resize", ["input", "", "scales"], ["output"], name="the_resize", mode="linear",
                                     coordinate_transformation_mode="align_corners")],
                   [1, 2, 2, 4], [1, 2, 1, 2], [floats("scales", [1, 1, 0.6, 0.6])]),
     "align_corners with scales"),
    (lambda: model([helper.make_node("Resize", ["input", "scales"], ["output"], name="the_resize", mode="nearest")],
                   [1, 2, 4, 4], [1, 2, 2, 8], [floats("scales", [1, 1, 0.5, 2])], opset=10),
     "enlarges one side and shrinks the other"),
])
def test_forms_mcugen_does_not_take_are_refused_in_one_line(m, words, tmp_path):
    with pytest.raises(McugenError, match=words) as error:
        pipeline.front(save(m(), tmp_path))
    assert "'the_resize' (Resize, opset" in str(error.value) and "\n" not in str(error.value)


def test_a_resize_of_a_vector_is_refused(tmp_path):
    m = model([helper.make_node("Resize", ["input", "", "", "sizes"], ["output"], name="the_resize")], [1, 6], [1, 9],
              [ints("sizes", [1, 9])])
    m.graph.output[0].type.tensor_type.elem_type = TensorProto.FLOAT
    with pytest.raises(McugenError, match=r"'the_resize' \(Resize, opset 13\): only resizing an image"):
        pipeline.front(save(m, tmp_path))
