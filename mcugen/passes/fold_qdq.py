"""Fold QuantizeLinear -> DequantizeLinear pairs (QDQ models) into the tensor they quantize.

In float terms a pair rounds a tensor onto the int8 grid of its scale and zero point; in
mcugen's int8 graph that grid simply is the tensor's quantization. So the pair goes, and
its parameters stay behind as Tensor.fixed, which quantize.py uses instead of a
calibrated range (mcugen/frontend/qdq.py says what else is taken from the model).

Most kernels requantize to any output parameters they are given (global average pooling
too, as TFLite's MEAN). Those that cannot (max and average pooling keep their input's,
softmax has its own) keep what they have, and the QuantizeLinear becomes an identity table
that requantizes to the model's parameters (TFLite's int8 QUANTIZE), unless the two agree
already (onnxruntime gives MaxPool and AveragePool their input's).
Runs first: the other passes then see the plain float graph.
"""

from mcugen import ops
from mcugen.frontend import qdq

LEFTOVER = {
    "quantize_linear": "a QuantizeLinear must feed only DequantizeLinear nodes of the same scale and zero point "
                       "(the QDQ format), not be the model's output",
    "dequantize_linear": "a DequantizeLinear of an activation must follow a QuantizeLinear of the same scale and "
                         "zero point (the QDQ format)",
}


def run(graph):
    for quantize in [n for n in graph.nodes if n.op == "quantize_linear"]:
        readers = graph.consumers(quantize.output)
        if not readers or quantize.output == graph.output or not all(_pairs(quantize, r) for r in readers):
            continue  # left for normalize() to report
        for dequantize in readers:
            graph.bypass(dequantize)
        _settle(graph, quantize, qdq.activation_qparams(*quantize.attrs["q"]))


def _pairs(quantize, node) -> bool:
    """Does `node` undo `quantize`: a DequantizeLinear with the same scale and zero point?"""
    if node.op != "dequantize_linear":
        return False
    (s, zp, dtype), (s2, zp2, dtype2) = quantize.attrs["q"], node.attrs["q"]
    return s == s2 and zp == zp2 and dtype2 in (None, dtype)


def _settle(graph, quantize, params) -> None:
    """Leave `params` on the quantized tensor, or requantize to them with a table."""
    tensor = graph.tensors[quantize.input]
    if tensor.fixed in (None, params) and _takes(graph, graph.producer(quantize.input), params):
        tensor.fixed = params
        graph.bypass(quantize)
    else:
        quantize.op, quantize.attrs = "lut", dict(steps=())
        graph.tensors[quantize.output].fixed = params


def _takes(graph, producer, params) -> bool:
    """Can the producer's output have `params`? The graph input can; so can a node that a
    later pass merges into a kernel (a clamp, a BatchNorm, a reshape) or removes."""
    if producer is None or producer.op not in ops.REGISTRY:
        return True
    qins = [graph.tensors[name].fixed for name in producer.inputs]
    return ops.get(producer.op).output_qparams(producer, *qins, params) == params
