"""Memory planner: every activation gets a fixed offset in one arena.

The planner works in three layers, each usable alone:
- offsets.py: buffers (size, first and last use) and overlap rules in, offsets out;
  it knows nothing of graphs (as TFLM's GreedyMemoryPlanner).
- execution.py: a graph and an Execution (which layers stream, which copy) -> buffers and
  overlap rules, from each op's declared loop order.
- decide.py: the choices (execution order, streams, copies), each returned as a value.

plan() puts them together and returns a Plan; nothing is written into the graph. Streaming
(int8 only, on unless stream=False) is kept only where it lowers the arena. Which way each
layer whose kernel can run either way does run (front to back, or back to front so that
its output overlaps its input from above) follows from the offsets found: Plan.backward.
The layer at the peak runs one output pixel at a time where its kernel's pairs would cost
bytes there (unpair_peak: Plan.unpaired).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np

from mcugen import ops
from mcugen.ir import Graph
from mcugen.planner import rows  # noqa: F401
from mcugen.planner.budget import check_limit, parse_bytes  # noqa: F401  the package's interface
from mcugen.planner.decide import decide_copies, decide_fusions, decide_pipeline, decide_streams, schedule  # noqa: F401
from mcugen.planner.execution import (  # noqa: F401
    LAYER_BY_LAYER,
    Execution,
    buffers,
    overlap_rules,
    scratch_name,
)
from mcugen.planner.offsets import (  # noqa: F401
    ALIGN,
    Buffer,
    Overlap,
    align,
    assign,
    assign_directions,
    conflicts,
    lower_bound,
    resolve,
    step_needs,
)
from mcugen.precision import INT8, Precision


@dataclass
class Plan:
    offsets: dict[str, int]
    arena_size: int
    lower_bound: int  # the most bytes live at one step under the overlap rules
    peak_step: int  # the step that sets the lower bound
    buffers: list[Buffer]
    # (input, output) -> how the output overlaps the input, in the direction its kernel runs:
    # an int, the distance below (front to back), or Overlap(above=...) (back to front)
    overlaps: dict[tuple[str, str], int | Overlap]
    strategy: str
    baseline_bytes: int = 0  # TFLM's greedy-by-size with no overlap, for comparison
    candidates: dict[str, int] = field(default_factory=dict)  # arena size found by each strategy
    precision: Precision = INT8
    streamed: list[int] = field(default_factory=list)  # layers run inside the next one (decide_streams)
    copies: list[int] = field(default_factory=list)  # layers that copy their input first (decide_copies)
    backward: list[int] = field(default_factory=list)  # layers run back to front (their output over their input from above)
    pipeline: int = 0  # --row-input: layers 0 .. pipeline-1 run as one row pipeline (planner/rows.py)
    unpaired: list[int] = field(default_factory=list)  # layers run one output pixel at a time (unpair_peak)
    fused: list[tuple[int, int]] = field(default_factory=list)  # (a, b): layers a .. b-1 as one row step (decide_fusions)

    @property
    def elem_bytes(self) -> int:
        return self.precision.elem_bytes

    @property
    def execution(self) -> Execution:
        return Execution(frozenset(self.streamed), frozenset(self.copies), self.pipeline, frozenset(self.unpaired),
                         tuple(self.fused))


def plan(graph: Graph, precision: Precision = INT8, stream: bool = True, pipeline: int = 0,
         limit: int | None = None) -> Plan:
    """Offsets for the graph in its order. stream: let decide_streams run producers inside
    their consumers. pipeline: run layers 0 .. pipeline-1 as a row pipeline (--row-input,
    decide_pipeline; int8 only). Only kernels that take scratch (int8) copy or stream.
    limit (--ram-limit, bytes): the cheapest execution whose arena fits, of those below;
    without one, or when none fits, the smallest arena (the last)."""
    chosen = None
    for chosen in cheapest_first(graph, precision, stream, pipeline):
        if limit is not None and chosen.arena_size <= limit:
            break
    return chosen


def cheapest_first(graph: Graph, precision: Precision, stream: bool, pipeline: int):
    """The executions in the order of their cost in instructions, each with a smaller arena
    than the one before (planned lazily: a --ram-limit the first meets plans no more):
    layer by layer; with streams (a kernel call and a memmove per row, about 1%); with
    the layer at the peak unpaired (its pixels one at a time; v2: +1.2%)."""
    copies = decide_copies(graph, pipeline=pipeline) if precision.kernel_scratch else frozenset()
    found = offsets_for(graph, Execution(copies=copies, pipeline=pipeline), precision)
    yield found
    if not precision.kernel_scratch:
        return
    streamed = decide_streams(graph, copies, pipeline) if stream else frozenset()
    if streamed:
        ex = Execution(streamed, decide_copies(graph, streamed, pipeline), pipeline)
        with_streams = offsets_for(graph, ex, precision, baseline=found.baseline_bytes)
        if with_streams.arena_size < found.arena_size:  # a lower bound need not give a smaller arena
            found = with_streams
            yield found
    unpaired = unpair_peak(graph, found, precision)
    if unpaired is not found:
        found = unpaired
        yield found
    # Last: each fused stage costs a kernel call and a window's memmove per row.
    # Fusions are weighed without the copies, which were free only under the unfused bound.
    fused = decide_fusions(graph, dataclasses.replace(found.execution, copies=frozenset())) if stream else None
    if fused is not None and fused.fused:
        fused = dataclasses.replace(fused, copies=decide_copies(graph, fused.streamed, pipeline, fused.fused))
        trial = unpair_peak(graph, offsets_for(graph, fused, precision, baseline=found.baseline_bytes), precision)
        if trial.arena_size < found.arena_size:
            yield trial


def unpair_peak(graph: Graph, found: Plan, precision: Precision = INT8) -> Plan:
    """The plan with the layer at its peak run one output pixel at a time, if its kernel
    pairs pixels and that gives a smaller arena (the pair's extra pixel of distance is then
    the peak's cost, e.g. MobileNetV2's first depthwise layer, in place). Only the peak
    layer is tried: elsewhere a pixel of distance costs nothing, and pairs are faster."""
    step, ex = found.peak_step, found.execution
    if (step in ex.unpaired or step in ex.copies or step < ex.pipeline or ex.producer(graph, step) is not None
            or ex.segment(step)):
        return found  # (a pipelined layer's windows are its own: no overlap to narrow)
    node = graph.nodes[step]
    if ops.get(node.op).unpaired_access(node, graph.shape(node.input), graph.shape(node.output)) is None:
        return found
    trial = offsets_for(graph, dataclasses.replace(ex, unpaired=ex.unpaired | {step}), precision,
                        baseline=found.baseline_bytes)
    return trial if trial.arena_size < found.arena_size else found


def offsets_for(graph: Graph, ex: Execution, precision: Precision = INT8, baseline: int | None = None) -> Plan:
    """The Plan of one execution. baseline: TFLM's greedy-by-size without overlap, kept from
    the layer-by-layer buffers for comparison."""
    bufs = buffers(graph, ex, precision)
    both_ways = overlap_rules(graph, ex, precision)
    found = assign_directions(bufs, both_ways)
    rules = resolve(bufs, both_ways, found.offsets)  # each pair as its kernel runs
    needs = step_needs(bufs, rules)  # the bound of this execution, directions included
    first = {b.name: b.first for b in bufs}
    backward = sorted(first[dst] for (_, dst), rule in rules.items() if isinstance(rule, Overlap))
    return Plan(found.offsets, found.arena_size, max(needs), int(np.argmax(needs)), bufs, rules, found.strategy,
                found.sizes["no_overlap"] if baseline is None else baseline, found.sizes, precision,
                streamed=sorted(ex.streamed), copies=sorted(ex.copies), backward=backward, pipeline=ex.pipeline,
                unpaired=sorted(ex.unpaired), fused=list(ex.fused))
