"""The planner: no two tensors live at the same time share a byte; the arena and lower bound."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from helpers import VWW
from mcugen import pipeline, planner
from mcugen.ir import Graph, Node, Tensor
from mcugen.planner import Buffer


@st.composite
def buffer_sets(draw):
    n = draw(st.integers(1, 25))
    bufs = []
    for i in range(n):
        first = draw(st.integers(0, 20))
        bufs.append(Buffer(f"t{i}", draw(st.integers(0, 5000)), first, first + draw(st.integers(0, 8))))
    return bufs


def brute_force_overlaps(bufs, offsets):
    """Byte-level check, independent of planner.conflicts: paint every step's live bytes."""
    steps = max(b.last for b in bufs) + 1
    size = max(offsets[b.name] + b.size for b in bufs)
    for step in range(steps):
        owner = np.zeros(size, dtype=np.int32)
        for b in bufs:
            if b.first <= step <= b.last and b.size:
                region = owner[offsets[b.name]: offsets[b.name] + b.size]
                if region.any():
                    return True
                region[:] = 1
    return False


@settings(max_examples=200, deadline=None)
@given(buffer_sets())
def test_greedy_plan_never_overlaps_live_tensors(bufs):
    offsets = planner.greedy_by_size(bufs)
    assert not brute_force_overlaps(bufs, offsets)
    assert planner.conflicts(bufs, offsets) == []
    assert all(o % planner.ALIGN == 0 for o in offsets.values())
    arena = max(offsets[b.name] + b.size for b in bufs)
    assert arena >= planner.lower_bound(bufs)


def test_conflicts_detects_an_overlap():
    bufs = [Buffer("a", 10, 0, 2), Buffer("b", 10, 1, 3)]
    assert planner.conflicts(bufs, {"a": 0, "b": 8}) == [("a", "b")]
    assert planner.conflicts(bufs, {"a": 0, "b": 12}) == []


def test_lower_bound_is_the_largest_live_sum():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 30, 1, 2), Buffer("c", 50, 2, 3), Buffer("d", 7, 3, 3)]
    assert planner.lower_bound(bufs) == max(100 + 30, 30 + 50, 50 + 7)


def chain(sizes):
    """A chain graph t0 -> t1 -> ... with the given tensor sizes (as 1-D shapes)."""
    tensors = {f"t{i}": Tensor(f"t{i}", (1, s)) for i, s in enumerate(sizes)}
    nodes = [Node(f"n{i}", "fully_connected", [f"t{i}"], [f"t{i + 1}"]) for i in range(len(sizes) - 1)]
    return Graph(tensors, nodes, "t0", f"t{len(sizes) - 1}")


def test_lifetimes_of_a_chain():
    bufs = {b.name: b for b in planner.buffers(chain([10, 20, 30, 40]))}
    assert (bufs["t0"].first, bufs["t0"].last) == (0, 0)
    assert (bufs["t1"].first, bufs["t1"].last) == (0, 1)
    assert (bufs["t3"].first, bufs["t3"].last) == (2, 3)  # the output outlives the last layer


def test_chain_reuses_memory():
    plan = planner.plan(chain([1000, 10, 1000, 10, 1000]))
    assert plan.lower_bound == 1000 + 10  # raw bytes; the arena rounds up to ALIGN
    assert plan.arena_size == 1012  # the three 1000-byte tensors share one region


def test_vww_plan_is_valid_and_near_its_bound():
    graph, _ = pipeline.front(VWW)
    plan = planner.plan(graph)
    assert planner.conflicts(plan.buffers, plan.offsets) == []
    # VWW's largest layer (pw 48x48x8 -> 48x48x16) needs 18,432 + 36,864 bytes at once.
    assert plan.lower_bound == 48 * 48 * 8 + 48 * 48 * 16
    assert plan.lower_bound <= plan.arena_size <= 1.25 * plan.lower_bound
