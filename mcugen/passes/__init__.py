"""Graph rewrites between the frontend and quantization, one file per rewrite.

Each pass has `run(graph)` and rewrites the graph in place. After the pipeline every
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

# Why a transitional op can survive the pipeline, for the error message.
LEFTOVER = {
    "pad": "a Pad must feed exactly one Conv",
    "clip": "an activation must follow a conv, pooling, fully-connected, Add, Mul or element-wise node "
            "that feeds only it",
    "bias_add": "an Add of a constant must follow a MatMul that feeds only it",
    "batch_norm": "a BatchNormalization on a 2-D tensor must follow a Gemm/MatMul that feeds only it",
    "reshape": "a Flatten/Reshape/Transpose must leave NHWC data in place for the layers after it, "
               "or feed exactly one Gemm/MatMul",
    "quantize_linear": "a QuantizeLinear must feed only DequantizeLinear nodes of the same scale and zero point "
                       "(the QDQ format), not be the model's output",
    "dequantize_linear": "a DequantizeLinear of an activation must follow a QuantizeLinear of the same scale and "
                         "zero point (the QDQ format)",
}


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
