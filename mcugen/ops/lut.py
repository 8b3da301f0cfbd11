"""Element-wise int8 -> int8 functions as a 256-entry table computed at compile time:
HardSwish, HardSigmoid, Sigmoid, Tanh, LeakyRelu, Add/Mul/Div by a constant, and
compositions of them (the older exporters' HardSwish pattern x * Clip(x + 3, 0, 6) / 6 is
one table).

attrs: steps, a tuple of (name, *args) applied in order to v, which starts as the input
x (see STEPS; "mul_input" multiplies by x itself), and act. table[q + 128] holds the
output for each of the 256 input values q, so the kernel is one load per byte and the
numpy reference and the C agree by construction. When the steps are one TFLite op with
parameters TFLite takes (a sigmoid to 1/256, a HardSwish, a requantization, ...), the
table is that op's integer algorithm run on the 256 inputs (ops/tflite_tables.py), so it
is TFLite's result exactly; otherwise it is the quantized f(real(q)), f in float64.
"""

import numpy as np

from mcugen.fixedpoint import round_half_away
from mcugen.ops import common, tflite_tables

KIND = "lut"
TAKES_ACTIVATION = True
RESHAPE_READ = "flat"


C_KERNELS = {
    "s8": common.CKernel("mcugen_lut_s8", (("mcugen_lut_s8_params_t", "p", ("size", "table")),), common.UNARY),
    "f32": common.CKernel("mcugen_lut_f32", (("mcugen_lut_step_f32_t", "steps", None), ("mcugen_lut_f32_params_t", "p", (
        "size", "count", "steps", "act_min", "act_max"))), common.UNARY, wrapped=True),
}


def _sigmoid(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # no overflow for any v


STEPS = {  # name: f(v, x, *args), in float64
    "affine": lambda v, x, scale, shift: v * scale + shift,
    "clip": lambda v, x, low, high: np.minimum(np.maximum(v, low), high),  # ONNX's Clip on low > high
    "hardsigmoid": lambda v, x, alpha, beta: np.clip(alpha * v + beta, 0.0, 1.0),
    "hardswish": lambda v, x: v * np.clip(v / 6.0 + 0.5, 0.0, 1.0),
    "leakyrelu": lambda v, x, alpha: np.where(v >= 0.0, v, alpha * v),
    "sigmoid": lambda v, x: _sigmoid(v),
    "tanh": lambda v, x: np.tanh(v),
    "mul_input": lambda v, x: v * x,
    # by a constant the model quantized (its integer k and scale): TFLite's ADD, SUB, MUL
    "add_q": lambda v, x, k, scale: v + k * scale,
    "sub_q": lambda v, x, k, scale: v - k * scale,
    "mul_q": lambda v, x, k, scale: v * (k * scale),
}


def evaluate(steps, x):
    v = x
    for name, *args in steps:
        v = STEPS[name](v, x, *args)
    return v


# The steps as the float kernel's step codes (mcugen_lut_f32.c): it walks them per element.
# The by-a-quantized-constant steps are affine ones there (float32 never takes a quantized model).
AS_AFFINE = {"add_q": lambda k, s: (1.0, k * s), "sub_q": lambda k, s: (1.0, -k * s), "mul_q": lambda k, s: (k * s, 0.0)}
STEP_CODES = {name: "MCUGEN_STEP_" + name.upper() for name in STEPS if name not in AS_AFFINE}


def _float_step(name, *args):
    return ("affine", *AS_AFFINE[name](*args)) if name in AS_AFFINE else (name, *args)


def float_fields(node) -> dict:
    """The float32 kernel walks the steps at run time: each as (code, a, b)."""
    steps = [dict(op=STEP_CODES[name], a=float(args[0]) if args else 0.0, b=float(args[1]) if len(args) > 1 else 0.0)
             for name, *args in (_float_step(*step) for step in node.attrs["steps"])]
    return dict(steps=steps, count=len(steps))


def output_shape(node, in_shape):
    return tuple(in_shape)


def run_float(node, x):
    return common.clamp_float(evaluate(node.attrs["steps"], x), node)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    """TFLite's table when one TFLite op computes the steps (then the fused clamp), else
    each input's f rounded to the output's grid."""
    act_min, act_max = common.clamp_range(node.attrs.get("act"), qout)
    table = tflite_tables.table(node.attrs["steps"], qin, qout)
    if table is None:
        table = round_half_away(run_float(node, _inputs(qin)) / qout.scale) + qout.zero_point
    return dict(table=np.clip(table, act_min, act_max).astype(np.int8))


def _inputs(q):
    """The real values of the 256 int8 inputs, in table order."""
    return q.scale * (np.arange(-128, 128) - q.zero_point)


def run_int8(node, x):
    return node.params["table"][x.astype(np.int64) + 128]


def arrays(node):
    return [("table", "int8_t", node.params["table"])]


def c_fields(node, in_shape, out_shape):
    return dict(size=int(np.prod(in_shape[1:])))


def access(node, in_shape, out_shape):
    """Byte by byte: byte i is read, then written."""
    return common.Access(np.arange(int(np.prod(in_shape[1:]))), 1)


def row_window(node) -> tuple[int, int, int]:
    """(kernel_h, stride_h, pad_top): byte by byte, so one output row reads its own input
    row (a row pipeline, planner/rows.py)."""
    return 1, 1, 0


def row_fields(node, in_shape) -> dict:
    """A row pipeline's call: one row's values."""
    return dict(size=str(int(np.prod(in_shape[2:]))))


def cost(node, in_shape, out_shape):
    return common.Cost(0, 256)


GRID = 1 << 14  # points per table's input range when measuring its slope


def error_bound(graph, node, e_in):
    """The function's largest slope over the input's range (measured on a fine grid) times
    the input's error, plus the table's own largest error: half an output LSB for a table
    of f rounded, what it is for TFLite's (measured on its 256 entries, against f clamped
    to the output's range: the bound assumes nothing is clipped)."""
    qin, qout = graph.tensors[node.input].q, graph.tensors[node.output].q
    reach = common.largest_magnitude(qin) + e_in
    x = np.linspace(-reach, reach, GRID)
    slope = np.max(np.abs(np.diff(run_float(node, x))) / (x[1] - x[0]))
    low, high = (qout.scale * (v - qout.zero_point) for v in common.clamp_range(node.attrs.get("act"), qout))
    exact = np.clip(run_float(node, _inputs(qin)), low, high)
    table = qout.scale * (node.params["table"].astype(np.float64) - qout.zero_point)
    return slope * e_in + max(float(np.max(np.abs(table - exact))), qout.scale / 2)
