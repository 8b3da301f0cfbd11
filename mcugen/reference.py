"""Run a graph in numpy: float (calibration, checking the passes) or int8 (the oracle).

Both take a batch: x is [N, ...] in the graph's layout (NHWC for images). With
keep=True every tensor is returned, which is how verify finds the first layer that
differs from the C.
"""

from __future__ import annotations

import numpy as np

from mcugen import ops
from mcugen.ir import Graph


def run_float(graph: Graph, x: np.ndarray, keep: bool = False):
    return _run(graph, np.asarray(x, dtype=np.float64), "run_float", keep)


def run_int8(graph: Graph, x: np.ndarray, keep: bool = False):
    return _run(graph, np.asarray(x, dtype=np.int8), "run_int8", keep)


WORKING_BYTES = 256 << 20  # float64 copies of every activation, per batch of samples


def batch_size(graph: Graph) -> int:
    """Samples per batch so one batch's activations (as float64) fit WORKING_BYTES."""
    return max(1, WORKING_BYTES // (8 * sum(t.size for t in graph.tensors.values())))


def run_int8_batched(graph: Graph, x: np.ndarray) -> np.ndarray:
    """run_int8 over many samples, a batch at a time, so memory stays bounded."""
    step = batch_size(graph)
    return np.concatenate([run_int8(graph, x[i: i + step]) for i in range(0, len(x), step)])


def run_float_batched(graph: Graph, x: np.ndarray) -> np.ndarray:
    """run_float over many samples, a batch at a time (the float32 path's oracle)."""
    step = batch_size(graph)
    return np.concatenate([run_float(graph, x[i: i + step]) for i in range(0, len(x), step)])


def _run(graph, x, hook, keep):
    values = {graph.input: _saturate(graph, graph.input, x, hook)}
    for node in graph.nodes:
        y = getattr(ops.get(node.op), hook)(node, *(values[name] for name in node.inputs))
        values[node.output] = _saturate(graph, node.output, y, hook)
    return values if keep else values[graph.output]


def _saturate(graph, name, values, hook):
    """In float, a tensor whose quantization a QDQ model fixes is clipped to the range it
    can hold, as the model's QuantizeLinear saturates it; onnxruntime's quantizer drops a
    ReLU whose work that saturation does. In int8 that is the int8 range itself."""
    fixed = graph.tensors[name].fixed
    if hook != "run_float" or fixed is None:
        return values
    return np.clip(values, *fixed.real_range())
