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


def _run(graph, x, hook, keep):
    values = {graph.input: x}
    for node in graph.nodes:
        values[node.output] = getattr(ops.get(node.op), hook)(node, *(values[name] for name in node.inputs))
    return values if keep else values[graph.output]
