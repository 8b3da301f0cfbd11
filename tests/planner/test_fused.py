"""Fused inverted-residual blocks (planner/rows.py, Execution.fused): segments found on a
small v2/v3-like model, worked out by hand; every kind of block forced fused through
Execution (v2 stride 1 with its residual add, stride 2 without, the expand-less first
block, a v3 block with hardswish and no SE), with and without --row-input, bit-exact on
the host with gcc and clang, plain, DSP paths and M0 requantization; the planner's choice
on MobileNetV2 (--row-input under 20 KiB, whole input at its bound)."""

import dataclasses

import numpy as np
import pytest
from helpers import COMPILERS, EMULATE_DSP, V2, init, model, save
from onnx import helper

from mcugen import pipeline, planner, reference
from mcugen.planner import Execution, rows
from mcugen.verify import int8 as verify_int8

NO_LONG_MULTIPLY = ("-DMCUGEN_NO_LONG_MULTIPLY",)


def blocks_model(folder):
    """input 3x12x10 (NCHW) -> stem conv 3x3 to 8 channels (layer 0), then
    A: v2 stride 1 with add: expand 8->24, depthwise 3x3, project ->8, add (layers 1-4);
    B: v2 stride 2: expand 8->24, depthwise 3x3/2, project ->12 (layers 5-7, 6x5 maps);
    C: expand-less: depthwise 3x3, project 12->16 (layers 8-9);
    D: v3 without SE: expand 16->32, hardswish, depthwise 5x5, hardswish, project ->16,
    add (layers 10-15); then a global average pool (layer 16)."""
    rng = np.random.default_rng(7)
    nodes, inits = [], []

    def conv(src, dst, cin, cout, k=1, stride=1, group=1, act="relu"):
        name = f"w{len(inits)}"
        inits.append(init(name, rng.normal(0, 0.6, (cout, cin // group, k, k))))
        inits.append(init(name + "b", rng.normal(0, 0.1, cout)))
        out = dst if act is None else dst + "_c"
        nodes.append(helper.make_node("Conv", [src, name, name + "b"], [out], kernel_shape=[k, k],
                                      strides=[stride, stride], pads=[k // 2] * 4, group=group))
        if act == "relu":
            nodes.append(helper.make_node("Relu", [out], [dst]))
        elif act == "hswish":
            nodes.append(helper.make_node("HardSwish", [out], [dst]))
        return dst

    x0 = conv("input", "s0", 3, 8, k=3)
    a = conv(conv(conv(x0, "a1", 8, 24), "a2", 24, 24, k=3, group=24), "a3", 24, 8, act=None)
    nodes.append(helper.make_node("Add", [x0, a], ["a4"]))
    b = conv(conv(conv("a4", "b1", 8, 24), "b2", 24, 24, k=3, stride=2, group=24), "b3", 24, 12, act=None)
    c = conv(conv(b, "c1", 12, 12, k=3, group=12), "c2", 12, 16, act=None)
    d = conv(conv(conv(c, "d1", 16, 32, act="hswish"), "d2", 32, 32, k=5, group=32, act="hswish"), "d3", 32, 16,
             act=None)
    nodes.append(helper.make_node("Add", [d, c], ["d4"]))
    nodes.append(helper.make_node("GlobalAveragePool", ["d4"], ["output"]))
    return save(model(nodes, (1, 3, 12, 10), (1, 16, 1, 1), inits, opset=14), folder)


@pytest.fixture(scope="module")
def blocks(tmp_path_factory):
    path = blocks_model(tmp_path_factory.mktemp("fused"))
    calib = np.random.default_rng(8).uniform(-1, 1, (8, 3, 12, 10)).astype(np.float32)
    return pipeline.build(path, calib), pipeline.build(path, calib, row_input=True)


A, B, C, D = (1, 5), (5, 8), (8, 10), (10, 16)  # each block's layers [a, b)


def test_the_blocks_layers_and_segments_by_hand(blocks):
    g = blocks[0].graph
    assert [n.op for n in g.nodes] == ["conv", "pointwise_conv", "depthwise_conv", "pointwise_conv", "add",
                                       "pointwise_conv", "depthwise_conv", "pointwise_conv",
                                       "depthwise_conv", "pointwise_conv",
                                       "pointwise_conv", "lut", "depthwise_conv", "lut", "pointwise_conv", "add",
                                       "global_avg_pool"]
    for a, b in (A, B, C, D):
        assert rows.can_fuse(g, a, b)
    # A's add reads the block input x (the stem's output) at its output row: its segment
    # starts at the expand; one that starts later would read x from outside itself.
    assert not rows.can_fuse(g, 2, 5)
    # across A's end and into B: the add's output is read by B's expand only, so it can
    assert rows.can_fuse(g, 1, 8)
    # the stem's output is read by A's expand and A's add: no segment may end inside A on it
    assert not rows.can_fuse(g, 0, 2)
    # the global average pool has no row window
    assert not rows.can_fuse(g, 14, 17)
    # the add needs x: a segment from x, and its first stage reads x in place (no window)
    st = rows.stages(g, 5, 1, fused=True)
    assert [s.window_rows for s in st] == [0, 3, 1, 1]
    assert [s.row_bytes for s in st] == [10 * 8, 10 * 24, 10 * 24, 10 * 8]
    # D: the 5x5 depthwise keeps 5 rows of 5 x 32
    assert [s.window_rows for s in rows.stages(g, 16, 10, fused=True)] == [0, 1, 5, 1, 1, 1]


def test_a_fused_step_holds_its_input_output_and_windows_only(blocks):
    g = blocks[0].graph
    ex = Execution(fused=(A,))
    bufs = planner.buffers(g, ex)
    names = {b.name for b in bufs}
    for layer in range(1, 4):  # the expanded tensors never exist
        assert g.nodes[layer].output not in names
    live = sorted(b.size for b in bufs if b.first <= 4 <= b.last)
    x = 12 * 10 * 8
    assert live == sorted([x, x, rows.scratch_bytes(g, 5, 1, fused=True)])
    assert rows.scratch_bytes(g, 5, 1, fused=True) == 3 * 240 + 240 + 80 + rows.kernel_scratch(g, 5, 1)
    # the output is kept apart from x: no overlap rule for the step
    assert all(dst != g.nodes[4].output for _, dst in planner.overlap_rules(g, ex))


def forced(compiled, fused, pipeline_depth=0):
    ex = Execution(fused=tuple(fused), pipeline=pipeline_depth)
    plan = planner.offsets_for(compiled.graph, ex)
    assert not planner.conflicts(plan.buffers, plan.offsets, plan.overlaps)
    return dataclasses.replace(compiled, plan=plan)


CASES = {"v2-add": [A], "v2-stride2": [B], "expandless": [C], "v3-no-se": [D], "A-into-B": [(1, 8)],
         "all": [A, B, C, D]}
FLAGS = {"plain": (), "dsp": EMULATE_DSP, "cortex-m0-form": NO_LONG_MULTIPLY}


def check(compiled, cc, flags):
    x = np.random.default_rng(9).integers(-128, 128, (3, 12, 10, 3)).astype(np.int8)
    got = np.frombuffer(verify_int8.run_c(compiled, "fz", x, cc, extra_flags=flags), np.int8)
    assert np.array_equal(got, reference.run_int8(compiled.graph, x).reshape(-1))


@pytest.mark.parametrize("row_input", [False, True], ids=["whole", "row-input"])
@pytest.mark.parametrize("flags", FLAGS)
def test_every_block_kind_fused_is_bit_exact(blocks, flags, row_input):
    """The fast lane's: every block fused at once, gcc, each build of the kernels."""
    check(forced(blocks[row_input], CASES["all"], pipeline_depth=int(row_input)), "gcc", FLAGS[flags])


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("row_input", [False, True], ids=["whole", "row-input"])
@pytest.mark.parametrize("flags", FLAGS)
@pytest.mark.parametrize("cc", COMPILERS)
def test_each_fused_block_is_bit_exact(blocks, cc, flags, row_input, case):
    check(forced(blocks[row_input], CASES[case], pipeline_depth=int(row_input)), cc, FLAGS[flags])


def test_a_segment_from_the_model_input_is_bit_exact(tmp_path):
    """Whole input: a segment may start at layer 0 and read the image in the arena (not
    --row-input's pipeline, which asks the firmware for rows)."""
    rng = np.random.default_rng(11)
    nodes = [helper.make_node("Conv", ["input", "w0", "b0"], ["c0"], kernel_shape=[3, 3], strides=[2, 2], pads=[1] * 4),
             helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1] * 4, group=4),
             helper.make_node("Conv", ["c1", "w2", "b2"], ["c2"], kernel_shape=[1, 1]),
             helper.make_node("GlobalAveragePool", ["c2"], ["output"])]
    inits = [init("w0", rng.normal(0, 0.5, (4, 2, 3, 3))), init("b0", rng.normal(0, 0.1, 4)),
             init("w1", rng.normal(0, 0.5, (4, 1, 3, 3))), init("b1", rng.normal(0, 0.1, 4)),
             init("w2", rng.normal(0, 0.5, (6, 4, 1, 1))), init("b2", rng.normal(0, 0.1, 6))]
    compiled = pipeline.build(save(model(nodes, (1, 2, 10, 8), (1, 6, 1, 1), inits), tmp_path))
    assert rows.can_fuse(compiled.graph, 0, 3)
    compiled = forced(compiled, [(0, 3)])
    x = np.random.default_rng(12).integers(-128, 128, (3, 10, 8, 2)).astype(np.int8)
    got = np.frombuffer(verify_int8.run_c(compiled, "fz", x, "gcc"), np.int8)
    assert np.array_equal(got, reference.run_int8(compiled.graph, x).reshape(-1))


def test_a_fused_step_traces_its_output_only(blocks):
    """A trace build: the layers inside a segment have no output; the segment's last does."""
    compiled = forced(blocks[0], [A, D])
    x = np.random.default_rng(10).integers(-128, 128, (12, 10, 3)).astype(np.int8)
    assert verify_int8.first_bad_layer(compiled, "fz", x, verify_int8.HostRunner("gcc")) is None


@pytest.mark.slow
def test_v2_row_input_fits_20_kib_and_whole_input_stays_at_its_bound():
    g, _ = pipeline.front(V2)
    rowed = planner.plan(g, pipeline=planner.decide_pipeline(g))
    assert rowed.arena_size <= 20480 and rowed.fused
    assert not planner.conflicts(rowed.buffers, rowed.offsets, rowed.overlaps)
    # without fusions (the layer-by-layer plans after the pipeline) it was above
    assert all(p.arena_size > 20480 for p in planner.cheapest_first(g, planner.INT8, True, rowed.pipeline)
               if not p.fused)
    whole = planner.plan(g)
    assert whole.arena_size <= 37664
