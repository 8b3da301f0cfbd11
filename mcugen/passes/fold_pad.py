"""Fold a zero Pad into the padding of the conv it feeds (tf2onnx writes 'same' this way).

Zero in real numbers is the zero point in int8, which is what the conv kernels pad with,
so the fold is exact in both the float and the integer model.
"""

from mcugen import ops

LEFTOVER = {"pad": "a Pad must feed exactly one Conv"}


def run(graph):
    for pad in [n for n in graph.nodes if n.op == "pad"]:
        conv = graph.sole_consumer(pad.output)
        if conv is None or conv.op not in ops.REGISTRY or not ops.get(conv.op).TAKES_PAD:
            continue  # left for normalize() to report
        conv.attrs["pads"] = tuple(a + b for a, b in zip(conv.attrs["pads"], pad.attrs["pads"]))
        graph.bypass(pad)
