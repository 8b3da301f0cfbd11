"""Fuse Relu/Clip into the node before it, as that node's output clamp.

Every int8 kernel ends by clamping to [-128, 127]; a fused activation narrows that clamp,
which costs nothing at run time. Two activations in a row intersect.
"""

FUSES_INTO = ("conv", "depthwise_conv", "fully_connected", "avg_pool", "global_avg_pool")


def run(graph):
    for clip in [n for n in graph.nodes if n.op == "clip"]:
        producer = graph.folds_into(clip, FUSES_INTO)
        if producer is None:
            continue  # left for normalize() to report
        low, high = producer.attrs.get("act", (-float("inf"), float("inf")))
        producer.attrs["act"] = (max(low, clip.attrs["low"]), min(high, clip.attrs["high"]))
        graph.merge_into_producer(producer, clip)
