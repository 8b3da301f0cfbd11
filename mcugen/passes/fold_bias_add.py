"""Fold `MatMul -> Add(constant)` into one fully-connected node with a bias."""


def run(graph):
    for add in [n for n in graph.nodes if n.op == "bias_add"]:
        fc = graph.folds_into(add, ("fully_connected",))
        if fc is not None and "act" not in fc.attrs:  # a clamp in between would not fold
            fc.attrs["bias"] = fc.attrs["bias"] + add.attrs["bias"]
            graph.merge_into_producer(fc, add)
