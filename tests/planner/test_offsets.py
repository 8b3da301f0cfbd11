"""The offset assignment alone, as TFLM tests its greedy planner: buffers (size, first and
last use) and overlap rules in, offsets out; no graph, no op."""

import itertools

import pytest

from mcugen.planner.offsets import (
    ALIGN,
    Buffer,
    Overlap,
    align,
    assign,
    assign_directions,
    backward_pairs,
    chain_optimal,
    conflicts,
    direction,
    first_fit,
    lower_bound,
    resolve,
)


def test_buffers_live_at_different_steps_share_offset_zero():
    bufs = [Buffer("a", 100, 0, 1), Buffer("b", 200, 2, 3), Buffer("c", 50, 4, 4)]
    found = assign(bufs, {})
    assert found.offsets == {"a": 0, "b": 0, "c": 0} and found.arena_size == 200


def test_buffers_live_together_never_share_a_byte():
    bufs = [Buffer("a", 100, 0, 2), Buffer("b", 60, 1, 3), Buffer("c", 40, 2, 2)]
    found = assign(bufs, {})
    assert conflicts(bufs, found.offsets) == []
    assert found.arena_size == 200 == lower_bound(bufs)  # all three live at step 2


def test_offsets_are_aligned():
    bufs = [Buffer("a", 3, 0, 1), Buffer("b", 5, 0, 1), Buffer("c", 7, 1, 1)]
    found = assign(bufs, {})
    assert all(offset % ALIGN == 0 for offset in found.offsets.values())
    assert found.arena_size == align(found.arena_size)


def test_an_overlap_rule_lets_the_output_run_into_its_input():
    """in (1000 bytes, read at step 1) -> out (1000 bytes, written at step 1): with a rule of
    distance 16, out may start 16 bytes below in: 1016 bytes, not 2000."""
    bufs = [Buffer("in", 1000, 0, 1), Buffer("out", 1000, 1, 2)]
    found = assign(bufs, {("in", "out"): 16})
    assert found.arena_size == 1016
    assert found.offsets["in"] - found.offsets["out"] == 16
    assert assign(bufs, {}).arena_size == 2000


def test_the_output_may_not_start_above_its_input_under_a_rule():
    """The kernel writes front to back: the output starting above the input would
    overwrite input bytes not read yet. Only 'out below in by at least the distance' or
    'apart' are valid."""
    a, b = Buffer("in", 100, 0, 1), Buffer("out", 100, 1, 1)
    rules = {("in", "out"): 8}
    assert conflicts([a, b], {"in": 0, "out": 4}, rules)  # above: corrupts
    assert conflicts([a, b], {"in": 8, "out": 4}, rules)  # below, but by less than 8
    assert not conflicts([a, b], {"in": 8, "out": 0}, rules)
    assert not conflicts([a, b], {"in": 100, "out": 0}, rules)


def test_first_fit_fills_a_gap_left_below():
    bufs = [Buffer("big", 100, 0, 3), Buffer("early", 40, 0, 0), Buffer("late", 40, 2, 3)]
    offsets = first_fit(bufs, {}, key=lambda b: (-b.size, b.name))
    assert offsets["big"] == 0 and offsets["early"] == 100 and offsets["late"] == 100


def _brute_force(bufs, rules, limit):
    """The smallest arena over every aligned placement up to `limit` (tiny problems only)."""
    best = None
    for offsets in itertools.product(range(0, limit, ALIGN), repeat=len(bufs)):
        placed = dict(zip((b.name for b in bufs), offsets))
        if conflicts(bufs, placed, rules):
            continue
        size = align(max(placed[b.name] + b.size for b in bufs))
        best = size if best is None else min(best, size)
    return best


@pytest.mark.parametrize("sizes,distances", [
    ([8, 16, 8], [4, 0]), ([12, 12, 12, 12], [4, 8, 0]), ([20, 8, 20], [0, 0]), ([8, 24, 16], [8, 4]),
])
def test_the_chain_solver_is_optimal_on_small_chains(sizes, distances):
    """A chain (each buffer read by the next step only, as in MobileNet v1) solved exactly:
    the same arena as trying every placement."""
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    rules = {(f"t{i}", f"t{i + 1}"): d for i, d in enumerate(distances) if d}
    exact = chain_optimal(bufs, rules, sum(sizes))
    assert exact is not None and conflicts(bufs, exact, rules) == []
    assert align(max(exact[b.name] + b.size for b in bufs)) == _brute_force(bufs, rules, sum(sizes))


def test_assign_reports_every_strategy_and_keeps_the_smallest():
    bufs = [Buffer("a", 64, 0, 1), Buffer("b", 32, 1, 2), Buffer("c", 64, 2, 3), Buffer("d", 16, 0, 3)]
    found = assign(bufs, {})
    assert "no_overlap" in found.sizes and found.arena_size == min(found.sizes.values())
    assert found.sizes[found.strategy] == found.arena_size
    assert found.arena_size >= lower_bound(bufs)


# ---------------------------------------------------------------------------- from above


def test_an_output_may_overlap_its_input_from_above_when_its_kernel_runs_back_to_front():
    """in (100 bytes) -> out (120 bytes), a kernel that can run back to front with its
    output's end at least 8 bytes above the input's end: out may start at in + 100 + 8 - 120
    = in - 12 or higher (from above), never lower while overlapping."""
    a, b = Buffer("in", 100, 0, 1), Buffer("out", 120, 1, 1)
    rules = {("in", "out"): Overlap(above=8)}
    assert not conflicts([a, b], {"in": 12, "out": 0}, rules)  # its end 8 above in's end
    assert conflicts([a, b], {"in": 16, "out": 0}, rules)  # its end only 4 above: corrupts
    assert not conflicts([a, b], {"in": 120, "out": 0}, rules)  # apart
    assert direction(a, b, {"in": 12, "out": 0}, rules[("in", "out")]) == "backward"
    both = {("in", "out"): Overlap(below=20, above=8)}  # either way: only the offsets between are out
    assert not conflicts([a, b], {"in": 20, "out": 0}, both) and not conflicts([a, b], {"in": 0, "out": 0}, both)
    assert conflicts([a, b], {"in": 16, "out": 0}, both) and conflicts([a, b], {"in": 19, "out": 0}, both)
    assert direction(a, b, {"in": 20, "out": 0}, both[("in", "out")]) == "forward"  # both fit: the default
    assert resolve([a, b], both, {"in": 12, "out": 0}) == {("in", "out"): Overlap(above=8)}
    assert resolve([a, b], both, {"in": 20, "out": 0}) == {("in", "out"): 20}
    assert lower_bound([a, b], rules) == 120 == lower_bound([a, b], both)  # the output over the whole input
    assert lower_bound([a, b], {("in", "out"): Overlap(below=30, above=40)}) == 130  # the better direction


@pytest.mark.parametrize("sizes,rules", [
    ([8, 16, 8], [Overlap(4, 4), Overlap(None, 0)]),
    ([12, 20, 20, 8], [Overlap(None, 12), Overlap(4, 8), 0]),
    ([16, 24, 8], [Overlap(12, 12), Overlap(0, 0)]),
    ([8, 12, 16, 12], [Overlap(None, 8), Overlap(8, None), Overlap(4, 4)]),
])
def test_the_chain_solver_is_optimal_with_both_directions(sizes, rules):
    """Chains whose pairs overlap from below, from above or either way: the exact solver's
    arena is the best of every placement."""
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    rules = {(f"t{i}", f"t{i + 1}"): r for i, r in enumerate(rules)}
    exact = chain_optimal(bufs, rules, sum(sizes))
    assert exact is not None and conflicts(bufs, exact, rules) == []
    assert align(max(exact[b.name] + b.size for b in bufs)) == _brute_force(bufs, rules, sum(sizes))


def v2_start(rules_for):
    """MobileNet v2's first layers, scaled down: the image (27) -> conv (37, wider) ->
    depthwise in place (37, 1 of slack) -> project (18), with rules from rules_for(i)."""
    sizes = [28, 36, 36, 20]
    bufs = [Buffer(f"t{i}", s, i, i + 1) for i, s in enumerate(sizes)]
    return bufs, {(f"t{i}", f"t{i + 1}"): rules_for(i) for i in range(3)}


def test_overlap_from_above_lets_a_chain_reach_its_bound():
    """Front to back only, each output below its input: the image at the top pushes the
    wider conv output down and the in-place depthwise below that, above the bound. With the
    conv and the project run back to front (as in v2: the conv's output on top of the
    image, the project's at the top of the depthwise output), the chain fits its bound, and
    assign_directions runs just those two backward (the depthwise has no backward kernel)."""
    below = {0: 12, 1: 4, 2: 4}
    bufs, forward = v2_start(lambda i: below[i])
    bufs, both = v2_start(lambda i: Overlap(below[i], below[i] if i != 1 else None))
    assert assign(bufs, forward).arena_size > lower_bound(bufs, both) == 40
    found = assign_directions(bufs, both)
    assert found.arena_size == 40 and conflicts(bufs, found.offsets, both) == []
    assert backward_pairs(bufs, both, found.offsets) == [("t0", "t1"), ("t2", "t3")]


def test_no_layer_runs_back_to_front_when_front_to_back_reaches_the_bound():
    bufs = [Buffer("a", 40, 0, 1), Buffer("b", 40, 1, 2), Buffer("c", 20, 2, 3)]
    rules = {("a", "b"): Overlap(4, 4), ("b", "c"): Overlap(0, 0)}
    found = assign_directions(bufs, rules)
    assert found.arena_size == lower_bound(bufs, rules) == 44
    assert backward_pairs(bufs, rules, found.offsets) == []
