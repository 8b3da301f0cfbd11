"""Every float32 C kernel (mcugen/backend/kernels/*_f32.c) against its op's float reference (run_float),
on random shapes, weights and fused activations. The C sums in float32 and numpy in float64,
so the check is the normwise relative error of mcugen/backend/float32.py, within 1e-5: a kernel bug
(a wrong tap, channel, padding or clamp) is off by far more."""

import dataclasses
import math

import numpy as np
import pytest
from helpers import COMPILERS
from helpers.kernels import STEPS, pool_window, resize, unclamped, window, with_act
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcugen import ops, planner, reference
from mcugen.backend import float32
from mcugen.ir import Graph, Node, Tensor
from mcugen.pipeline import Compiled
from mcugen.precision import FLOAT32
from mcugen.verify import run_c

SETTINGS = settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CC = COMPILERS[0] if COMPILERS else "cc"
TOLERANCE = 1e-5
def float_graph(in_shape, layers) -> Graph:
    """Nodes given as (node, input names), each writing tensor t<i>; the last is the output."""
    tensors = {"x": Tensor("x", tuple(in_shape))}
    nodes = []
    for i, (node, inputs) in enumerate(layers):
        node.inputs, node.outputs = list(inputs), [f"t{i}"]
        tensors[f"t{i}"] = Tensor(f"t{i}", tuple(ops.get(node.op).output_shape(node, *(tensors[n].shape for n in inputs))))
        nodes.append(node)
    return Graph(tensors, nodes, "x", f"t{len(layers) - 1}", source="float kernel test")


def run_float_c(graph: Graph, x: np.ndarray) -> np.ndarray:
    compiled = Compiled(graph, planner.plan(graph, FLOAT32), graph=graph, precision=FLOAT32)
    return np.frombuffer(run_c(compiled, "f", x, CC), dtype=np.float32).reshape(len(x), -1)


def check(graph: Graph, rng, batch=3):
    """Normwise relative error within TOLERANCE, relative to the largest partial sum the
    kernels form: the outputs before any fused clamp, or on |x| with |weight| and |bias|
    (a clamp or a cancellation narrows the output, not the float32 rounding before it)."""
    x = rng.uniform(-2.0, 2.0, size=(batch, *graph.shape(graph.input)[1:])).astype(np.float32)
    want = reference.run_float(graph, x).reshape(batch, -1)
    got = run_float_c(graph, x)
    loose = dataclasses.replace(graph, nodes=[unclamped(n) for n in graph.nodes])
    sums = dataclasses.replace(graph, nodes=[unclamped(n, magnitudes=True) for n in graph.nodes])
    scale = np.maximum(np.max(np.abs(reference.run_float(loose, x).reshape(batch, -1)), axis=1),
                       np.max(np.abs(reference.run_float(sums, np.abs(x)).reshape(batch, -1)), axis=1))
    errors = np.max(np.abs(got - want), axis=1) / np.where(scale > 0, scale, 1.0)
    assert errors.max() <= TOLERANCE, (errors, graph.nodes[-1].op)


def weighted(draw, rng, op, attrs, weight_shape, channels):
    attrs = with_act(draw, dict(attrs, weight=rng.normal(0, 0.5, weight_shape), bias=rng.normal(0, 0.5, channels)))
    return Node(op, op, [], [], attrs)


@SETTINGS
@given(st.data())
def test_conv(data):
    attrs, (h, w) = data.draw(window())
    cin, cout = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = weighted(data.draw, rng, "conv", attrs, (cout, *attrs["kernel"], cin), cout)
    check(float_graph((1, h, w, cin), [(node, ["x"])]), rng)


@SETTINGS
@given(st.data())
def test_depthwise_conv(data):
    attrs, (h, w) = data.draw(window())
    c = data.draw(st.integers(1, 9))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = weighted(data.draw, rng, "depthwise_conv", attrs, (*attrs["kernel"], c), c)
    check(float_graph((1, h, w, c), [(node, ["x"])]), rng)


@SETTINGS
@given(st.data())
def test_pointwise_conv_and_fully_connected(data):
    h, w = data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6))
    cin, cout = data.draw(st.integers(1, 40)), data.draw(st.integers(1, 24))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    pointwise = weighted(data.draw, rng, "pointwise_conv", {}, (cout, cin), cout)
    fc_out = data.draw(st.integers(1, 12))
    fc = weighted(data.draw, rng, "fully_connected", {}, (fc_out, h * w * cout), fc_out)  # reads NHWC flat
    check(float_graph((1, h, w, cin), [(pointwise, ["x"]), (fc, ["t0"])]), rng)


@SETTINGS
@given(st.data())
def test_pooling(data):
    attrs, (h, w) = data.draw(pool_window())
    c = data.draw(st.integers(1, 5))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    kind = data.draw(st.sampled_from(["avg_pool", "max_pool", "global_avg_pool"]))
    extra = dict(attrs, count_include_pad=data.draw(st.booleans())) if kind != "global_avg_pool" else {}
    node = Node(kind, kind, [], [], with_act(data.draw, extra))
    check(float_graph((1, h, w, c), [(node, ["x"])]), rng)


@SETTINGS
@given(st.data())
def test_resize(data):
    """Nearest and bilinear, every coordinate transform, twice in a row (the planner may
    place each output over its input)."""
    first, (h, w) = data.draw(resize())
    second = dict(data.draw(resize())[0], in_size=first["size"])
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    layers = [(Node("r", "resize", [], [], first), ["x"]), (Node("s", "resize", [], [], second), ["t0"])]
    check(float_graph((1, h, w, data.draw(st.integers(1, 5))), layers), rng)


@SETTINGS
@given(st.data())
def test_softmax(data):
    classes = data.draw(st.integers(1, 40))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    check(float_graph((1, classes), [(Node("s", "softmax", [], [], {}), ["x"])]), rng)


@SETTINGS
@given(st.data())
def test_elementwise_functions_add_and_mul(data):
    """A chain of element-wise steps (computed directly, not from a table), then Add and the
    two forms of Mul, so that every two-input kernel sees two different inputs."""
    shape = (1, data.draw(st.integers(1, 6)), data.draw(st.integers(1, 6)), data.draw(st.integers(1, 9)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    steps = tuple(data.draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=4)))
    layers = [
        (Node("f", "lut", [], [], with_act(data.draw, dict(steps=steps))), ["x"]),
        (Node("a", "add", [], [], with_act(data.draw, {})), ["x", "t0"]),
        (Node("g", "global_avg_pool", [], [], {}), ["t1"]),
        (Node("m", "mul", [], [], with_act(data.draw, {})), ["t1", "t2"]),  # one value per channel
        (Node("n", "mul", [], [], {}), ["t3", "t0"]),  # same shapes
    ]
    check(float_graph(shape, layers), rng)


def test_float_literals_are_exact_and_c():
    """A float32 and its literal are the same number, and the literal is a C float constant."""
    values = np.array([0.1, 1.0, -0.0, 1e-30, 3.4028234e38, 1 / 3, 100.0, 1e-45], dtype=np.float32)
    for value, text in zip(values, float32.c_floats(values)):
        assert text.endswith("f") and ("." in text or "e" in text)
        assert np.float32(float(text[:-1])) == value
    assert float32.c_float(math.inf) == "INFINITY" and float32.c_float(-math.inf) == "(-INFINITY)"


@pytest.mark.parametrize("step", STEPS, ids=lambda s: "_".join(map(str, s)))
def test_each_elementwise_step_alone(step):
    """Each step the float kernel computes directly, on inputs across [-2, 2] (its kinks)."""
    node = Node("f", "lut", [], [], dict(steps=(step,)))
    check(float_graph((1, 4, 4, 8), [(node, ["x"])]), np.random.default_rng(0))
