"""What every importer reads: the model's constants and shapes, and how messages name a node."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import onnx

from mcugen.errors import McugenError, quote
from mcugen.frontend import qdq

INF = math.inf
# No microcontroller has this much RAM; refusing early also bounds mcugen's own memory
# (calibration holds float copies of every activation) against hostile shape claims.
MAX_ACTIVATION_BYTES = 16 << 20


@dataclass
class Context:
    """What an importer may ask about its node's surroundings."""

    consts: dict[str, np.ndarray]
    shapes: dict[str, tuple[int, ...]]  # ONNX layout (NCHW)
    opset: int
    notes: list[str] = field(default_factory=list)
    quantized: dict[str, qdq.QuantizedConstant] = field(default_factory=dict)  # constants behind a DequantizeLinear
    requantized: list[str] = field(default_factory=list)  # why model-quantized weights were not taken
    # The model is a .tflite file's conversion (frontend/tflite/, or tf2onnx's): ops whose arithmetic
    # depends on it (Resize's coordinate tables) take TFLite's.
    from_tflite: bool = False

    def const(self, node, index: int, what: str, required: bool = True) -> np.ndarray | None:
        if index >= len(node.input) or not node.input[index]:
            if required:
                raise McugenError(f"{describe(node, self.opset)}: missing input '{what}'")
            return None
        name = node.input[index]
        if name not in self.consts:
            raise McugenError(
                f"{describe(node, self.opset)}: input '{what}' ({quote(name)}) must be a "
                "constant (an initializer or a Constant node)"
            )
        return self.consts[name]

    def shape(self, name: str) -> tuple[int, ...]:
        if name not in self.shapes:
            raise McugenError(f"the shape of tensor {quote(name)} is unknown, dynamic or empty; "
                              "mcugen needs static shapes")
        return self.shapes[name]


def describe(node, opset: int) -> str:
    """`node 'NAME' (OpType, opset N)`: how every message names an ONNX node."""
    op = f"{node.domain}.{node.op_type}" if node.domain not in ("", "ai.onnx") else node.op_type
    return f"node {quote(node.name or '<unnamed>')} ({op}, opset {opset})"


def attr(node, name: str, default=None):
    for a in node.attribute:
        if a.name == name:
            value = onnx.helper.get_attribute_value(a)
            return value.decode() if isinstance(value, bytes) else value
    return default
