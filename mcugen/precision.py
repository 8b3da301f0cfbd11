"""The two precisions mcugen compiles to, as values: every stage asks the Precision object
what it needs (element size, C type, whether to quantize, which loop order the kernels
declare, what to link) instead of branching on a name.

int8 (the default): calibrated (or the model's own QDQ) int8 quantization, integer
kernels with planned scratch, streaming and padded copies; bit-exact with the numpy
reference. float32: the normalized float graph compiled as it is, float kernels (no
scratch, no streaming), 4-byte elements; within bounds of onnxruntime (verify/float32.py).
"""

from __future__ import annotations

from dataclasses import dataclass

from mcugen.errors import McugenError


@dataclass(frozen=True)
class Precision:
    name: str
    elem_bytes: int  # bytes per activation element in the arena
    c_type: str  # the element type, NAME_value_t
    quantized: bool  # calibrate and quantize to int8; else compile the float graph as it is
    kernel_scratch: bool  # the kernels take planned scratch (and may stream or copy their input)
    access_hook: str  # the op hook that states these kernels' loop order (mcugen/ops/base.py)
    libs: tuple[str, ...]  # what the generated C links with (the float kernels call expf, tanhf)
    constants: str  # what its constants in flash are, for reports
    needs_fpu: bool  # a Cortex-M build uses the core's FPU
    suffix: str  # the kernels' name suffix, as CMSIS-NN's (mcugen_conv_s8, mcugen_conv_f32)

    def __str__(self) -> str:
        return self.name


INT8 = Precision("int8", 1, "int8_t", quantized=True, kernel_scratch=True, access_hook="access", libs=(),
                 constants="weights, biases, multipliers, tables", needs_fpu=False, suffix="s8")
FLOAT32 = Precision("float32", 4, "float", quantized=False, kernel_scratch=False, access_hook="float_access",
                    libs=("-lm",), constants="float32 weights and biases", needs_fpu=True, suffix="f32")
PRECISIONS = {p.name: p for p in (INT8, FLOAT32)}


def get(name: str | Precision) -> Precision:
    """The Precision called `name` (--precision), or `name` itself if it is one."""
    if isinstance(name, Precision):
        return name
    if name not in PRECISIONS:
        raise McugenError(f"--precision {name!r}: choose one of {', '.join(PRECISIONS)}")
    return PRECISIONS[name]
