"""Graph rewrites between the frontend and quantization, one file per rewrite.

Each pass has `run(graph)`, which rewrites the graph in place, and LEFTOVER: the transitional
ops it removes, with why one may survive it (for the error message). After the pipeline every
node is a kernel op (mcugen/ops); anything left over is reported as unsupported.
The order matters: QDQ pairs fold first, so the others see a plain float graph (with the
model's quantization on its tensors); a MatMul's bias Add folds before a BatchNorm after it; BatchNorm folds
into a conv before the conv's activation is fused (conv -> BN -> ReLU6); Pad folds before
1x1 convs are specialized to pointwise; activations fuse into lookup tables before the
tables merge (HardSwish patterns).
"""

from mcugen import ops
from mcugen.errors import McugenError, quote
from mcugen.ir import Graph
from mcugen.passes import (
    fold_batchnorm,
    fold_bias_add,
    fold_elementwise,
    fold_pad,
    fold_qdq,
    fuse_activation,
    remove_identity,
    remove_reshape,
    specialize_pointwise,
)

PIPELINE = [
    fold_qdq,
    remove_identity,
    fold_bias_add,
    fold_batchnorm,
    fold_pad,
    fuse_activation,
    fold_elementwise,
    remove_reshape,
    specialize_pointwise,
]

# Why a transitional op can survive the pipeline, for the error message: each pass that
# removes one says so in its LEFTOVER.
LEFTOVER = {op: why for rewrite in PIPELINE for op, why in rewrite.LEFTOVER.items()}


def normalize(graph: Graph) -> Graph:
    for rewrite in PIPELINE:
        rewrite.run(graph)
    for node in graph.nodes:
        if node.op not in ops.REGISTRY:
            why = LEFTOVER.get(node.op, "no kernel implements it")
            raise McugenError(f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}) cannot be compiled: {why}")
    if not graph.nodes:
        raise McugenError(f"{graph.source}: the model computes nothing (its output is its input)")
    return graph
