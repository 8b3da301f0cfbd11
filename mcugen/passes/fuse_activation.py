"""Fuse Relu/Clip (and Max/Min with a constant) into the node before it, as its output clamp.

Every int8 kernel ends by clamping to [-128, 127]; a fused activation narrows that clamp,
which costs nothing at run time. Two activations in a row compose into one clamp, and so
does the saturation of a QDQ pair in between (the range of the tensor's fixed quantization).
"""

from mcugen import ops


def compose(inner, outer):
    """clip(clip(x, *inner), *outer) as one clip(x, low, high) (numpy's clip semantics:
    with low > high the result is high, as for ONNX's Clip)."""
    (l1, h1), (l2, h2) = inner, outer
    return min(max(l1, l2), h2), min(max(h1, l2), h2)

LEFTOVER = {"clip": "an activation must follow a conv, pooling, fully-connected, Add, Mul or element-wise node "
                    "that feeds only it"}


def run(graph):
    for clip in [n for n in graph.nodes if n.op == "clip"]:
        producer = graph.folds_into(clip, tuple(kind for kind, op in ops.REGISTRY.items() if op.TAKES_ACTIVATION))
        if producer is None:
            continue  # left for normalize() to report
        inner = producer.attrs.get("act", (-float("inf"), float("inf")))
        fixed = graph.tensors[producer.output].fixed
        if fixed is not None:  # a QDQ pair saturated the output (reference._saturate) before this clamp
            inner = compose(inner, fixed.real_range())
        producer.attrs["act"] = compose(inner, (clip.attrs["low"], clip.attrs["high"]))
        graph.merge_into_producer(producer, clip)
