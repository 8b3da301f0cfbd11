"""A worst-case bound on how far mcugen's int8 output can be from the float model, derived
from the quantization scales alone. The conformance suite (scripts/conformance.py) uses it
as its int8 tolerance: a case passes when every output element is within the bound.

The bound carries a max-norm error e (in real units) from the input through the graph,
layer by layer: e_out = L * e_in + own, where L is the layer's Lipschitz constant in the
max norm (how much it can amplify an error) and `own` is what the layer's own
quantization adds. It assumes the calibration covers the inputs, so nothing is clipped (the
suite calibrates on the test's own inputs), and that the int8 kernels do what the numeric
contract says (the C is bit-exact with the reference; verify checks that separately).

At the input the error is half an input LSB (rounding to the nearest int8); each op states
its own rule in its error_bound hook (mcugen/ops/<kind>.py).

Fused activations are clamps, 1-Lipschitz, applied alike to both results: they add nothing.
"""

from __future__ import annotations

from mcugen import ops
from mcugen.ir import Graph


def output_bound(graph: Graph) -> float:
    """The bound on max |int8 output (dequantized) - float output| for the quantized graph:
    half an input LSB at the input, then each op's error_bound hook, layer by layer."""
    errors = {graph.input: graph.tensors[graph.input].q.scale / 2}
    for node in graph.nodes:
        errors[node.output] = ops.get(node.op).error_bound(graph, node, *(errors[name] for name in node.inputs))
    return errors[graph.output]
