"""One module per kernel kind, each with the same hooks (and its C kernels in the library,
mcugen/backend/kernels/mcugen_<KIND>_s8.c and mcugen_<KIND>_f32.c, called as
codegen.KERNELS says).

Hooks, all module-level functions. A hook that needs the node's inputs gets all of them,
one positional argument per input in node.inputs order, then the output's argument: a
single-input op declares `output_shape(node, in_shape)`, the two-input `add` declares
`output_shape(node, a_shape, b_shape)`, and callers always pass `*inputs`.
    KIND                                     the op kind name used in the IR
    output_shape(node, *in_shapes)           shape rule (NHWC, leading batch)
    run_float(node, *xs)                     float reference, each x float64 [N, ...]
    output_qparams(node, *qins, observed)    the output's quantization (observed = calibrated)
    quantize(node, *qins, qout) -> params    integer constants for the kernel
    run_int8(node, *xs)                      integer reference, the oracle for the C
    arrays(node)                             [(suffix, C type, array)] constants for flash
    c_fields(node, *in_shapes, out_shape)    the kernel's shape struct fields
    access(node, *in_shapes, out_shape)      Access: the kernel's loop order over its first
                                             input; the planner overlaps the output with
                                             the input only for single-input nodes
    cost(node, *in_shapes, out_shape)        Cost(macs, flash_bytes)

In a template, L.input is the first input's arena address and L.inputs all of them.

Optional: float_arrays(node) -> [(suffix, array)], the float32 kernel's constants when they
are not the node's `weight` and `bias` (mcugen/float32.py); scratch(node, ...) -> bytes of
working memory; and, for an op that can take its producer's output row by row
(planner.decide_streams; only depthwise_conv does, with the kernel
mcugen_pointwise_depthwise_s8.c): can_stream(node, producer, src_shape),
stream_access / stream_scratch(node, producer, src_shape, mid_shape, out_shape) and
stream_window_bytes(node, mid_shape).

To add an op: copy the closest module (pointwise_conv.py is the smallest weighted one),
write its int8 kernel and its float32 one (mcugen/backend/kernels/mcugen_<KIND>_s8.c and
_f32.c) and their entries in codegen.KERNELS, add the module to KINDS below, an importer
in frontend.py and an error rule in errorbound.py.
"""

from mcugen.ops import (
    add,
    avg_pool,
    conv,
    depthwise_conv,
    fully_connected,
    global_avg_pool,
    lut,
    max_pool,
    mul,
    pointwise_conv,
    softmax,
)

KINDS = [conv, depthwise_conv, pointwise_conv, fully_connected, avg_pool, global_avg_pool, softmax,
         add, mul, lut, max_pool]
HOOKS = ("output_shape", "run_float", "output_qparams", "quantize", "run_int8", "arrays", "c_fields", "access", "cost")

REGISTRY = {module.KIND: module for module in KINDS}

for _module in KINDS:
    _missing = [hook for hook in HOOKS if not callable(getattr(_module, hook, None))]
    assert not _missing, f"{_module.__name__} lacks hooks {_missing}"


def get(kind: str):
    return REGISTRY[kind]
