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


def stage(graph: Graph, layer: int) -> Stage | None:
    """The layer as a pipeline stage, or None: it cannot be one (its op has no row_window,
    its tensors are not images, or some input row is never read: the producer would have
    to skip rows, which the pull loop does not do)."""
    node = graph.nodes[layer]
    window = ops.get(node.op).row_window(node)
    in_shape, out_shape = graph.shape(node.input), graph.shape(node.output)
    if window is None or len(in_shape) != 4 or len(out_shape) != 4 or len(node.inputs) != 1:
        return None
    kh, sh, pt = window
    in_h, out_h = in_shape[1], out_shape[1]
    if rows_read(in_h, kh, sh, pt, out_h) != set(range(in_h)):
        return None
    return Stage(layer, in_h, kh, sh, pt, out_h, in_shape[2] * in_shape[3], out_shape[2] * out_shape[3],
                 min(kh, in_h))


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


def stages(graph: Graph, depth: int) -> list[Stage]:
    return [stage(graph, layer) for layer in range(depth)]


def kernel_scratch(graph: Graph, depth: int) -> int:
    """The stages' own scratch: the largest, as they run one at a time."""
    return max(align(ops.get(n.op).scratch(n, graph.shape(n.input), graph.shape(n.output)))
               for n in graph.nodes[:depth])


def window_offsets(graph: Graph, depth: int) -> list[int]:
    """Each stage's window inside the pipeline's scratch buffer; the kernels' scratch
    follows the last one (at the returned list's last entry)."""
    offsets, at = [], 0
    for s in stages(graph, depth):
        offsets.append(at)
        at += s.window_bytes
    return offsets + [at]


def scratch_bytes(graph: Graph, depth: int) -> int:
    """The pipeline step's scratch buffer: every window, then the kernels' scratch."""
    return window_offsets(graph, depth)[-1] + kernel_scratch(graph, depth)
