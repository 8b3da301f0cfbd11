"""Softmax over the last axis, int8 in, int8 out with scale 1/256 and zero point -128.

Integer formulation: with d = max(x) - x in [0, 255], a 256-entry table computed at
compile time holds round(2**15 * exp(-d * input_scale)). The kernel sums the table
entries of a row and outputs round(256 * table[d] / sum) - 128, clamped: integer-only at
run time, and identical in C and numpy because both use the same table.
"""

import numpy as np

from mcugen.fixedpoint import div_trunc
from mcugen.ir import QParams
from mcugen.ops import common

KIND = "softmax"
RESHAPE_READ = "last_axis"
OUTPUT_Q = QParams(1.0 / 256.0, -128)  # TFLite's fixed softmax output quantization


C_KERNELS = {
    "s8": common.CKernel("mcugen_softmax_s8", (("mcugen_softmax_s8_params_t", "p", (
        "rows", "classes", "output_zp", "exp_table=table")),), common.UNARY),
    "f32": common.CKernel("mcugen_softmax_f32", (("mcugen_softmax_f32_params_t", "p", ("rows", "classes")),),
                          common.UNARY),
}


def output_shape(node, in_shape):
    return tuple(in_shape)


def run_float(node, x):
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def output_qparams(node, qin, observed):
    return OUTPUT_Q


def quantize(node, qin, qout):
    d = np.arange(256)
    table = np.floor(32768.0 * np.exp(-d * qin.scale) + 0.5).astype(np.uint16)
    return dict(table=table, output_zp=qout.zero_point)


def run_int8(node, x):
    x = x.astype(np.int64)
    e = node.params["table"].astype(np.int64)[x.max(axis=-1, keepdims=True) - x]
    total = e.sum(axis=-1, keepdims=True)
    out = div_trunc(e * 256 + total // 2, total) + node.params["output_zp"]
    return np.clip(out, -128, 127).astype(np.int8)


def arrays(node):
    return [("table", "uint16_t", node.params["table"])]


def c_fields(node, in_shape, out_shape):
    return dict(rows=int(np.prod(in_shape[:-1])), classes=in_shape[-1])


def access(node, in_shape, out_shape):
    """Row by row; each row is read whole (max, sum) before it is written."""
    rows, classes = int(np.prod(in_shape[:-1])), in_shape[-1]
    return common.Access(np.arange(rows) * classes, classes)


def cost(node, in_shape, out_shape):
    return common.Cost(0, 512)


def error_bound(graph, node, e_in):
    """e / 2 (the softmax Jacobian's max-norm is at most 1/2) + the exp table's rounding,
    (0.5 + 0.5 n) / 2^15 for n classes + one output LSB (rounding, and the clamp of p = 1)."""
    classes = graph.shape(node.input)[-1]
    return e_in / 2 + (0.5 + 0.5 * classes) / 32768 + graph.tensors[node.output].q.scale
