"""One module per kernel kind, each with the same hooks (and one template,
templates/kernels/<KIND>.c.j2, with the macros `definition()`, `data(L)` and `call(L)`).

Hooks, all module-level functions:
    KIND                                  the op kind name used in the IR
    output_shape(node, in_shape)          shape rule (NHWC, leading batch)
    run_float(node, x)                    float reference, x float64 [N, ...]
    output_qparams(node, qin, observed)   the output's quantization (observed = calibrated)
    quantize(node, qin, qout) -> params   integer constants for the kernel
    run_int8(node, x)                     integer reference, the oracle for the C
    arrays(node)                          [(suffix, C type, array)] constants for flash
    c_fields(node, in_shape, out_shape)   the kernel's shape struct fields
    access(node, in_shape, out_shape)     Access: the kernel's loop order, for the planner
    cost(node, in_shape, out_shape)       Cost(macs, flash_bytes)

To add an op: copy the closest module (pointwise_conv.py is the smallest weighted one),
write its template, add the module to KINDS below, and an importer in frontend.py.
"""

from mcugen.ops import (
    avg_pool,
    conv,
    depthwise_conv,
    fully_connected,
    global_avg_pool,
    pointwise_conv,
    softmax,
)

KINDS = [conv, depthwise_conv, pointwise_conv, fully_connected, avg_pool, global_avg_pool, softmax]
HOOKS = ("output_shape", "run_float", "output_qparams", "quantize", "run_int8", "arrays", "c_fields", "access", "cost")

REGISTRY = {module.KIND: module for module in KINDS}

for _module in KINDS:
    _missing = [hook for hook in HOOKS if not callable(getattr(_module, hook, None))]
    assert not _missing, f"{_module.__name__} lacks hooks {_missing}"


def get(kind: str):
    return REGISTRY[kind]
