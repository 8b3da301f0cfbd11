"""The planner's overlap rules against the real C kernels.

Every layer of a chain is placed at exactly the safe distance the planner derives from the
kernel's declared loop order (ops.<op>.access): its output starts as far below its input
as the rules allow, the tightest packing there is. The generated single-arena C then runs
with a trace of every layer, and each layer's output must equal the numpy reference,
which never overlaps anything. A kernel whose real loop order differs from its declared
one reads a byte it already overwrote, and the random data makes that show. Window
configurations are enumerated exhaustively on small shapes.
"""

import itertools

import numpy as np
import pytest
from helpers import COMPILERS
from helpers.chains import build_chain, check_chain, draw_specs, make_layer, reshaped
from helpers.kernels import NEAREST_MODES, RESIZE_COORDINATES
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen import ops, planner, reference
from mcugen.pipeline import Compiled
from mcugen.planner.execution import Execution, can_stream
from mcugen.verify import run_c

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")


WINDOWS = [(k, s, d, pads) for k, s, d, pads in itertools.product(
    (1, 2, 3), (1, 2, 3), (1, 2), ((0, 0, 0, 0), (1, 1, 1, 1), (0, 0, 1, 1), (2, 1, 0, 2)))]


@pytest.mark.parametrize("kind", ["conv", "depthwise_conv", "avg_pool"])
def test_every_window_configuration_at_its_tightest_overlap(kind):
    """All kernel/stride/dilation/padding combinations; a 1x1 conv padded by 2 grows the
    map back between them so the chain stays long."""
    rng = np.random.default_rng(hash(kind) % 2**32)
    specs, shape = [], (1, 7, 6, 3)
    probe_graph_shape = shape
    for k, s, d, pads in WINDOWS:
        if kind == "avg_pool" and (d > 1 or max(pads) >= k):
            continue  # ONNX AveragePool: no dilation, padding smaller than the kernel
        reach = (k - 1) * d + 1
        if probe_graph_shape[1] + pads[0] + pads[2] < reach or probe_graph_shape[2] + pads[1] + pads[3] < reach:
            continue
        cout = int(rng.integers(1, 6))
        spec = (kind, k, s, d, pads, cout)
        specs.append(spec)
        probe = make_layer(spec, probe_graph_shape, rng)
        probe_graph_shape = ops.get(kind).output_shape(probe, probe_graph_shape)
        if min(probe_graph_shape[1:3]) < 5:
            grow = ("conv", 1, 1, 1, (2, 2, 2, 2), int(rng.integers(2, 5)))
            specs.append(grow)
            probe_graph_shape = ops.get("conv").output_shape(make_layer(grow, probe_graph_shape, rng),
                                                             probe_graph_shape)
    assert len(specs) > 20
    for start in range(0, len(specs), 40):  # keep each generated program small
        chunk = specs[start: start + 40]
        shape0 = (1, 7, 6, 3)
        rng2 = np.random.default_rng(start)
        graph = build_chain(reshaped(chunk, shape0, rng2), shape0, rng2)
        check_chain(graph, rng2, dsp=False)
        check_chain(graph, rng2, dsp=True)


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_random_chains_at_their_tightest_overlap(data):
    """Pointwise widening/narrowing, windows, then the head ops, in random chains."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = (1, data.draw(st.integers(3, 9)), data.draw(st.integers(3, 9)), data.draw(st.integers(1, 6)))
    specs = draw_specs(data, 10)
    tail = data.draw(st.sampled_from([[], [("global_avg_pool",)], [("global_avg_pool",), ("fully_connected", 5)],
                                      [("global_avg_pool",), ("fully_connected", 7), ("softmax",)]]))
    graph = build_chain(reshaped(specs, shape, rng) + tail, shape, rng)
    check_chain(graph, rng)


@pytest.mark.parametrize("mode", ["nearest", "linear"])
def test_every_resize_at_its_tightest_overlap(mode):
    """Every coordinate transform, shrinking and enlarging (to 1 pixel and back to 16), each
    output placed as far below its input as its row-by-row reads allow; the plain and the
    DSP builds."""
    rng = np.random.default_rng(len(mode))
    specs = [("resize", mode, coordinate, nearest, factor) for coordinate in RESIZE_COORDINATES
             for nearest, factor in zip(NEAREST_MODES * 2, (0.5, 2.0, 0.75, 1.5, 0.1, 16.0, 1.0, 0.6))]
    graph = build_chain(specs, (1, 9, 7, 3), rng)
    assert len(planner.overlap_rules(graph)) >= len(specs) // 2
    check_chain(graph, rng, dsp=False)
    check_chain(graph, rng, dsp=True)


def test_prelu_runs_in_place():
    """PRelu reads each element before it writes it: its output may sit on its input (the
    planner keeps one float32 element of distance, as for a lookup table)."""
    rng = np.random.default_rng(5)
    graph = build_chain([("pointwise_conv", 6), ("prelu",), ("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0), ("prelu",)],
                        (1, 5, 4, 3), rng)
    rules = planner.overlap_rules(graph)
    assert rules[("t1", "t2")] == rules[("t3", "t4")] == 4
    check_chain(graph, rng, dsp=False)


def test_widening_pointwise_needs_about_its_output_size():
    """8 -> 16 channels, four pixels at a time: the output plus four input pixels of slack."""
    from mcugen.ops.pointwise_conv import PIXELS_AT_ONCE

    rng = np.random.default_rng(0)
    graph = build_chain([("pointwise_conv", 16)], (1, 4, 4, 8), rng)
    rules = planner.overlap_rules(graph)
    slack = PIXELS_AT_ONCE * 8
    assert rules[("t0", "t1")].below == 16 * 16 - 16 * 8 + slack  # the input sits at the end of the output
    plan = check_chain(graph, rng)
    assert plan.arena_size - plan.buffers[-1].size <= 16 * 16 + slack  # the rest is the kernel's scratch


def test_depthwise_runs_in_place_with_one_row_of_slack():
    rng = np.random.default_rng(1)
    graph = build_chain([("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0)], (1, 14, 13, 4), rng)
    distance = planner.overlap_rules(graph)[("t0", "t1")]
    # a row and three pixels (windows inside the input are computed two at a time, the
    # second pixel written while the first's window is read): far less than a second copy
    assert distance == (13 + 3) * 4
    check_chain(graph, rng)


@pytest.mark.parametrize("dsp", [False, True])
def test_unpaired_depthwise_needs_a_pixel_less_and_runs_there(dsp):
    """unpaired (the planner's choice at the peak): one pixel at a time, so a row and
    two pixels of slack in place, and a pixel at stride 2; the real C runs at exactly that."""
    rng = np.random.default_rng(4)
    unpaired = Execution(unpaired=frozenset({0}))
    graph = build_chain([("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0)], (1, 14, 13, 4), rng)
    assert planner.overlap_rules(graph, unpaired)[("t0", "t1")] == (13 + 2) * 4
    check_chain(graph, rng, dsp=dsp, ex=unpaired)
    graph = build_chain([("depthwise_conv", 3, 2, 1, (0, 0, 1, 1), 0)], (1, 32, 32, 16), rng)
    assert planner.overlap_rules(graph, unpaired)[("t0", "t1")] == 16
    check_chain(graph, rng, dsp=dsp, ex=unpaired)


def test_the_plan_unpairs_the_depthwise_layer_at_its_peak():
    """A lone in-place depthwise layer is its own peak: the plan runs it one pixel at a
    time, which saves its pair's extra pixel (4 bytes here); the C is told so, and agrees
    at that plan. (The pair path happens to survive that distance too: a pair writes a
    channel block after reading it, and its second pass reads only the bytes it did not
    write. The declared orders do not count on that, so the flag must reach the C.)"""
    from mcugen.backend import codegen

    rng = np.random.default_rng(5)
    graph = build_chain([("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0)], (1, 14, 13, 4), rng)
    found = planner.plan(graph)
    assert found.unpaired == [0]
    assert found.arena_size == 14 * 13 * 4 + (13 + 2) * 4  # the tensor and a row and two pixels of slack
    source = "".join(codegen.generate(graph, found, "m", "chain").values())
    assert ".unpaired = 1" in source and ".unpaired = 0" not in source
    check_chain(graph, rng, ex=found.execution)


def test_small_depthwise_copies_its_input_then_overlaps_it_whole():
    """On small maps the kernel first copies the input into a padded scratch buffer, after
    which its output may take the input's place entirely."""
    rng = np.random.default_rng(3)
    graph = build_chain([("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0)], (1, 6, 5, 4), rng)
    copied = Execution(copies=frozenset({0}))  # what planner.decide_copies chooses when it is free
    assert planner.overlap_rules(graph, copied)[("t0", "t1")] == 0
    plan = check_chain(graph, rng, ex=copied)
    assert [b.size for b in plan.buffers if b.scratch] == [(6 + 2) * (5 + 2) * 4]


def test_strided_depthwise_is_nearly_in_place():
    rng = np.random.default_rng(2)
    graph = build_chain([("depthwise_conv", 3, 2, 1, (0, 0, 1, 1), 0)], (1, 32, 32, 16), rng)
    assert planner.overlap_rules(graph)[("t0", "t1")] == 2 * 16  # two pixels: a pair's second is written early
    check_chain(graph, rng)


# ---------------------------------------------------------------------------- streamed pairs


STREAM_WINDOWS = [(1, 1, (0, 0, 0, 0))] + [(k, s, pads) for k, s, pads in itertools.product(
    (3, 5), (1, 2, 3), ((0, 0, 0, 0), (1, 1, 1, 1), (0, 0, 1, 1), (2, 1, 0, 2)))]


@pytest.mark.parametrize("k,s,pads", STREAM_WINDOWS, ids=lambda v: str(v).replace(" ", ""))
def test_streamed_pointwise_into_depthwise_at_the_tightest_overlap(k, s, pads):
    """A pointwise conv run row by row inside the depthwise conv after it (a window of k
    rows), for every kernel, stride and padding: the depthwise output placed as far below
    the pointwise input as stream_access allows, and bit-exact with the reference (which
    computes the whole pointwise output). Three pairs in a chain, widening and narrowing,
    on maps of odd and even sizes; the plain and the DSP kernels on alternate cases."""
    rng = np.random.default_rng(k * 100 + s * 10 + sum(pads))
    shape = (1, 13, 11, 4)
    specs = []
    for mid in (12, 6, 8):
        specs += [("pointwise_conv", mid), ("depthwise_conv", k, s, 1, pads, 0)]
    graph = build_chain(reshaped(specs, shape, rng), shape, rng)
    streamed = set()
    for step, node in enumerate(graph.nodes[:-1]):
        if node.op == "pointwise_conv" and graph.nodes[step + 1].op == "depthwise_conv":
            assert can_stream(graph, step)
            streamed.add(step)
    assert len(streamed) >= 1  # (small maps grow back between pairs)
    ex = Execution(streamed=frozenset(streamed))
    plan = check_chain(graph, rng, dsp=bool(STREAM_WINDOWS.index((k, s, pads)) % 2), ex=ex)
    assert not [n for n in plan.offsets if n in {graph.nodes[i].output for i in streamed}]


def test_streaming_needs_a_row_window_not_the_whole_tensor():
    """VWW's first widening: 48x48x8 -> 48x48x16 -> depthwise 3x3/2. Streamed, the 36,864-byte
    tensor never exists: the step needs the input, the strided output below it and three
    rows of 48x16 (plus the pointwise kernel's four pixels of int16)."""
    rng = np.random.default_rng(5)
    graph = build_chain([("pointwise_conv", 16), ("depthwise_conv", 3, 2, 1, (0, 0, 1, 1), 0)], (1, 48, 48, 8), rng)
    layered = planner.lower_bound(planner.buffers(graph), planner.overlap_rules(graph))
    ex = Execution(streamed=frozenset({0}))
    bufs, rules = planner.buffers(graph, ex), planner.overlap_rules(graph, ex)
    assert [b.size for b in bufs if b.scratch] == [3 * 48 * 16 + 4 * 2 * 8]
    assert planner.lower_bound(bufs, rules) <= 48 * 48 * 8 + 3 * 48 * 16 + 4 * 2 * 8 + 2 * 48 * 16
    assert layered >= 48 * 48 * 16
    check_chain(graph, rng, ex=ex)


def c_loop_rows(node, mid_h, out_h):
    """The pointwise rows mcugen_pointwise_depthwise_s8 computes before each output row: its loop,
    line for line (mcugen_pointwise_depthwise_s8.c; change both together)."""
    (kh, _), (sh, _), pt = node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"][0]
    top = rows = 0
    computed = []
    for oy in range(out_h):
        want = oy * sh - pt
        first, last = max(want, 0), min(want + kh - 1, mid_h - 1)
        if first > top:
            drop = min(first - top, rows)
            rows, top = rows - drop, first
        new = list(range(top + rows, last + 1))
        rows += len(new)
        assert rows <= min(kh, mid_h)  # the window's size (stream_window_bytes)
        computed.append(new)
    return computed


@pytest.mark.parametrize("k,s,pads,h", [(k, s, pads, h) for k, s, pads, h in itertools.product(
    (1, 2, 3, 5), (1, 2, 3, 4), ((0, 0, 0, 0), (1, 1, 1, 1), (0, 0, 1, 1), (2, 1, 0, 2), (4, 0, 0, 0), (0, 0, 4, 0)),
    (1, 2, 5, 12)) if h + pads[0] + pads[2] >= k])
def test_stream_access_is_exactly_the_kernel_s_read_schedule(k, s, pads, h):
    """The C test above cannot see a declaration off by less than a step (the kernel reads a
    step's rows before writing its output row), so the declaration is checked exactly here
    against the loop: each step's first input read is the first row it adds, and a step that
    adds none reads nothing. Every pointwise row a window needs is computed exactly once."""
    rng = np.random.default_rng(0)
    shape = (1, h, 6, 3)
    graph = build_chain([("pointwise_conv", 5), ("depthwise_conv", k, s, 1, pads, 0)], shape, rng)
    pw, dw = graph.nodes
    mid, out = graph.shape("t1"), graph.shape("t2")
    declared = ops.depthwise_conv.stream_access(dw, pw, shape, mid, out).first_read // (6 * 3)
    computed = c_loop_rows(dw, mid[1], out[1])
    for step, rows in enumerate(computed):
        assert declared[step] == (rows[0] if rows else h), (step, rows)
    flat = [r for rows in computed for r in rows]
    needed = {r for oy in range(out[1]) for r in range(oy * s - pads[0], oy * s - pads[0] + k) if 0 <= r < h}
    assert sorted(flat) == flat and len(set(flat)) == len(flat) and needed <= set(flat)


def test_gcc_keeps_every_layer_of_a_narrow_chain():
    """A 1 -> 1 -> 2 channel pointwise chain on a 3x3 map: GCC 12 at -O2 deleted the second
    layer's call (its stores looked like NULL dereferences after IVOPTs) until the layers were
    marked noipa (mcugen_common.h). Found by test_random_chains_at_their_tightest_overlap."""
    rng = np.random.default_rng(0)
    graph = build_chain(reshaped([("pointwise_conv", 1), ("pointwise_conv", 2)], (1, 3, 3, 1), rng), (1, 3, 3, 1), rng)
    check_chain(graph, rng, dsp=False)
    planned = planner.plan(graph)  # the planner's own plan failed the same way
    x = rng.integers(-128, 128, size=(3, 3, 3, 1), dtype=np.int8)
    got = np.frombuffer(run_c(Compiled(graph, planned, graph=graph), "ov", x, COMPILERS[0]), np.int8)
    assert np.array_equal(got, reference.run_int8(graph, x).reshape(-1))
