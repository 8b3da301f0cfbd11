"""Row pipelines (--row-input): the first layers run as one step, row by row, and the
model's input never exists whole: the firmware hands it over a row at a time
(NAME_input_row, docs/c-api.md).

Execution.pipeline = n: layers 0 .. n-1, a chain from the model's input, run together.
Each keeps a window of its input's rows (kernel_h rows at most, stride and padding
included: the rows its next output row's window needs), filled on demand by its producer
(the firmware for layer 0); the last layer's output is a whole tensor, as any layer's.
Every row is computed once (mcugen_row_pipeline_s8.c), so the pipeline costs only the
windows' memmove and a kernel call per row. The windows and the stages' own kernel
scratch (one stage runs at a time) are one scratch buffer of the pipeline's step.

A fused segment (Execution.fused: (a, b), layers a .. b-1) runs the same way from a whole
tensor in the arena, x, the input of layer a (an inverted-residual block: expand ->
depthwise -> project -> the residual add): its first stage's window points into x (no
copy, no bytes of its own), and a residual add among its stages reads its other input, x,
at its output row. Only the segment's last output exists whole, so the expanded tensors
never do.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcugen import ops
from mcugen.ir import Graph
from mcugen.planner.offsets import align


@dataclass(frozen=True)
class Stage:
    layer: int
    in_h: int
    kernel_h: int
    stride_h: int
    pad_top: int
    out_h: int
    row_bytes: int  # one row of the layer's input (int8: w * c)
    out_row_bytes: int
    window_rows: int  # input rows kept at once

    @property
    def window_bytes(self) -> int:
        return align(self.window_rows * self.row_bytes)


def rows_read(in_h: int, kernel_h: int, stride_h: int, pad_top: int, out_h: int) -> set[int]:
    """The input rows some output row's window reads."""
    return {y for oy in range(out_h) for y in range(oy * stride_h - pad_top, oy * stride_h - pad_top + kernel_h)
            if 0 <= y < in_h}


def stage(graph: Graph, layer: int, from_arena: bool = False) -> Stage | None:
    """The layer as a pipeline stage, or None: it cannot be one (its op has no row_window,
    its tensors are not images, or some input row is never read: the producer would have
    to skip rows, which the pull loop does not do). A residual add (two inputs of one
    shape) is a stage of a fused segment. from_arena: the first stage of a fused segment,
    whose window is its input's rows in the arena (no bytes of its own)."""
    node = graph.nodes[layer]
    window = ops.get(node.op).row_window(node)
    in_shape, out_shape = graph.shape(node.input), graph.shape(node.output)
    if window is None or len(in_shape) != 4 or len(out_shape) != 4:
        return None
    if any(graph.shape(name) != in_shape for name in node.inputs):
        return None
    kh, sh, pt = window
    in_h, out_h = in_shape[1], out_shape[1]
    if rows_read(in_h, kh, sh, pt, out_h) != set(range(in_h)):
        return None
    return Stage(layer, in_h, kh, sh, pt, out_h, in_shape[2] * in_shape[3], out_shape[2] * out_shape[3],
                 0 if from_arena else min(kh, in_h))


def can_pipeline(graph: Graph, depth: int) -> bool:
    """May layers 0 .. depth-1 run as a row pipeline? A chain from the model's input, each
    output read by the next layer only, every layer a stage; the last output not the model's."""
    if not 1 <= depth < len(graph.nodes):
        return False
    source = graph.input
    for layer in range(depth):
        node = graph.nodes[layer]
        readers = [n for n in graph.nodes if node.output in n.inputs]
        if node.inputs != [source] or stage(graph, layer) is None or node.output == graph.output:
            return False
        if layer < depth - 1 and readers != [graph.nodes[layer + 1]]:
            return False
        source = node.output
    return True


def max_depth(graph: Graph) -> int:
    """The deepest pipeline the graph allows (0: none)."""
    depth = 0
    while can_pipeline(graph, depth + 1):
        depth += 1
    return depth


def stages(graph: Graph, end: int, start: int = 0, fused: bool = False) -> list[Stage]:
    """The stages of layers start .. end-1: the row pipeline (start 0) or a fused segment
    (fused: its first stage reads its input in the arena)."""
    return [stage(graph, layer, from_arena=fused and layer == start) for layer in range(start, end)]


def kernel_scratch(graph: Graph, end: int, start: int = 0) -> int:
    """The stages' own scratch: the largest, as they run one at a time."""
    return max(align(ops.get(n.op).scratch(n, *graph.in_shapes(n), graph.shape(n.output)))
               for n in graph.nodes[start:end])


def window_offsets(graph: Graph, end: int, start: int = 0, fused: bool = False) -> list[int]:
    """Each stage's window inside the step's scratch buffer; the kernels' scratch follows
    the last one (at the returned list's last entry)."""
    offsets, at = [], 0
    for s in stages(graph, end, start, fused):
        offsets.append(at)
        at += s.window_bytes
    return offsets + [at]


def scratch_bytes(graph: Graph, end: int, start: int = 0, fused: bool = False) -> int:
    """The step's scratch buffer: every window, then the kernels' scratch."""
    return window_offsets(graph, end, start, fused)[-1] + kernel_scratch(graph, end, start)


def can_fuse(graph: Graph, start: int, end: int) -> bool:
    """May layers start .. end-1 (at least two) run as one fused segment from the whole
    tensor x that layer `start` reads? A chain, each output read by the next layer only,
    every layer a stage; a layer may also read x itself (the residual add, at its output
    row: so x and its output have the same shape). The last output is written whole."""
    if end - start < 2 or start < 0 or end > len(graph.nodes):
        return False
    first = graph.nodes[start]
    x = first.input
    if len(first.inputs) != 1 or stage(graph, start, from_arena=True) is None:
        return False
    for layer in range(start + 1, end):
        node, prev = graph.nodes[layer], graph.nodes[layer - 1].output
        readers = [n for n in graph.nodes if prev in n.inputs]
        if readers != [node] or prev == graph.output or stage(graph, layer) is None:
            return False
        others = [name for name in node.inputs if name != prev]
        if len(node.inputs) - len(others) != 1 or any(name != x for name in others):
            return False
        if others and graph.shape(node.output) != graph.shape(x):
            return False
    return True


def segments(graph: Graph, start_at: int = 0) -> list[tuple[int, int]]:
    """Every segment the graph allows, from layer start_at on (after a row pipeline)."""
    found = []
    for start in range(start_at, len(graph.nodes)):
        end = start + 2
        while can_fuse(graph, start, end):
            found.append((start, end))
            end += 1
    return found
