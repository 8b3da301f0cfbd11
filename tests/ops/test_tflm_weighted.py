"""CONV_2D, DEPTHWISE_CONV_2D (and a 1x1 conv as mcugen's pointwise kernel) and
FULLY_CONNECTED: mcugen's reference and C kernels give TFLite Micro's bytes
(tests/helpers/tflm.py), on random weights, quantization parameters and inputs."""

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_builder as tb  # noqa: E402
from helpers import tflm  # noqa: E402

from mcugen.ir import QParams  # noqa: E402

PARAMETER_SETS = 6
ACTS = list(tb.ACTIVATIONS)


def _common(rng, channels):
    qin = tflm.draw_q(rng)
    w_scales = np.float32(np.exp(rng.uniform(np.log(1e-3), np.log(5e-2), channels))).astype(np.float64)
    act = ACTS[int(rng.integers(len(ACTS)))]
    return qin, w_scales, act


def _window(rng, kernel):
    strides = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    dilations = (int(rng.integers(1, 3)), int(rng.integers(1, 3)))
    reach = [(k - 1) * d + 1 for k, d in zip(kernel, dilations)]
    shape_hw = (int(rng.integers(reach[0], reach[0] + 6)), int(rng.integers(reach[1], reach[1] + 6)))
    padding = tb.tfl.Padding.SAME if rng.integers(2) else tb.tfl.Padding.VALID
    pads = tb.pads(shape_hw, kernel, strides, padding, dilations)
    return shape_hw, padding, dict(kernel=kernel, strides=strides, dilations=dilations, pads=pads)


def _act(attrs, act):
    return attrs if act is None else dict(attrs, act=act)


@pytest.mark.parametrize("kind", ["conv", "pointwise_conv"])
def test_conv_is_tflms(kind):
    """Per-channel weight scales, and every other layer one scale for all (per tensor)."""
    rng = np.random.default_rng(20240511 if kind == "conv" else 20240512)
    found = tflm.comparison(kind)
    for i in range(PARAMETER_SETS):
        cin, cout = int(rng.integers(1, 5)), int(rng.integers(1, 5))
        kernel = (1, 1) if kind == "pointwise_conv" else (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        hw, padding, attrs = _window(rng, kernel)
        if kind == "pointwise_conv":
            attrs = dict(strides=(1, 1), dilations=(1, 1))
        shape = (1, *hw, cin)
        qin, w_scales, act = _common(rng, cout if i % 2 else 1)
        w = rng.integers(-127, 128, (cout, *kernel, cin)).astype(np.int8)
        bias = rng.integers(-5000, 5000, cout).astype(np.int32)
        qout = QParams(tflm.output_scale_for(rng, qin.scale, w_scales, w[0].size), int(rng.integers(-128, 128)))
        x = tflm.samples(rng, shape)
        model = tb.conv(shape, tflm.pair(qin), tflm.pair(qout), w, w_scales, bias, attrs["strides"], padding,
                        attrs["dilations"], act)
        weight = w.reshape(cout, cin) if kind == "pointwise_conv" else w
        node = tflm.weighted(kind, {} if kind == "pointwise_conv" else _act(attrs, act), weight, w_scales, bias,
                             qin.scale, 0)
        if kind == "pointwise_conv" and act is not None:
            node.attrs["act"] = act
        found.add(tflm.quantized(node, [shape], [qin], qout), [x], tb.run(model, x))
    found.check_c()


def test_depthwise_conv_is_tflms():
    rng = np.random.default_rng(20240513)
    found = tflm.comparison("depthwise_conv")
    for _ in range(PARAMETER_SETS):
        c = int(rng.integers(1, 6))
        kernel = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
        hw, padding, attrs = _window(rng, kernel)
        shape = (1, *hw, c)
        qin, w_scales, act = _common(rng, c)
        w = rng.integers(-127, 128, (1, *kernel, c)).astype(np.int8)
        bias = rng.integers(-5000, 5000, c).astype(np.int32)
        qout = QParams(tflm.output_scale_for(rng, qin.scale, w_scales, kernel[0] * kernel[1]), int(rng.integers(-128, 128)))
        x = tflm.samples(rng, shape)
        model = tb.depthwise_conv(shape, tflm.pair(qin), tflm.pair(qout), w, w_scales, bias, attrs["strides"], padding,
                                  attrs["dilations"], act)
        node = tflm.weighted("depthwise_conv", _act(attrs, act), w[0], w_scales, bias, qin.scale, 2)
        found.add(tflm.quantized(node, [shape], [qin], qout), [x], tb.run(model, x))
    found.check_c()


@pytest.mark.parametrize("per_channel", [False, True], ids=["per-tensor", "per-channel"])
def test_fully_connected_is_tflms(per_channel):
    rng = np.random.default_rng(20240514 + per_channel)
    found = tflm.comparison("fully_connected")
    for _ in range(PARAMETER_SETS):
        cin, cout = int(rng.integers(1, 40)), int(rng.integers(1, 12))
        qin, w_scales, act = _common(rng, cout if per_channel else 1)
        w = rng.integers(-127, 128, (cout, cin)).astype(np.int8)
        bias = rng.integers(-5000, 5000, cout).astype(np.int32)
        qout = QParams(tflm.output_scale_for(rng, qin.scale, w_scales, cin), int(rng.integers(-128, 128)))
        x = tflm.samples(rng, (1, cin))
        model = tb.fully_connected((1, cin), tflm.pair(qin), tflm.pair(qout), w, w_scales, bias, act)
        node = tflm.weighted("fully_connected", _act({}, act), w, w_scales, bias, qin.scale, 0)
        found.add(tflm.quantized(node, [(1, cin)], [qin], qout), [x], tb.run(model, x))
    found.check_c()


def test_per_tensor_fully_connected_multiplies_the_scales_in_float64():
    """A case found by search where s_in s_w in float32 and in float64 give multipliers
    (1406105540 and 1406105503, shift -7) that round the sum 8503 differently. Some TFLite
    sources multiply a per-tensor layer's scales in float32 (GetQuantizedConvolutionMultipler);
    the tflite-micro wheel does it in float64, as mcugen does for every layer."""
    qin, qout, w_scale = QParams(0.006771324202418327, 0), QParams(0.0024816382210701704, 0), [0.0018747481517493725]
    w, bias = np.array([[127]], np.int8), np.array([-6], np.int32)
    x = np.array([[67], [-67], [1]], np.int8)  # sums 8503, -8515, 121
    want = tb.run(tb.fully_connected((1, 1), tflm.pair(qin), tflm.pair(qout), w, w_scale, bias), x)
    node = tflm.weighted("fully_connected", {}, w, w_scale, bias, qin.scale, 0)
    got = tflm.run_int8(tflm.quantized(node, [(1, 1)], [qin], qout), x)
    np.testing.assert_array_equal(got, want)
    assert want[0, 0] == 43  # not 44, as the float32 product gives
