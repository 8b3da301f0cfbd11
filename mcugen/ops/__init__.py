"""One module per kernel kind, each owning every fact about its op: shape rule, float and
integer references, quantization, constants, C fields, loop order, cost, error rule, and
what the passes and the planner need (mcugen/ops/base.py states the contract and its
defaults; docs/adding-an-op.md walks through adding one).

REGISTRY maps each kind to an Op: the module seen through the contract, with the defaults
of the optional hooks. Nothing outside this package keeps a table of ops.
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
    prelu,
    resize,
    softmax,
)
from mcugen.ops.base import Op

KINDS = [conv, depthwise_conv, pointwise_conv, fully_connected, avg_pool, global_avg_pool, softmax,
         add, mul, lut, prelu, max_pool, resize]

REGISTRY = {module.KIND: Op(module) for module in KINDS}


def get(kind: str) -> Op:
    return REGISTRY[kind]
