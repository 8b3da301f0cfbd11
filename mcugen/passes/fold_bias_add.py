"""Fold `MatMul -> Add(constant)` into one fully-connected node with a bias.

An Add of one constant to every feature that has no MatMul to fold into becomes a
lookup table (ops/lut.py), like any other scalar arithmetic.
"""

import numpy as np

LEFTOVER = {"bias_add": "an Add of a constant must follow a MatMul that feeds only it"}


def run(graph):
    for add in [n for n in graph.nodes if n.op == "bias_add"]:
        fc = graph.folds_into(add, ("fully_connected",))
        bias = add.attrs["bias"]
        if fc is not None and "act" not in fc.attrs:  # a clamp in between would not fold
            fc.attrs["bias"] = fc.attrs["bias"] + bias
            fc.attrs.pop("bias_q", None)  # a QDQ model's int32 bias was of the bias before the Add
            fc.attrs.pop("bias_scale", None)
            graph.merge_into_producer(fc, add)
        elif np.all(bias == bias[0]):
            add.op, add.attrs = "lut", dict(steps=(("affine", 1.0, float(bias[0])),))
