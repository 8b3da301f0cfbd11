"""Fold BatchNormalization into the conv or fully-connected node before it.

y = scale * (W x + b) + shift  ==  (scale * W) x + (scale * b + shift), per output channel.
A BatchNorm with nothing to fold into becomes a 1x1 depthwise conv (same arithmetic).
"""

import numpy as np

from mcugen import ops

# What a QDQ model gives for a weighted node (frontend._given): no longer true once folded.
GIVEN = ("weight_scale", "bias_q", "bias_scale")
LEFTOVER = {"batch_norm": "a BatchNormalization on a 2-D tensor must follow a Gemm/MatMul that feeds only it"}


def run(graph):
    for bn in [n for n in graph.nodes if n.op == "batch_norm"]:
        scale, shift = bn.attrs["scale"], bn.attrs["shift"]
        # Ops with a per-output-channel weight axis (their CHANNEL_AXIS) take the fold.
        producer = graph.folds_into(bn, tuple(kind for kind, op in ops.REGISTRY.items() if op.CHANNEL_AXIS is not None))
        if producer is not None and "act" not in producer.attrs:  # a clamp in between would not fold
            axis = ops.get(producer.op).CHANNEL_AXIS
            shape = [1] * producer.attrs["weight"].ndim
            shape[axis] = -1
            producer.attrs["weight"] = producer.attrs["weight"] * scale.reshape(shape)
            producer.attrs["bias"] = producer.attrs["bias"] * scale + shift
            for key in GIVEN:  # the model's integers were of the weights before the fold
                producer.attrs.pop(key, None)
            graph.merge_into_producer(producer, bn)
        elif len(graph.shape(bn.input)) == 4:
            bn.op = "depthwise_conv"
            bn.attrs = dict(weight=scale.reshape(1, 1, -1), bias=np.array(shift), kernel=(1, 1),
                            strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0))
