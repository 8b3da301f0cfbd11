"""Remove Flatten/Reshape/Squeeze/Unsqueeze/Transpose.

Most are free once tensors are NHWC (e.g. [1,1,1,C] -> [1,C]): they vanish, and their
consumer reads the producer's bytes directly, which is right when the consumer reads
them the same way under both shapes (same image view for windowed ops, same last axis
for per-channel ops). A flatten of a spatial tensor reads in NCHW order, which NHWC
memory does not have; when it feeds a fully-connected node, the reorder is folded into
that node's weight columns instead. A chain of them (tf2onnx's Transpose to NHWC, then
a Reshape) is first one move, which is often none at all. Anything else stays, and is
reported as unsupported.
"""

import numpy as np

from mcugen import ops
from mcugen.layout import as_image

LEFTOVER = {"reshape": "a Flatten/Reshape/Transpose must leave NHWC data in place for the layers after it, "
                       "or feed exactly one Gemm/MatMul"}


def reads_alike(op: str, before, after) -> bool:
    """Would an `op` node read a tensor of shape `before` as it reads shape `after`? As its
    RESHAPE_READ says: the same image view, the same last axis, or memory in order."""
    how = ops.get(op).RESHAPE_READ if op in ops.REGISTRY else None
    if how == "image":
        return as_image(before) == as_image(after)
    if how == "last_axis":
        return before[-1] == after[-1]
    return how == "flat"


def compose(first, then):
    """One gather index for two moves in a row (None is no move)."""
    if first is None or then is None:
        return then if first is None else first
    both = first[then]
    return None if np.array_equal(both, np.arange(len(both))) else both


def merge_chains(graph) -> None:
    for reshape in [n for n in graph.nodes if n.op == "reshape"]:
        after = graph.sole_consumer(reshape.output)
        if after is not None and after.op == "reshape":
            after.attrs["perm"] = compose(reshape.attrs["perm"], after.attrs["perm"])
            graph.bypass(reshape)
        elif after is not None and getattr(ops.get(after.op), "RESHAPE_READ", None) == "flat" and len(after.inputs) == 1 \
                and reshape.attrs["perm"] is None and _sole_reshape(graph, after.output):
            _reshape_after(graph, reshape, after)


def _reshape_after(graph, reshape, flat) -> None:
    """reshape -> an op that reads memory in order (a table) => the op -> reshape: the op
    reads and writes the same bytes under either shape, and the reshape may then meet the
    next one (tf2onnx's [1,C,1,1] -> [1,1,1,C] -> HardSwish -> [1,C,1,1] is no move at all)."""
    graph.bypass(reshape)
    graph.tensors[flat.output].shape = graph.shape(flat.input)


def _sole_reshape(graph, tensor) -> bool:
    after = graph.sole_consumer(tensor)
    return after is not None and after.op == "reshape"


def run(graph):
    merge_chains(graph)
    for reshape in [n for n in graph.nodes if n.op == "reshape"]:
        perm = reshape.attrs["perm"]
        users = graph.consumers(reshape.output)
        if perm is None:
            before, after = graph.shape(reshape.input), graph.shape(reshape.output)
            if all(reads_alike(user.op, before, after) for user in users):
                graph.bypass(reshape)
            continue
        fc = graph.sole_consumer(reshape.output)
        if fc is None or fc.op != "fully_connected" or len(perm) != fc.attrs["weight"].shape[1]:
            continue  # left for normalize() to report
        # fc reads x[j] = memory[perm[j]]: weight column j moves to column perm[j].
        weight = np.empty_like(fc.attrs["weight"])
        weight[:, perm] = fc.attrs["weight"]
        fc.attrs["weight"] = weight
        graph.bypass(reshape)
