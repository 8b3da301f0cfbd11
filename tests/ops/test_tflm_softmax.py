"""SOFTMAX: mcugen's reference and C kernel give TFLite Micro's bytes (tests/helpers/tflm.py)
on random input scales and inputs, rows of 1 to 40 classes (with beta 1, as ONNX's)."""

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_builder as tb  # noqa: E402
from helpers import tflm  # noqa: E402

from mcugen.ir import Node  # noqa: E402
from mcugen.ops.softmax import OUTPUT_Q  # noqa: E402

PARAMETER_SETS = 10


def test_softmax_is_tflms():
    rng = np.random.default_rng(20240531)
    found = tflm.comparison("softmax")
    for _ in range(PARAMETER_SETS):
        shape = (1, int(rng.integers(1, 41))) if rng.integers(2) else (1, 3, int(rng.integers(1, 12)))
        qin = tflm.draw_q(rng, 1e-3, 4.0)
        x = tflm.samples(rng, shape)
        x[: tflm.SAMPLES // 4] //= 16  # close values too, where many classes share the sum
        opts = tb.options("SoftmaxOptions", beta=1.0)
        want = tb.run(tb.unary(tb.tfl.BuiltinOperator.SOFTMAX, shape, tflm.pair(qin), tflm.pair(OUTPUT_Q), opts), x)
        found.add(tflm.quantized(Node("softmax", "softmax", [], [], {}), [shape], [qin], OUTPUT_Q), [x], want)
    found.check_c()
