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


@pytest.mark.parametrize("op, step", [(OP.ADD, "add_q"), (OP.SUB, "sub_q"), (OP.MUL, "mul_q")])
def test_arithmetic_by_a_quantized_constant_is_tflms(op, step):
    """ADD, SUB and MUL with a constant the model quantized (Keras' Rescaling, a hard
    sigmoid's +3 and *1/6): the table of a lut of that one step is TFLite's, for all 256
    inputs, on random parameters and constants. TFLite computes from the constant's
    integer and scale: for MUL a table of the real value is not TFLite's (ADD's 20 bits of
    headroom make the two agree except on rare ties)."""
    rng = np.random.default_rng(20240561 + op)
    found = tflm.comparison("lut")
    name = {OP.ADD: "AddOptions", OP.SUB: "SubOptions", OP.MUL: "MulOptions"}[op]
    differs = 0
    for _ in range(PARAMETER_SETS):
        qin = tflm.draw_q(rng, 1e-3, 0.5)
        qc = tflm.draw_q(rng, 1e-3, 0.5)
        k = int(rng.integers(-128, 128)) - qc.zero_point
        value = k + qc.zero_point
        reach = 128 * qin.scale + abs(k) * qc.scale
        if op == OP.MUL:
            qout = _near(rng, QParams(qin.scale * abs(k) * qc.scale + 1e-6, 0))
        else:
            qout = tflm.draw_q(rng, reach / 200, reach / 60)
        shape = (1, 1, 256)
        x = np.concatenate([EVERY_INPUT, tflm.samples(rng, EVERY_INPUT.shape, 3)])
        constant = tb.Spec((1,), qc.scale, qc.zero_point, np.array([value], np.int8))
        model = tb.model(op, [tb.Spec(shape, *tflm.pair(qin)), constant], tb.Spec(shape, *tflm.pair(qout)),
                         tb.options(name))
        want = tb.run(model, x)
        steps = ((step, k, qc.scale),)
        found.add(tflm.quantized(Node(step, "lut", [], [], dict(steps=steps)), [shape], [qin], qout), [x], want)
        real_value = Node(step, "lut", [], [], dict(steps=(("affine", *_affine(step, k * qc.scale)),)))
        rounded = tflm.run_int8(tflm.quantized(real_value, [shape], [qin], qout), x)
        differs += not np.array_equal(rounded, want)
    found.check_c()
    if op == OP.MUL:
        assert differs > 0  # the real value's table is not TFLite's: the test tells them apart


def _affine(step, c):
    return {"add_q": (1.0, c), "sub_q": (1.0, -c), "mul_q": (c, 0.0)}[step]
