"""The op contract: what every op module (mcugen/ops/<kind>.py) provides, and the defaults
of what it may leave out. Passes, the planner, the quantizer, the error bound and the C
emitter ask the op through this contract; none of them keeps a table of ops.

Required hooks (module-level functions). A hook that needs the node's inputs gets all of
them, one positional argument per input in node.inputs order, then the output's argument:
a single-input op declares `output_shape(node, in_shape)`, the two-input `add` declares
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
    error_bound(graph, node, *e_ins)         the max-norm error of the output (real units)
                                             given its inputs' (mcugen/quant/errorbound.py)

Facts (module-level constants; defaults in FACTS below):

    CHANNEL_AXIS      the output-channel axis of attrs["weight"], for a weighted op: a
                      BatchNormalization after it folds into it, per channel
    TAKES_ACTIVATION  a Relu/Clip after it fuses into its output clamp
    TAKES_PAD         a Pad before it folds into its own padding (attrs["pads"])
    RESHAPE_READ      how it reads its first input, which decides when a reshape before it
                      is free: "image" (the same NHWC image view), "last_axis" (the same
                      last axis), "flat" (memory in order, whatever the shape) or None
    C_KERNELS         required: {precision suffix ("s8", "f32"): CKernel}, how a layer calls
                      its kernel in the C library (mcugen/backend/kernels/)
    STREAM_KERNEL     the name of this layer's kernel with its producer streamed inside, and
    STREAM_C_KERNELS  that kernel's CKernel per precision suffix
    OPTIMIZE          its arrays, c_fields and cost take optimize= ("speed" or "size", the
                      --optimize option: a faster weight layout or the smallest one), which
                      the emitter and the report pass them

Optional hooks (defaults below): scratch, copy_candidate and copy_fields, float_access,
float_arrays, float_fields, can_stream, stream_access, stream_scratch, stream_window_bytes,
and backward_access: the loop order of the int8 kernel run back to front (its dims'
`backward` field set from the plan), counted from the tensors' ends; the planner may then
place the output over the input from above (docs/memory.md); unpaired_access: the loop
order of the int8 kernel with its two-outputs-at-a-time path off (an `unpaired`
field set from the plan), for the layer at the peak where a pair's extra distance costs bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Access:
    """How a kernel walks memory, stated once for the planner (mcugen/planner/).

    The kernel writes its output front to back in len(first_read) steps of step_bytes
    elements each. While step s runs (before, between or after its writes) it reads no
    input element below first_read[s]. This is the loop order of the kernel's C (int8
    and float32 alike; the planner scales elements to bytes); tests run the real C at the
    overlap the planner derives from it.
    """

    first_read: np.ndarray
    step_bytes: int


@dataclass(frozen=True)
class ByCore:
    """A constant array stored in one order for the cores whose kernels use the DSP
    instructions (`dsp`) and another for the rest (`plain`): the same C symbol and size,
    the two initializers behind the kernels' own test (mcugen_common_s8.h, MCUGEN_DSP)."""

    dsp: np.ndarray
    plain: np.ndarray


@dataclass(frozen=True)
class Cost:
    macs: int
    flash_bytes: int  # constants the layer keeps in flash: weights, bias, multipliers, tables


@dataclass(frozen=True)
class CKernel:
    """How a layer calls its kernel in the C library (mcugen/backend/kernels/FUNCTION.c).

    structs: the static const structs the layer defines, in order: (C type, name, fields),
    the struct named <layer id>_<name>; a field is `name` or `name=value`, the value a name
    in the layer's values (its c_fields, its parameters and arrays, its addresses, and the
    structs defined before). fields None: an array of structs, one per row of the value
    `name` (a list of dicts). args: the call's arguments, as value names, `&name` for a
    struct's address. wrapped: the layer gets a MCUGEN_LAYER function that calls the
    kernel, which is MCUGEN_SPECIALIZED (inlined with the layer's constants); otherwise
    NAME_run calls the kernel itself. needs: the op kinds whose kernels it calls."""

    function: str
    structs: tuple = ()
    args: tuple = ()
    wrapped: bool = False
    needs: tuple = ()

    @property
    def file(self) -> str:
        return self.function + ".c"


REQUIRED = ("output_shape", "run_float", "output_qparams", "quantize", "run_int8", "arrays", "c_fields",
            "access", "cost", "error_bound")
RESHAPE_READS = ("image", "last_axis", "flat", None)

FACTS = dict(CHANNEL_AXIS=None, TAKES_ACTIVATION=False, TAKES_PAD=False, RESHAPE_READ=None, STREAM_KERNEL=None,
             STREAM_C_KERNELS={}, OPTIMIZE=False)
OPTIMIZE_CHOICES = ("speed", "size")  # --optimize; the first is the default


def scratch(node, *shapes) -> int:
    """Bytes of working memory the kernel needs during its layer (none)."""
    return 0


def copy_candidate(node, *shapes) -> int:
    """Bytes of scratch if the kernel could first copy its input into a padded buffer (0:
    it cannot). The planner chooses the copy only where it is free (planner/decide.py)."""
    return 0


def copy_fields(node, *shapes) -> dict:
    """c_fields to add when the planner chose the copy."""
    return {}


def float_arrays(node):
    """The float32 kernel's constants, [(suffix, array)]: the node's weight and bias, when
    it has them. Float arrays become float32; integer ones (index tables) keep their type."""
    return [(name, node.attrs[name]) for name in ("weight", "bias") if name in node.attrs]


def float_fields(node) -> dict:
    """Values the float32 kernel's structs take besides c_fields and the node's scalar
    attributes (floats here become C literals)."""
    return {}


def can_stream(node, producer, src_shape) -> bool:
    """May `producer` run row by row inside this layer (none may)?"""
    return False


def backward_access(node, in_shape, out_shape):
    """The loop order of the op's back-to-front kernel, as an Access counted from the
    tensors' ends, or None: it has none (the planner overlaps its output from below only)."""
    return None


def unpaired_access(node, in_shape, out_shape):
    """The loop order of the op's int8 kernel with its pairing turned off (an `unpaired`
    field of its structs), for a kernel that computes some outputs two at a time, or None:
    it has no such choice."""
    return None


def row_window(node):
    """(kernel_h, stride_h, pad_top) of a layer that can run one output row at a time in a
    row pipeline (planner/rows.py), or None: it cannot."""
    return None


def row_fields(node, in_shape) -> dict:
    """The fields of a row pipeline stage's first struct to change for one output row, as
    C expressions (`rows`: the rows in its window, `pad_top`: padding rows above them)."""
    raise AssertionError("row_fields is called only for ops with a row_window")


def _not_streaming(*args):
    raise AssertionError("stream hooks are called only for ops whose can_stream says yes")


OPTIONAL = dict(scratch=scratch, copy_candidate=copy_candidate, copy_fields=copy_fields,
                float_arrays=float_arrays, float_fields=float_fields, can_stream=can_stream,
                backward_access=backward_access, unpaired_access=unpaired_access, row_window=row_window,
                row_fields=row_fields, stream_access=_not_streaming,
                stream_scratch=_not_streaming, stream_window_bytes=_not_streaming)


class Op:
    """An op module seen through the contract: its own hooks and facts, else the defaults.
    Attributes are looked up on the module each time, so a test may patch the module."""

    def __init__(self, module):
        missing = [hook for hook in REQUIRED if not callable(getattr(module, hook, None))]
        if not isinstance(getattr(module, "KIND", None), str) or missing:
            raise TypeError(f"{module.__name__} lacks KIND or the hooks {missing} (mcugen/ops/base.py)")
        kernels = getattr(module, "C_KERNELS", None)
        if not isinstance(kernels, dict) or not all(isinstance(k, CKernel) for k in kernels.values()):
            raise TypeError(f"{module.__name__} lacks C_KERNELS, its CKernel per precision suffix (mcugen/ops/base.py)")
        if getattr(module, "RESHAPE_READ", None) not in RESHAPE_READS:
            raise TypeError(f"{module.__name__}.RESHAPE_READ must be one of {RESHAPE_READS}")
        self.module = module

    def __getattr__(self, name):
        module = self.__dict__["module"]
        if hasattr(module, name):
            return getattr(module, name)
        if name in FACTS:
            return FACTS[name]
        if name in OPTIONAL:
            return OPTIONAL[name]
        if name == "float_access":  # the float kernel walks memory as the int8 one does
            return module.access
        raise AttributeError(f"op {module.KIND!r} has no {name!r}")

    def __repr__(self) -> str:
        return f"Op({self.module.KIND})"
