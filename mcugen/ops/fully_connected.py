"""Fully connected (Gemm, MatMul + Add): out = W x + b over the flattened input.

attrs: weight [O, I] (columns in the NHWC memory order of the input), bias [O], act.
"""

import numpy as np

from mcugen.ops import common

KIND = "fully_connected"
CHANNEL_AXIS = 0  # weight [O, I]
TAKES_ACTIVATION = True
RESHAPE_READ = "flat"


FC = ("mcugen_fc_dims_t", "dims", ("in_features", "out_features"))
C_KERNELS = {
    "s8": common.CKernel("mcugen_fully_connected_s8", (FC, common.REQUANT), ("&dims", "&q", *common.WEIGHTED)),
    "f32": common.CKernel("mcugen_fully_connected_f32", (FC, common.ACT), ("&dims", "&act", *common.WEIGHTED)),
}


def output_shape(node, in_shape):
    return (in_shape[0], node.attrs["weight"].shape[0])


def accumulate(node, x, w, pad_value):
    return x.reshape(len(x), -1) @ w.T


def run_float(node, x):
    return common.run_weighted_float(node, x, accumulate)


def run_int8(node, x):
    return common.run_weighted_int8(node, x, accumulate)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    return common.quantize_weighted(node, qin, qout, channel_axis=0)


def arrays(node):
    return common.weighted_arrays(node)


def c_fields(node, in_shape, out_shape):
    return dict(in_features=int(np.prod(in_shape[1:])), out_features=out_shape[1],
                fast=common.fast_requant(node))


def access(node, in_shape, out_shape):
    """Every output reads the whole input: one step, no overlap possible."""
    return common.Access(np.zeros(1, dtype=np.int64), out_shape[1])


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    return common.Cost(w.size, common.weighted_flash(w.size, w.shape[0]))


def error_bound(graph, node, e_in):
    return common.weighted_error(graph, node, e_in, CHANNEL_AXIS)
