"""The planner: no live byte is overwritten before its last read, on random lifetimes and
overlap rules; the exact chain solver is optimal; the lower bound bounds; schedules."""

import itertools

import numpy as np
from helpers import DIGITS, VWW
from helpers.planning import corrupts
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen import pipeline, planner
from mcugen.ir import Graph, Node, Tensor
from mcugen.planner import Buffer
from mcugen.planner import offsets as offsets_mod
from mcugen.planner.decide import topological_orders
from mcugen.planner.execution import can_stream


@st.composite
def problems(draw, max_buffers=25):
    """Random lifetimes, and random overlap permissions between a buffer and one born
    at the step where it dies (a layer's input and output): at most one pair per step,
    as a layer has one output and its input dies there at most once."""
    n = draw(st.integers(1, max_buffers))
    bufs = []
    for i in range(n):
        first = draw(st.integers(0, 20))
        bufs.append(Buffer(f"t{i}", draw(st.integers(0, 5000)), first, first + draw(st.integers(0, 8))))
    rules, steps_used, used = {}, set(), set()
    for a in bufs:
        for b in bufs:
            if (a is not b and a.last == b.first and b.size and a.last not in steps_used
                    and not {a.name, b.name} & used and draw(st.booleans())):
                rules[(a.name, b.name)] = planner.ALIGN * draw(st.integers(0, (b.size - 1) // planner.ALIGN))
                steps_used.add(a.last)
                used |= {a.name, b.name}
    return bufs, rules


@settings(max_examples=200, deadline=None)
@given(problems())
def test_every_strategy_respects_the_rules(problem):
    bufs, rules = problem
    for key in offsets_mod.ORDERINGS.values():
        offsets = offsets_mod.first_fit(bufs, rules, key)
        assert not corrupts(bufs, offsets, rules)
        assert all(o % planner.ALIGN == 0 and o >= 0 for o in offsets.values())
    offsets = planner.assign(bufs, rules).offsets
    assert not corrupts(bufs, offsets, rules)
    arena = max(offsets[b.name] + b.size for b in bufs)
    assert arena >= planner.lower_bound(bufs, rules)
    assert planner.lower_bound(bufs, rules) <= planner.lower_bound(bufs)


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_chain_solver_is_optimal_on_small_chains(data):
    """Brute force over every aligned offset: nothing beats the chain solver."""
    n = data.draw(st.integers(2, 3))
    sizes = [data.draw(st.integers(1, 7)) * 4 for _ in range(n)]
    bufs = [Buffer(f"t{i}", sizes[i], max(0, i - 1), i) for i in range(n)]  # t_i is read at step i
    rules = {}
    for a, b in zip(bufs, bufs[1:]):
        if data.draw(st.booleans()):
            rules[(a.name, b.name)] = 4 * data.draw(st.integers(0, b.size // 4 - 1)) if b.size > 4 else 0
    exact = offsets_mod.chain_optimal(bufs, rules, sum(sizes))
    assert exact is not None and not corrupts(bufs, exact, rules)
    best_exact = planner.align(max(exact[b.name] + b.size for b in bufs))
    total = sum(sizes)
    best = min(max(o + s for o, s in zip(offs, sizes))
               for offs in itertools.product(range(0, total, 4), repeat=n)
               if not corrupts(bufs, dict(zip((b.name for b in bufs), offs)), rules))
    assert best_exact == planner.align(best)


def test_conflicts_detects_an_overlap():
    bufs = [Buffer("a", 10, 0, 2), Buffer("b", 10, 1, 3)]
    assert planner.conflicts(bufs, {"a": 0, "b": 8}) == [("a", "b")]
    assert planner.conflicts(bufs, {"a": 0, "b": 12}) == []


def test_lower_bound_is_the_largest_live_sum():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 30, 1, 2), Buffer("c", 50, 2, 3), Buffer("d", 7, 3, 3)]
    assert planner.lower_bound(bufs) == max(100 + 30, 30 + 50, 50 + 7)
    # b may overlap a from 20 bytes below: step 1 then needs max(100 + 20, 30) bytes.
    assert planner.lower_bound(bufs, {("a", "b"): 20}) == max(100 + 20, 30 + 50, 50 + 7)


def chain(sizes):
    """A chain graph t0 -> t1 -> ... of fully-connected nodes (which never overlap)."""
    tensors = {f"t{i}": Tensor(f"t{i}", (1, s)) for i, s in enumerate(sizes)}
    nodes = [Node(f"n{i}", "fully_connected", [f"t{i}"], [f"t{i + 1}"],
                  {"weight": np.zeros((sizes[i + 1], sizes[i]))}) for i in range(len(sizes) - 1)]
    return Graph(tensors, nodes, "t0", f"t{len(sizes) - 1}")


def test_lifetimes_of_a_chain():
    bufs = {b.name: b for b in planner.buffers(chain([10, 20, 30, 40]))}
    assert (bufs["t0"].first, bufs["t0"].last) == (0, 0)
    assert (bufs["t1"].first, bufs["t1"].last) == (0, 1)
    assert (bufs["t3"].first, bufs["t3"].last) == (2, 3)  # the output outlives the last layer


def test_chain_reuses_memory():
    plan = planner.plan(chain([1000, 10, 1000, 10, 1000]))
    assert plan.overlaps == {}  # fully-connected layers read all input for every output
    assert plan.lower_bound == 1000 + 10  # raw bytes; the arena rounds up to ALIGN
    assert plan.arena_size == 1012  # the three 1000-byte tensors share one region


def test_vww_arena_beats_tflm_and_the_non_overlapping_bound():
    """Layer by layer (--no-stream): within 64 bytes of its lower bound."""
    graph, _ = pipeline.front(VWW)
    plan = planner.plan(graph, stream=False)
    assert planner.conflicts(plan.buffers, plan.offsets, plan.overlaps) == []
    no_overlap_bound = planner.lower_bound([b for b in plan.buffers if not b.scratch])
    assert no_overlap_bound == 48 * 48 * 8 + 48 * 48 * 16  # pw 48x48x8 -> 48x48x16, both live
    assert plan.arena_size <= 37_500  # TFLM: 104,160 bytes of arena for this network
    assert plan.lower_bound <= plan.arena_size <= plan.lower_bound + 64
    assert plan.baseline_bytes > 1.7 * plan.arena_size  # greedy-by-size without overlap
    assert plan.streamed == []


def test_vww_streamed_arena_approaches_the_input_image():
    """By default the widening pointwise conv that sets the layer-by-layer peak (layer 2,
    48x48x16) runs row by row inside the strided depthwise conv after it, and only that one:
    the peak moves to the first conv, whose input is the 27,648-byte image itself."""
    graph, _ = pipeline.front(VWW)
    plan = planner.plan(graph)
    assert plan.streamed == [2] and plan.execution.streamed == {2}
    assert all("streamed" not in n.attrs for n in graph.nodes)  # the choice is the plan's, not the graph's
    assert planner.conflicts(plan.buffers, plan.offsets, plan.overlaps) == []
    assert not corrupts(plan.buffers, plan.offsets, plan.overlaps)  # the independent check
    image = 96 * 96 * 3
    assert plan.peak_step == 0 and image < plan.lower_bound < image + 512
    # 27,908 B, from 36,976 layer by layer: the first conv runs back to front, its output on
    # top of the image (260 B above its end), and the chain meets its bound
    assert plan.arena_size == plan.lower_bound and 0 in plan.backward
    assert 48 * 48 * 16 not in [b.size for b in plan.buffers]  # the streamed tensor has no buffer


def test_streams_only_where_they_lower_the_peak():
    """A pair away from the peak stays layer by layer: streaming costs instructions."""
    def bottlenecks():  # expand x6, depthwise stride 2, project; expand x2, depthwise, project
        shapes = [(16, 8), (16, 48), (8, 48), (8, 8), (8, 16), (8, 16), (8, 8)]
        tensors = {f"t{i}": Tensor(f"t{i}", (1, hw, hw, c)) for i, (hw, c) in enumerate(shapes)}
        nodes = []
        for i, stride in enumerate([None, 2, None, None, 1, None]):
            cin, cout = shapes[i][1], shapes[i + 1][1]
            if stride is None:
                nodes.append(Node(f"n{i}", "pointwise_conv", [f"t{i}"], [f"t{i + 1}"], {"weight": np.zeros((cout, cin))}))
            else:
                nodes.append(Node(f"n{i}", "depthwise_conv", [f"t{i}"], [f"t{i + 1}"],
                                  dict(kernel=(3, 3), strides=(stride, stride), dilations=(1, 1), pads=(1, 1, 1, 1),
                                       weight=np.zeros((3, 3, cin)))))
        return Graph(tensors, nodes, "t0", "t6")

    graph = bottlenecks()
    # the streamed plan (before the fused blocks, which come last: test_fused.py)
    plan = next(p for p in planner.cheapest_first(graph, planner.INT8, True, 0) if p.streamed and not p.fused)
    layered = planner.plan(bottlenecks(), stream=False)
    assert can_stream(graph, 3)  # the second expansion could stream, but gains nothing
    assert plan.streamed == [0] and plan.arena_size < layered.arena_size
    assert plan.lower_bound < layered.lower_bound
    for step in plan.streamed:  # un-streaming any one of them raises the bound again
        ex = planner.Execution(frozenset(plan.streamed) - {step}, frozenset(plan.copies))
        assert planner.lower_bound(planner.buffers(graph, ex), planner.overlap_rules(graph, ex)) > plan.lower_bound


def test_digits_gains_too():
    graph, _ = pipeline.front(DIGITS)
    plan = planner.plan(graph)
    assert plan.arena_size < 0.75 * plan.baseline_bytes
    assert plan.arena_size < planner.lower_bound(plan.buffers)  # below the no-overlap bound


def v2_shaped(blocks=3, hw=12, c=8, t=6):
    """MobileNet v2-like: expand 1x1 (x t), depthwise 3x3, project 1x1, residual add."""
    from mcugen.ops import common  # noqa: F401  (the nodes below use real kernel kinds)

    tensors = {"x0": Tensor("x0", (1, hw, hw, c))}
    nodes = []
    x = "x0"
    for b in range(blocks):
        e, d, p, y = f"e{b}", f"d{b}", f"p{b}", f"x{b + 1}"
        tensors[e] = Tensor(e, (1, hw, hw, c * t))
        tensors[d] = Tensor(d, (1, hw, hw, c * t))
        tensors[p] = Tensor(p, (1, hw, hw, c))
        tensors[y] = Tensor(y, (1, hw, hw, c))
        window = dict(kernel=(3, 3), strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1))
        nodes += [Node(e, "pointwise_conv", [x], [e], {"weight": np.zeros((c * t, c))}),
                  Node(d, "depthwise_conv", [e], [d], dict(window, weight=np.zeros((3, 3, c * t)))),
                  Node(p, "pointwise_conv", [d], [p], {"weight": np.zeros((c, c * t))}),
                  Node(y, "add", [p, x], [y])]  # two inputs: never overlapped
        x = y
    return Graph(tensors, nodes, "x0", x)


def test_v2_shaped_graph_gains_with_residuals_live():
    graph = v2_shaped()
    plan = planner.plan(graph)
    assert plan.strategy != "chain_exact"  # the skip tensor keeps three buffers live
    assert not corrupts(plan.buffers, plan.offsets, plan.overlaps)
    # The expanded depthwise runs nearly in place: far below the no-overlap plan.
    assert plan.arena_size < 0.7 * plan.baseline_bytes
    assert plan.lower_bound <= plan.arena_size


def test_schedule_picks_the_order_with_the_smallest_peak():
    """x feeds a big branch (a -> a2) and a small one (b); they join. Running the small
    branch while the big intermediate is live costs more than running it first."""
    tensors = {n: Tensor(n, (1, s)) for n, s in [("x", 100), ("a", 1000), ("a2", 10), ("b", 300), ("y", 10)]}
    fc = lambda name, src, dst: Node(name, "fully_connected", [src], [dst],  # noqa: E731
                                     {"weight": np.zeros((tensors[dst].size, tensors[src].size))})
    nodes = [fc("a", "x", "a"), fc("b", "x", "b"), fc("a2", "a", "a2"), Node("y", "add", ["a2", "b"], ["y"])]
    graph = Graph(tensors, nodes, "x", "y")
    bounds = {}
    for order in topological_orders(graph):
        bounds[tuple(n.name for n in order)] = planner.lower_bound(planner.buffers(Graph(tensors, order, "x", "y")))
    best = planner.schedule(graph)
    assert len(bounds) == 3
    assert planner.lower_bound(planner.buffers(Graph(tensors, best, "x", "y"))) == min(bounds.values())
    assert min(bounds.values()) < bounds[("a", "b", "a2", "y")]
    assert graph.nodes is nodes  # schedule() does not reorder the graph itself
