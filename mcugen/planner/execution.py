"""From a graph and an execution (which layers stream, which copy their input) to the
planner's inputs: buffers with their lifetimes, and the overlap rules with their distances.

Execution is layer by layer; step i runs layer i, which reads its inputs and writes its
output. The model's input is live from step 0; its output stays live after the last step
so the caller can read it.

A layer with one input may write its output over that input when it is the input's last
reader (a residual Add or a Mul keeps both of its inputs apart from its output). The kernel
writes its output front to back while it reads the input front to back (each op's
`access` states its loop order), so the output may start `distance` bytes below the input
and run into it: every input byte is read before it is overwritten. That is how depthwise
convolutions run in place (one row of slack instead of a row buffer), and how a 1x1 conv
that widens 8 -> 16 channels needs little more than its output's size.

A streamed layer (Execution.streamed) runs row by row inside the next one: it has no
output buffer, and the pair is one step that reads the producer's input and writes the
consumer's output, with the consumer's row window as scratch. A copying layer
(Execution.copies) first copies its whole input into scratch (ops' copy_candidate). An
unpaired layer (Execution.unpaired) runs its kernel one output pixel at a time where it
would compute two at once (ops' unpaired_access): one pixel less of overlap distance.
A fused segment (Execution.fused, planner/rows.py) runs layers a .. b-1 as one step at
step b-1, row by row from the whole tensor layer a reads: only its last output exists,
its windows and kernel scratch are the step's scratch, and it keeps its output apart from
its input.

Sizes are in bytes: the precision's elem_bytes is 1 for int8 tensors and 4 for float32, and
the kernels' Access (stated in elements) is scaled by it; its access_hook names the op hook
that states its kernels' loop order, and only kernels with kernel_scratch get scratch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcugen import ops
from mcugen.ir import Graph, Node
from mcugen.ops.base import Access
from mcugen.planner import rows
from mcugen.planner.offsets import Buffer, Overlap, Rules, align
from mcugen.precision import INT8, Precision


@dataclass(frozen=True)
class Execution:
    """How the layers run: the planner's choices, as values (never written into the graph)."""

    streamed: frozenset[int] = frozenset()  # layers run row by row inside the next one
    copies: frozenset[int] = frozenset()  # layers that first copy their input into padded scratch
    pipeline: int = 0  # layers 0 .. pipeline-1 run as one row pipeline (--row-input; planner/rows.py)
    unpaired: frozenset[int] = frozenset()  # layers whose kernel computes one output pixel at a time
    fused: tuple[tuple[int, int], ...] = ()  # (a, b): layers a .. b-1 run row by row as one step (rows.can_fuse)

    def segment(self, step: int) -> tuple[int, int] | None:
        """The fused segment layer `step` is in, if any."""
        return next(((a, b) for a, b in self.fused if a <= step < b), None)

    def hidden(self, step: int) -> bool:
        """Does layer `step`'s output never exist whole (it runs inside a later step: a row
        pipeline's or a fused segment's layer before the last)? Streamed layers aside."""
        seg = self.segment(step)
        return step < self.pipeline - 1 or (seg is not None and step < seg[1] - 1)

    def producer(self, graph: Graph, step: int) -> Node | None:
        """The layer streamed into layer `step`, if any: the one just before it."""
        return graph.nodes[step - 1] if step - 1 in self.streamed else None


LAYER_BY_LAYER = Execution()


def reads(graph: Graph, ex: Execution = LAYER_BY_LAYER) -> list[list[str]]:
    """The arena tensors each step reads. A streamed producer runs inside the next step:
    it reads nothing at its own step, and its input is read by the next one in its place."""
    out = [list(node.inputs) if step >= ex.pipeline else [] for step, node in enumerate(graph.nodes)]
    for a, b in ex.fused:  # the segment reads its source x, at its last layer's step
        for step in range(a, b):
            out[step] = []
        out[b - 1] = [graph.nodes[a].input]
    for step in sorted(ex.streamed):
        node = graph.nodes[step]
        out[step] = []
        out[step + 1] = [node.input if name == node.output else name for name in out[step + 1]]
    return out


def buffers(graph: Graph, ex: Execution = LAYER_BY_LAYER, precision: Precision = INT8) -> list[Buffer]:
    elem_bytes = precision.elem_bytes
    # A row pipeline's input arrives row by row, into its first window: no buffer.
    first = {graph.input: 0} if not ex.pipeline else {}
    last = {graph.input: 0} if not ex.pipeline else {}
    for step, (node, read) in enumerate(zip(graph.nodes, reads(graph, ex))):
        for name in read:
            last[name] = max(last.get(name, step), step)
        if step in ex.streamed or ex.hidden(step):  # its output never exists whole: no buffer
            continue
        for name in node.outputs:
            first[name] = step
            last.setdefault(name, step)
    last[graph.output] = len(graph.nodes)  # read by the caller, after the last step
    bufs = [Buffer(name, graph.tensors[name].size * elem_bytes, first[name], last[name]) for name in first]
    for step in range(len(graph.nodes)):
        size = step_scratch(graph, ex, step) if precision.kernel_scratch else 0
        if size:  # a kernel's working memory: live during its own layer only
            bufs.append(Buffer(scratch_name(graph, step), size, step, step, scratch=True))
    return bufs


def scratch_bytes(graph: Graph, node: Node, copy: bool = False) -> int:
    """Bytes of working memory a layer's kernel needs: its own, plus the padded copy of
    its input when it makes one."""
    op, shapes = ops.get(node.op), (*graph.in_shapes(node), graph.shape(node.output))
    return align(op.scratch(node, *shapes) + (op.copy_candidate(node, *shapes) if copy else 0))


def step_scratch(graph: Graph, ex: Execution, step: int) -> int:
    """Bytes of working memory at a step: the kernel's own, or for a layer with a streamed
    producer, its row window and the producer's scratch (the consumer's stream_scratch)."""
    node = graph.nodes[step]
    if step in ex.streamed or ex.hidden(step):
        return 0
    if step == ex.pipeline - 1:  # the whole pipeline runs at its last layer's step
        return align(rows.scratch_bytes(graph, ex.pipeline))
    seg = ex.segment(step)
    if seg is not None:  # so does a fused segment
        return align(rows.scratch_bytes(graph, seg[1], seg[0], fused=True))
    producer = ex.producer(graph, step)
    if producer is None:
        return scratch_bytes(graph, node, step in ex.copies)
    return align(ops.get(node.op).stream_scratch(node, producer, graph.shape(producer.input),
                                                 graph.shape(node.input), graph.shape(node.output)))


def scratch_name(graph: Graph, step: int) -> str:
    """A buffer name no tensor of the model has (ONNX names are the model's to choose)."""
    name = f"<scratch of layer {step}>"
    while name in graph.tensors:
        name += "'"
    return name


def can_stream(graph: Graph, step: int, ex: Execution = LAYER_BY_LAYER) -> bool:
    """May layer `step` run row by row inside layer step + 1? When the next layer's op
    consumes rows (its can_stream hook) and is the only reader of the output, and it is
    not in the row pipeline."""
    if step + 1 >= len(graph.nodes) or step < ex.pipeline or ex.segment(step) or ex.segment(step + 1):
        return False
    node, nxt = graph.nodes[step], graph.nodes[step + 1]
    readers = [n for n in graph.nodes if node.output in n.inputs]
    return (nxt.inputs == [node.output] and len(readers) == 1 and readers[0] is nxt
            and node.output != graph.output and ops.get(nxt.op).can_stream(nxt, node, graph.shape(node.input)))


def safe_distance(access: Access) -> int:
    """How far below the input's start the output may begin: for every write step, the
    bytes written so far must stay below every input byte still to be read."""
    still_read = np.minimum.accumulate(access.first_read[::-1])[::-1]
    written = (np.arange(len(still_read)) + 1) * access.step_bytes
    return align(max(0, int(np.max(written - still_read))))


def scaled(access: Access, elem_bytes: int) -> Access:
    """An op's Access (in elements) in bytes."""
    return Access(access.first_read * elem_bytes, access.step_bytes * elem_bytes)


def whole_input_first(in_shape, out_shape) -> Access:
    """A copying layer reads (copies) its whole input before it writes any output."""
    return Access(np.array([int(np.prod(in_shape[1:]))]), int(np.prod(out_shape[1:])))


def layer_access(graph: Graph, ex: Execution, step: int, precision: Precision) -> Access:
    """The loop order of layer `step`'s kernel over the tensor it reads, in elements."""
    node = graph.nodes[step]
    op, out_shape = ops.get(node.op), graph.shape(node.output)
    producer = ex.producer(graph, step)
    if producer is not None:  # the consumer's loop order over its producer's input
        return op.stream_access(node, producer, graph.shape(producer.input), graph.shape(node.input), out_shape)
    if step in ex.copies:
        return whole_input_first(graph.shape(node.input), out_shape)
    if step in ex.unpaired:
        return op.unpaired_access(node, graph.shape(node.input), out_shape)
    return getattr(op, precision.access_hook)(node, graph.shape(node.input), out_shape)


def overlap_rules(graph: Graph, ex: Execution = LAYER_BY_LAYER, precision: Precision = INT8) -> Rules:
    """(input, output) pairs that may share bytes, with their safe distance."""
    step_reads = reads(graph, ex)
    last_reader = {}
    for step, read in enumerate(step_reads):
        for name in read:
            last_reader[name] = step
    rules = {}
    for step, (node, read) in enumerate(zip(graph.nodes, step_reads)):
        # A node with several inputs (add, mul) keeps each of them apart from its output,
        # and so does a fused segment.
        if len(read) != 1 or len(node.inputs) != 1 or step in ex.streamed or ex.segment(step):
            continue
        src, dst = read[0], node.output
        if last_reader[src] != step or src == graph.output:
            continue
        eb = precision.elem_bytes
        size = graph.tensors[dst].size * eb
        distance = safe_distance(scaled(layer_access(graph, ex, step, precision), eb))
        back = backward_access(graph, ex, step, precision)
        above = safe_distance(scaled(back, eb)) if back is not None else size
        if above < size:  # the kernel can also run back to front, and that overlaps
            rules[(src, dst)] = Overlap(distance if distance < size else None, above)
        elif distance < size:
            rules[(src, dst)] = distance
    return rules


def backward_access(graph: Graph, ex: Execution, step: int, precision: Precision) -> Access | None:
    """The loop order of layer `step`'s back-to-front kernel, if it has one (its op's
    backward_access hook, positions counted from the tensors' ends): int8 layers that run
    whole, without a padded copy or a streamed producer."""
    node = graph.nodes[step]
    if precision.access_hook != "access" or step in ex.copies or ex.producer(graph, step) is not None:
        return None
    return ops.get(node.op).backward_access(node, graph.shape(node.input), graph.shape(node.output))
