"""MEAN, AVERAGE_POOL_2D and MAX_POOL_2D: mcugen's reference and C kernels give TFLite Micro's
bytes (tests/helpers/tflm.py), on random quantization parameters and inputs."""

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_builder as tb  # noqa: E402
from helpers import tflm  # noqa: E402

from mcugen.ir import Node  # noqa: E402

PARAMETER_SETS = 8


def test_mean_is_tflms():
    """Global average pooling as TFLite's MEAN over height and width: any output
    parameters, the input's among them, rounded once."""
    rng = np.random.default_rng(20240501)
    found = tflm.comparison("global_avg_pool")
    for i in range(PARAMETER_SETS):
        shape = (1, int(rng.integers(1, 9)), int(rng.integers(1, 9)), int(rng.integers(1, 9)))
        qin = tflm.draw_q(rng)
        qout = qin if i % 4 == 0 else tflm.centered(rng, qin, 0.25, 2.0)
        x = tflm.samples(rng, shape)
        want = tb.run(tb.mean(shape, tflm.pair(qin), tflm.pair(qout)), x)
        found.add(tflm.quantized(Node("mean", "global_avg_pool", [], [], {}), [shape], [qin], qout), [x], want)
    found.check_c()


def _window(rng):
    kernel = (int(rng.integers(1, 5)), int(rng.integers(1, 5)))
    strides = (int(rng.integers(1, 4)), int(rng.integers(1, 4)))
    shape = (1, int(rng.integers(kernel[0], 10)), int(rng.integers(kernel[1], 10)), int(rng.integers(1, 6)))
    padding = tb.tfl.Padding.SAME if rng.integers(2) else tb.tfl.Padding.VALID
    act = list(tb.ACTIVATIONS)[int(rng.integers(len(tb.ACTIVATIONS)))]
    attrs = dict(kernel=kernel, strides=strides, dilations=(1, 1), pads=tb.pads(shape[1:3], kernel, strides, padding))
    return shape, padding, act, attrs if act is None else dict(attrs, act=act)


@pytest.mark.parametrize("op, kind", [(tb.tfl.BuiltinOperator.AVERAGE_POOL_2D, "avg_pool"),
                                      (tb.tfl.BuiltinOperator.MAX_POOL_2D, "max_pool")])
def test_pooling_is_tflms(op, kind):
    """Average pooling counts only the taps inside the map (ONNX's count_include_pad=0) and
    rounds half away from zero; max pooling skips padding; both clamp to the fused
    activation, quantized as TFLite does."""
    rng = np.random.default_rng(20240502 + op)
    found = tflm.comparison(kind)
    for _ in range(PARAMETER_SETS):
        shape, padding, act, attrs = _window(rng)
        q = tflm.draw_q(rng)
        x = tflm.samples(rng, shape)
        want = tb.run(tb.pool(op, shape, tflm.pair(q), attrs["kernel"], attrs["strides"], padding, act), x)
        if kind == "avg_pool":
            attrs["count_include_pad"] = False
        found.add(tflm.quantized(Node(kind, kind, [], [], attrs), [shape], [q], q), [x], want)
    found.check_c()
