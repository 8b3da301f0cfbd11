"""The planner's choices, each returned as a value: the execution order (schedule), which
layers stream into the next one (decide_streams), which copy their input into padded
scratch (decide_copies), the row pipeline's depth (decide_pipeline) and which runs of
layers run as fused segments (decide_fusions). None of them changes the graph."""

from __future__ import annotations

import dataclasses
from itertools import islice

from mcugen import ops
from mcugen.ir import Graph, Node
from mcugen.planner import rows
from mcugen.planner.execution import (
    LAYER_BY_LAYER,
    Execution,
    buffers,
    can_stream,
    overlap_rules,
    scratch_bytes,
)
from mcugen.planner.offsets import align, lower_bound, shared_bytes, step_needs

MAX_ORDERS = 2000  # execution orders tried when branches can run in several orders


def bound(graph: Graph, ex: Execution = LAYER_BY_LAYER) -> int:
    """The lower bound of an execution: the most bytes any one step needs."""
    return lower_bound(buffers(graph, ex), overlap_rules(graph, ex))


def topological_orders(graph: Graph):
    """Every execution order of the nodes that respects data dependencies (lazily)."""
    producers = {o: n for n in graph.nodes for o in n.outputs}
    deps = {id(n): {id(producers[i]) for i in n.inputs if i in producers} for n in graph.nodes}

    def walk(done: list[Node], left: list[Node]):
        if not left:
            yield list(done)
            return
        ready_ids = {id(n) for n in done}
        for node in left:
            if deps[id(node)] <= ready_ids:
                done.append(node)
                yield from walk(done, [n for n in left if n is not node])
                done.pop()

    return walk([], list(graph.nodes))


def schedule(graph: Graph) -> list[Node]:
    """The execution order with the smallest lower bound (the graph's order on ties)."""
    best, best_bound = graph.nodes, None
    for order in islice(topological_orders(graph), MAX_ORDERS):
        trial = bound(dataclasses.replace(graph, nodes=order))  # a view: same tensors, other order
        if best_bound is None or trial < best_bound:
            best, best_bound = order, trial
    return best


def decide_pipeline(graph: Graph) -> int:
    """The row pipeline's depth (--row-input) with the smallest lower bound, the shallowest
    on ties (each stage costs a kernel call and a memmove per row): every depth is tried.
    0: the first layer cannot run on rows."""
    best, best_bound = 0, None
    for depth in range(1, rows.max_depth(graph) + 1):
        trial = bound(graph, Execution(pipeline=depth))
        if best_bound is None or trial < best_bound:
            best, best_bound = depth, trial
    return best


def decide_streams(graph: Graph, copies: frozenset[int] = frozenset(), pipeline: int = 0) -> frozenset[int]:
    """The layers to stream into their consumer (MCUNetV2's patch-based inference, without
    recomputation: a window of rows) where, and only where, that lowers the lower bound:
    the layers that set the peak, one at a time until no candidate helps. Each streamed
    layer costs a few instructions per row and keeps its output from ever existing whole.
    `copies`: the layer-by-layer plan's copies, in place while streams are weighed."""
    candidates = [step for step in range(len(graph.nodes)) if can_stream(graph, step, Execution(pipeline=pipeline))]
    streamed: frozenset[int] = frozenset()
    best_bound = bound(graph, Execution(streamed, copies, pipeline))
    while True:
        best = None
        for step in candidates:
            # A layer is a producer or a consumer, not both: no chains of streams.
            if {step - 1, step, step + 1} & streamed:
                continue
            trial = bound(graph, Execution(streamed | {step}, copies, pipeline))
            if trial < best_bound and (best is None or trial < best[0]):
                best = (trial, step)
        if best is None:
            return streamed
        best_bound = best[0]
        streamed = streamed | {best[1]}


def decide_copies(graph: Graph, streamed: frozenset[int] = frozenset(), pipeline: int = 0,
                  fused: tuple[tuple[int, int], ...] = ()) -> frozenset[int]:
    """The layers whose kernel first copies its input into scratch (ops' copy_candidate:
    the small depthwise layers), where that is free: where the step's bytes, with the copy
    (which frees the whole input for the output) and its scratch, stay within the lower
    bound without any copies."""
    ex = Execution(streamed, pipeline=pipeline, fused=fused)
    bufs, rules = buffers(graph, ex), overlap_rules(graph, ex)
    needs = step_needs(bufs, rules)
    most = max(needs)
    copies = set()
    for step, node in enumerate(graph.nodes):
        if step in streamed or step < pipeline or ex.producer(graph, step) is not None or ex.segment(step):
            continue  # a streamed pair's consumer (or a fused stage) reads a row window, not a whole input
        copy = ops.get(node.op).copy_candidate(node, *graph.in_shapes(node), graph.shape(node.output))
        if not copy:
            continue
        src, dst = graph.tensors[node.input], graph.tensors[node.output]
        pair = src.size + dst.size
        if (src.name, dst.name) in rules:
            pair = shared_bytes(src.size, dst.size, rules[(src.name, dst.name)])
        with_copy = needs[step] - pair - scratch_bytes(graph, node) + max(src.size, dst.size) + align(copy)
        if with_copy <= most:
            copies.add(step)
    return frozenset(copies)


def without(ex: Execution, segment: tuple[int, int]) -> Execution:
    """The execution with a fused segment added: its layers neither stream (as producer or
    consumer), copy nor run unpaired (they run row by row, on windows)."""
    a, b = segment
    inside = set(range(a, b))
    streamed = frozenset(s for s in ex.streamed if not {s, s + 1} & inside)
    return dataclasses.replace(ex, streamed=streamed, copies=ex.copies - inside, unpaired=ex.unpaired - inside,
                               fused=tuple(sorted((*ex.fused, segment))))


def decide_fusions(graph: Graph, ex: Execution) -> Execution:
    """The execution with fused segments (planner/rows.py) where, and only where, they lower
    the lower bound. One at a time: a segment covering a step at the peak (only those change
    it), the one that lowers the steps' needs most (sorted from the largest, so that of
    several steps tied at the peak, v2's identical blocks, each is fused in turn; the
    shortest on ties: each stage costs a kernel call per row), until none helps; then the
    segments the bound does not need are given up again. Each segment keeps its
    whole-tensor output and drops the tensors inside it: an inverted-residual block's
    expansion never exists whole."""
    candidates = rows.segments(graph, ex.pipeline)
    base = ex

    def key(trial_ex: Execution) -> list[int]:
        return sorted(step_needs(buffers(graph, trial_ex), overlap_rules(graph, trial_ex)), reverse=True)

    best_key = key(ex)
    while True:
        peak = best_key[0]
        needs = step_needs(buffers(graph, ex), overlap_rules(graph, ex))
        peaks = {step for step, need in enumerate(needs) if need == peak}
        best = None
        for a, b in candidates:
            if not peaks & set(range(a, b)) or any(a < fb and fa < b for fa, fb in ex.fused):
                continue
            trial_ex = without(ex, (a, b))
            trial = (key(trial_ex), b - a)
            if trial[0] < best_key and (best is None or trial < best[0]):
                best = (trial, trial_ex)
        if best is None:
            break
        best_key, ex = best[0][0], best[1]
    for segment in list(ex.fused):  # keep only the segments the bound needs
        fused = tuple(f for f in ex.fused if f != segment)
        rebuilt = base
        for f in fused:
            rebuilt = without(rebuilt, f)
        if bound(graph, rebuilt) <= best_key[0]:
            ex = rebuilt
    return ex
