"""Remove Flatten/Reshape/Squeeze/Unsqueeze.

Most are free once tensors are NHWC (e.g. [1,1,1,C] -> [1,C]): they vanish. A flatten of
a spatial tensor reads in NCHW order, which NHWC memory does not have; when it feeds a
fully-connected node, the reorder is folded into that node's weight columns instead.
"""

import numpy as np


def run(graph):
    for reshape in [n for n in graph.nodes if n.op == "reshape"]:
        perm = reshape.attrs["perm"]
        if perm is not None:
            fc = graph.sole_consumer(reshape.output)
            if fc is None or fc.op != "fully_connected":
                continue  # left for normalize() to report
            # fc reads x[j] = memory[perm[j]]: weight column j moves to column perm[j].
            weight = np.empty_like(fc.attrs["weight"])
            weight[:, perm] = fc.attrs["weight"]
            fc.attrs["weight"] = weight
        graph.bypass(reshape)
