"""LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU, RELU6 and QUANTIZE (int8 -> int8): the
table of a lut whose steps are that one op gives TFLite Micro's bytes for all 256 inputs,
in the reference and in C (tests/helpers/tflm.py), on random quantization parameters."""

import math

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_builder as tb  # noqa: E402
from helpers import tflm  # noqa: E402

from mcugen.ir import Node, QParams  # noqa: E402
from mcugen.ops import tflite_tables  # noqa: E402

PARAMETER_SETS = 16
OP = tb.tfl.BuiltinOperator
EVERY_INPUT = np.arange(-128, 128, dtype=np.int8).reshape(1, 1, 256)  # one sample of all 256 values


def _near(rng, q: QParams, low=0.5, high=2.0) -> QParams:
    return tflm.draw_q(rng, q.scale * low, q.scale * high)


def _case(name, rng):
    """(TFLite op, its options, mcugen's steps, qin, qout) of one random parameter set."""
    qin = tflm.draw_q(rng, 1e-3, 0.5)
    if name == "logistic":
        return OP.LOGISTIC, None, (("sigmoid",),), qin, tflite_tables.LOGISTIC_Q
    if name == "tanh":
        return OP.TANH, None, (("tanh",),), qin, tflite_tables.TANH_Q
    if name == "hard_swish":
        return OP.HARD_SWISH, None, (("hardswish",),), qin, _near(rng, qin)
    if name == "leaky_relu":
        alpha = float(np.float32(rng.choice([rng.uniform(0.005, 0.5), rng.uniform(-0.5, 1.5)])))
        return OP.LEAKY_RELU, tb.options("LeakyReluOptions", alpha=alpha), (("leakyrelu", alpha),), qin, _near(rng, qin)
    if name == "relu":
        return OP.RELU, None, (("clip", 0.0, math.inf),), qin, _near(rng, qin, 0.25, 1.5)
    if name == "relu6":
        return OP.RELU6, None, (("clip", 0.0, 6.0),), qin, qin
    return OP.QUANTIZE, None, (), qin, _near(rng, qin, 0.1, 10.0)


@pytest.mark.parametrize("name", ["logistic", "tanh", "hard_swish", "leaky_relu", "relu", "relu6", "quantize"])
def test_table_is_tflms(name):
    rng = np.random.default_rng(20240541 + len(name))
    found = tflm.comparison("lut")
    for _ in range(PARAMETER_SETS):
        op, opts, steps, qin, qout = _case(name, rng)
        x = np.concatenate([EVERY_INPUT, tflm.samples(rng, EVERY_INPUT.shape, 3)])
        want = tb.run(tb.unary(op, (1, *x.shape[1:]), tflm.pair(qin), tflm.pair(qout), opts), x)
        found.add(tflm.quantized(Node(name, "lut", [], [], dict(steps=steps)), [(1, *x.shape[1:])], [qin], qout),
                  [x], want)
    found.check_c()
