"""TEMPLATE: copy this file to mcugen/ops/<kind>.py to add an op (docs/adding-an-op.md).

It is a complete, working op: `negate`, y = -x, element by element. Every required hook
and fact is here with what it must do; the optional ones (mcugen/ops/base.py) are left to
their defaults. The contract test checks that this template still satisfies the contract,
but it is not registered: no importer produces it and the library has no kernel for it.

int8: y = -x in real numbers is q_y = 2 zp - q_x at the input's scale and zero point
(the output keeps the input's quantization, so no requantization), clamped to int8 and to
a fused activation's bounds.
"""

import numpy as np

from mcugen.ops import common

KIND = "negate"  # the IR's name of the op; the importer (mcugen/frontend/importers.py) emits it
TAKES_ACTIVATION = True  # a Relu/Clip after it fuses into its output clamp (attrs["act"])
RESHAPE_READ = "flat"  # it reads memory in order, whatever the shape: reshapes before it are free
# CHANNEL_AXIS = 0      # for an op with attrs["weight"]: its output-channel axis (BatchNorm folds in)
# TAKES_PAD = True      # for a windowed op: a Pad before it folds into attrs["pads"]

# How a layer calls its kernel in the library (mcugen/backend/kernels/mcugen_negate_s8.c):
# one params struct from the fields below, then the kernel's arguments.
C_KERNELS = {
    "s8": common.CKernel("mcugen_negate_s8", (("mcugen_negate_s8_params_t", "p", (
        "size", "zero_point", "act_min", "act_max")),), common.UNARY),
    "f32": common.CKernel("mcugen_negate_f32", (("mcugen_negate_f32_params_t", "p", (
        "size", "act_min", "act_max")),), common.UNARY),
}


def output_shape(node, in_shape):
    """The output's shape (NHWC, leading batch) from the inputs' shapes."""
    return tuple(in_shape)


def run_float(node, x):
    """The float reference, float64 [N, ...]: what the ONNX op computes, then the clamp."""
    return common.clamp_float(-x, node)


def output_qparams(node, qin, observed):
    """The output's quantization: the calibrated range (observed), or, as here, the
    input's, when the kernel cannot requantize."""
    return qin


def quantize(node, qin, qout):
    """The kernel's integer constants, from the quantization of the inputs and the output."""
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    return dict(zero_point=qin.zero_point, act_min=act_min, act_max=act_max)


def run_int8(node, x):
    """The integer reference: exactly what the C kernel computes, the oracle for verify."""
    p = node.params
    return np.clip(2 * p["zero_point"] - x.astype(np.int64), p["act_min"], p["act_max"]).astype(np.int8)


def arrays(node):
    """Constants for flash, [(suffix, C type, array)]: none here."""
    return []


def c_fields(node, in_shape, out_shape):
    """The shape fields of the kernel's structs (the quantized ones come from node.params)."""
    return dict(size=int(np.prod(in_shape[1:])))


def access(node, in_shape, out_shape):
    """The kernel's loop order over its input: byte i is read, then written; the planner lets
    the output overlap the input as far as this allows (here: in place)."""
    return common.Access(np.arange(int(np.prod(in_shape[1:]))), 1)


def cost(node, in_shape, out_shape):
    """MACs and bytes of constants in flash."""
    return common.Cost(0, 0)


def error_bound(graph, node, e_in):
    """How far the int8 output can be from float given the input's error (real units):
    negation is exact and 1-Lipschitz."""
    return e_in
