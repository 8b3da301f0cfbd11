"""The v2/v3 kernels (add, mul, lut, max_pool) against their numpy references, on random
shapes and random parameters, drawn directly to hit the corners (any zero points, shifts
either way, narrow clamps), and through quantize() to check the numbers mean what they
should. Two-input kernels get their second input from a random table of the first (and a
global average pool for mul's per-channel scale), so both inputs are random."""

import numpy as np
import pytest
from helpers import COMPILERS, run_graph_c
from helpers.kernels import add_params, check, clamp, window
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mcugen import ops, reference
from mcugen.ir import Graph, Node, QParams, Tensor
from mcugen.ops import tflite_tables
from mcugen.ops.add import LEFT_SHIFT

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CC = COMPILERS[0] if COMPILERS else "cc"
Q = QParams(0.1, 0)
STEP_CHOICES = [("hardswish",), ("sigmoid",), ("hardsigmoid", 0.2, 0.5), ("mul_input",), ("affine", -1.5, 0.7),
                ("clip", -0.5, 2.0), ("clip", 1.0, -1.0)]


def random_table(node_name, rng):
    node = Node(node_name, "lut", [], [], dict(steps=()))
    node.params = dict(table=rng.integers(-128, 128, 256).astype(np.int8))
    return node


def graph_of(in_shape, layers) -> Graph:
    """Nodes given as (node, input names), each writing tensor t<i>; the last is the output."""
    tensors = {"x": Tensor("x", tuple(in_shape), Q)}
    nodes = []
    for i, (node, inputs) in enumerate(layers):
        node.inputs, node.outputs = list(inputs), [f"t{i}"]
        shape = ops.get(node.op).output_shape(node, *(tensors[name].shape for name in inputs))
        tensors[f"t{i}"] = Tensor(f"t{i}", tuple(shape), Q)
        nodes.append(node)
    return Graph(tensors, nodes, "x", f"t{len(layers) - 1}", source="kernel test")


def check_graph(graph, rng, batch=3, cc=CC):
    x = rng.integers(-128, 128, size=(batch, *graph.shape(graph.input)[1:]), dtype=np.int8)
    want = reference.run_int8(graph, x)
    np.testing.assert_array_equal(run_graph_c(graph, x, cc), want)
    return x, want


def shape_4d(draw):
    return (1, draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 12)))


@SETTINGS
@given(st.data())
def test_add(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("add", "add", [], [], {})
    node.params = add_params(data.draw)
    check_graph(graph_of(shape_4d(data.draw), [(random_table("b", rng), ["x"]), (node, ["x", "t0"])]), rng)


@SETTINGS
@given(st.data())
def test_mul(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("mul", "mul", [], [], {})
    node.params = dict(a_zp=data.draw(st.integers(-128, 127)), b_zp=data.draw(st.integers(-128, 127)),
                       output_zp=data.draw(st.integers(-128, 127)), mult=data.draw(st.integers(0, 2**31 - 1)),
                       shift=data.draw(st.integers(-31, 30)), **clamp(data.draw))
    per_channel = data.draw(st.booleans())
    gap = Node("gap", "global_avg_pool", [], [], {})
    gap.params = ops.global_avg_pool.quantize(gap, Q, Q)
    scale = [(random_table("s", rng), ["x"])] + ([(gap, ["t0"])] if per_channel else [])
    graph = graph_of(shape_4d(data.draw), scale + [(node, ["x", f"t{len(scale) - 1}"])])
    check_graph(graph, rng)


@SETTINGS
@given(st.data())
def test_lut(data):
    steps = tuple(data.draw(st.lists(st.sampled_from(STEP_CHOICES), min_size=1, max_size=4)))
    qin = QParams(data.draw(st.floats(1e-3, 0.5)), data.draw(st.integers(-128, 127)))
    qout = QParams(data.draw(st.floats(1e-3, 0.5)), data.draw(st.integers(-128, 127)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    node = Node("lut", "lut", [], [], dict(steps=steps, act=(data.draw(st.floats(-20, 0)), data.draw(st.floats(0, 20)))))
    node.params = ops.lut.quantize(node, qin, qout)
    graph = graph_of(shape_4d(data.draw), [(node, ["x"])])
    x, got = check_graph(graph, rng)
    # Each output is the float function of the dequantized input, rounded: within half a step
    # unless the int8 range or the clamp cut it. A TFLite kernel's table (one op: a lone
    # HardSwish, a Clip(0, inf) as RELU) rounds as TFLite does: within 3/4 of a step
    # (requantization rounds twice; 0.75 is the most measured over thousands of parameters),
    # and HardSwish, which works in int16 on the input at s_in / 128, loses more where the
    # output's step is much finer than the input's: measured on 20,000 random parameter sets,
    # at most 0.5 + 0.0113 s_in / s_out steps (1.25 at s_in / s_out = 108); bounded by 1/64.
    want = ops.lut.run_float(node, qin.scale * (x.astype(float) - qin.zero_point)) / qout.scale + qout.zero_point
    inside = (want > -127.5) & (want < 126.5)
    tflite = max(0.75, 0.5 + qin.scale / qout.scale / 64)
    rounding = 0.5 if tflite_tables.table(steps, qin, qout) is None else tflite
    assert np.all(np.abs(got - want)[inside] <= rounding + 1e-6)


@SETTINGS
@given(st.data())
def test_max_pool(data):
    attrs, (h, w) = data.draw(window(max_kernel=4))
    node = Node("m", "max_pool", [], [], attrs)
    node.params = clamp(data.draw)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    check(node, (1, h, w, data.draw(st.integers(1, 6))), rng)


def quantized(op, qa, qb, qout, act=None):
    node = Node(op, op, [], [], {} if act is None else dict(act=act))
    node.params = ops.get(op).quantize(node, qa, qb, qout)
    return node


@settings(max_examples=40, deadline=None)
@given(st.floats(1e-3, 1.0), st.floats(1e-3, 1.0), st.floats(1e-3, 1.0), st.integers(-128, 127),
       st.integers(-128, 127), st.integers(-128, 127), st.sampled_from(["add", "mul"]))
def test_add_and_mul_are_within_one_step_of_float(sa, sb, so, za, zb, zo, op):
    """TFLite's formulations round twice at most: within one output step of the exact result."""
    qa, qb, qout = QParams(sa, za), QParams(sb, zb), QParams(so, zo)
    node = quantized(op, qa, qb, qout)
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128))
    a, b = a.reshape(1, -1).astype(np.int8), b.reshape(1, -1).astype(np.int8)
    got = ops.get(op).run_int8(node, a, b).astype(float)
    ra, rb = sa * (a.astype(float) - za), sb * (b.astype(float) - zb)
    exact = (ra + rb if op == "add" else ra * rb) / so + zo
    inside = (exact > -128) & (exact < 127)
    assert np.all(np.abs(got - exact)[inside] <= 1.0)
    assert LEFT_SHIFT == 20  # TFLite's, for int8 inputs


@pytest.mark.parametrize("cc", COMPILERS)
def test_each_compiler_builds_the_new_kernels(cc):
    """A graph with every new kernel, a residual Add and an SE-style Mul builds warning-free
    under cc and runs bit-exact."""
    rng = np.random.default_rng(5)
    pool = Node("m", "max_pool", [], [], dict(kernel=(3, 3), strides=(2, 2), dilations=(1, 1), pads=(1, 1, 1, 1)))
    pool.params = dict(act_min=-128, act_max=127)
    hswish = Node("h", "lut", [], [], dict(steps=(("hardswish",),)))
    hswish.params = ops.lut.quantize(hswish, Q, Q)
    gap = Node("g", "global_avg_pool", [], [], {})
    gap.params = ops.global_avg_pool.quantize(gap, Q, QParams(0.05, 3))
    layers = [(pool, ["x"]), (hswish, ["t0"]), (quantized("add", Q, Q, Q, (0.0, 6.0)), ["t0", "t1"]),
              (gap, ["t2"]), (quantized("mul", Q, Q, QParams(0.05, 3)), ["t2", "t3"])]
    check_graph(graph_of((1, 9, 8, 5), layers), rng, cc=cc)
