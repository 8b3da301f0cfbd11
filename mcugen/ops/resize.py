"""Resizing an image's height and width: nearest neighbour (a gather) or bilinear (a
separable 2-tap blend). ONNX Resize and Upsample; TFLite's RESIZE_NEAREST_NEIGHBOR and
RESIZE_BILINEAR.

attrs: mode ("nearest" or "linear"), coordinate (ONNX's coordinate_transformation_mode:
half_pixel, pytorch_half_pixel, align_corners, asymmetric or tf_half_pixel_for_nn; or
TFLite's flags: tflite_half_pixel, tflite_align_corners, tflite_asymmetric), nearest_mode
(ONNX's: round_prefer_floor, round_prefer_ceil, floor, ceil), scales ((s_h, s_w) as the
model gives them, or None: output / input size), in_size and size (the input's and the
output's (H, W)).

Where each output row and column reads from is computed at compile time (axis_table), so
the kernels hold no coordinate arithmetic and the int8 one no float: per output row (and
likewise per column) the source index (nearest), or the two source indices i0, i1 and
i1's weight w (bilinear). The int8 bilinear kernel is TFLite's ResizeBilinearInteger:
10-bit weights, v = v00 (1024 - wy)(1024 - wx) + v10 wy (1024 - wx) + v01 (1024 - wy) wx
+ v11 wy wx, then v / 2^20 rounded half away from zero (TFLite Micro's default build).
The weights sum to 2^20, so the output keeps the input's scale and zero point, as nearest
does, and a fused activation has nowhere to go (TAKES_ACTIVATION stays False).

ONNX coordinates are computed exactly (rational arithmetic) as the operator defines them,
clamped to the image, and the weight rounded to the nearest 1/1024; TFLite's are its own
integer (int8) and float32 (float) computations, so the tables are its, index for index.
docs/numeric-contract.md states the arithmetic and the error bound.
"""

import math
from fractions import Fraction

import numpy as np

from mcugen.fixedpoint import rounding_divide_by_pot
from mcugen.layout import as_image
from mcugen.ops import common

KIND = "resize"
RESHAPE_READ = "image"
ONE = 1 << 10  # the bilinear weights' unit: 10 bits, as TFLite's integer kernel
HALF = Fraction(1, 2)

C_KERNELS = {
    "s8": common.CKernel("mcugen_resize_s8", (("mcugen_resize_s8_params_t", "p", (
        "in_w", "channels", "out_h", "out_w", "linear", "rows", "cols")),), common.UNARY),
    "f32": common.CKernel("mcugen_resize_f32", (("mcugen_resize_f32_params_t", "p", (
        "in_w", "channels", "out_h", "out_w", "linear", "rows", "cols", "wy", "wx")),), common.UNARY),
}

# ONNX's source coordinate of output index x (Fraction): n_in, n_out the lengths, s the scale.
SOURCE = {
    "half_pixel": lambda x, n_in, n_out, s: (x + HALF) / s - HALF,
    "pytorch_half_pixel": lambda x, n_in, n_out, s: (x + HALF) / s - HALF if n_out > 1 else Fraction(0),
    "align_corners": lambda x, n_in, n_out, s: Fraction(x * (n_in - 1), n_out - 1) if n_out > 1 else Fraction(0),
    "asymmetric": lambda x, n_in, n_out, s: x / s,
    "tf_half_pixel_for_nn": lambda x, n_in, n_out, s: (x + HALF) / s,
}
NEAREST = {
    "round_prefer_floor": lambda c: math.ceil(c - HALF),
    "round_prefer_ceil": lambda c: math.floor(c + HALF),
    "floor": math.floor,
    "ceil": math.ceil,
}
TFLITE = ("tflite_half_pixel", "tflite_align_corners", "tflite_asymmetric")


def axis_table(attrs, axis: int, integer: bool):
    """(i0, i1, w) for each output index along axis 0 (height) or 1 (width): the source
    indices, and i1's weight, in 1/1024 (integer) or as a float. Nearest: i1 = i0, w = 0.
    Where one weighs nothing the other is the same pixel: i1 = i0 exactly when w = 0."""
    n_in, n_out = attrs["in_size"][axis], attrs["size"][axis]
    if attrs["coordinate"] in TFLITE:
        i0, i1, w = _tflite_axis(attrs["mode"], attrs["coordinate"], n_in, n_out, integer)
    else:
        scale = _scale(attrs.get("scales"), axis, n_in, n_out)
        # An axis of scale 1 stays as it is, as onnxruntime has it (tf_half_pixel_for_nn would move it).
        transform = SOURCE[attrs["coordinate"]] if scale != 1 else lambda x, *_: Fraction(x)
        source = [transform(x, n_in, n_out, scale) for x in range(n_out)]
        if attrs["mode"] == "nearest":
            i0 = np.array([min(max(NEAREST[attrs["nearest_mode"]](c), 0), n_in - 1) for c in source])
            i1, w = i0, np.zeros(n_out)
        else:
            clamped = [min(max(c, Fraction(0)), Fraction(n_in - 1)) for c in source]
            i0 = np.array([math.floor(c) for c in clamped])
            i1 = np.minimum(i0 + 1, n_in - 1)
            fraction = [c - math.floor(c) for c in clamped]
            w = np.array([math.floor(f * ONE + HALF) if integer else float(f) for f in fraction])
    assert i0.min() >= 0 and max(i0.max(), i1.max()) < n_in, f"resize tables outside the input: {n_in} -> {n_out}"
    w = np.where(i0 == i1, 0, w)
    return i0.astype(np.int64), np.where(w == 0, i0, i1).astype(np.int64), w


def _scale(scales, axis, n_in, n_out) -> Fraction:
    """ONNX's scale along an axis: the given one, or n_out / n_in. A given scale that is
    n_out / n_in rounded to float32 (0.6f for 5 -> 3) is taken as that ratio exactly."""
    if scales is None or np.float32(scales[axis]) == np.float32(n_out / n_in):
        return Fraction(n_out, n_in)
    return Fraction(scales[axis])


def _tflite_axis(mode, coordinate, n_in, n_out, integer):
    """TFLite's reference kernels (reference/resize_nearest_neighbor.h, resize_bilinear.h):
    GetNearestNeighbor in float32; ComputeInterpolationValuesInteger with its 10-bit scale
    (int8), ComputeInterpolationValues in float32 (float)."""
    align, half = coordinate == "tflite_align_corners", coordinate == "tflite_half_pixel"
    f32, x = np.float32, np.arange(n_out)
    if integer and mode == "linear":
        scale = ((ONE * (n_in - 1) + (n_out - 1) // 2) // (n_out - 1) if align and n_out > 1
                 else (ONE * n_in + n_out // 2) // n_out)
        scaled = x * scale + scale // 2 - ONE // 2 if half else x * scale  # >= -512: C's / and // agree below
        i0 = np.maximum(scaled // ONE, 0)
        return i0, np.minimum((scaled + ONE - 1) // ONE, n_in - 1), scaled - ONE * i0
    scale = f32(n_in - 1) / f32(n_out - 1) if align and n_out > 1 else f32(n_in) / f32(n_out)
    if mode == "nearest":
        v = ((x.astype(f32) + f32(0.5 if half else 0.0)) * scale).astype(np.float64)  # TfLiteRound: half away
        i0 = np.minimum((np.floor(v + 0.5) if align else np.floor(v)).astype(np.int64), n_in - 1)
        i0 = np.maximum(i0, 0) if half else i0
        return i0, i0, np.zeros(n_out)
    v = (x.astype(f32) + f32(0.5)) * scale - f32(0.5) if half else x.astype(f32) * scale
    i0 = np.maximum(np.floor(v), 0).astype(np.int64)
    return i0, np.minimum(np.ceil(v).astype(np.int64), n_in - 1), v.astype(np.float64) - i0


def _tables(node, integer: bool):
    return axis_table(node.attrs, 0, integer), axis_table(node.attrs, 1, integer)


def _index_table(table, linear: bool, with_weight: bool) -> np.ndarray:
    """An axis' table as the C reads it, int16 [n, k]: i0 (nearest), or i0, i1 (and w)."""
    i0, i1, w = table
    columns = ([i0, i1, w] if with_weight else [i0, i1]) if linear else [i0]
    return np.stack(columns, axis=1).astype(np.int16)


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    assert tuple(in_shape[1:3]) == tuple(node.attrs["in_size"]), "resize tables are for another input size"
    return (in_shape[0], *node.attrs["size"], in_shape[3])


def _blend(x, rows, cols, one):
    """Bilinear blend of x [N, H, W, C] with (i0, i1, w) tables: along the width, then the height."""
    (y0, y1, wy), (x0, x1, wx) = rows, cols
    wx, wy = wx[None, None, :, None], wy[None, :, None, None]
    horizontal = x[:, :, x0] * (one - wx) + x[:, :, x1] * wx
    return horizontal[:, y0] * (one - wy) + horizontal[:, y1] * wy


def run_float(node, x):
    x = x.reshape(as_image(x.shape))
    rows, cols = _tables(node, integer=False)
    if node.attrs["mode"] == "nearest":
        return x[:, rows[0]][:, :, cols[0]]
    return _blend(x, rows, cols, 1.0)


def output_qparams(node, qin, observed):
    return qin  # a gather, or a blend whose weights sum to one: the input's range


def quantize(node, qin, qout):
    assert qout == qin, "the kernel has no requantization: output_qparams keeps the input's"
    rows, cols = _tables(node, integer=True)
    linear = node.attrs["mode"] == "linear"
    return dict(rows=_index_table(rows, linear, True), cols=_index_table(cols, linear, True))


def run_int8(node, x):
    p = node.params
    x = x.reshape(as_image(x.shape)).astype(np.int64)
    rows, cols = p["rows"].astype(np.int64).T, p["cols"].astype(np.int64).T
    if len(rows) == 1:  # nearest
        return x[:, rows[0]][:, :, cols[0]].astype(np.int8)
    return rounding_divide_by_pot(_blend(x, rows, cols, ONE), 20).astype(np.int8)


def arrays(node):
    return [("rows", "int16_t", node.params["rows"]), ("cols", "int16_t", node.params["cols"])]


def float_arrays(node):
    """The index tables (int16) and, bilinear, the weights as floats."""
    rows, cols = _tables(node, integer=False)
    linear = node.attrs["mode"] == "linear"
    found = [("rows", _index_table(rows, linear, False)), ("cols", _index_table(cols, linear, False))]
    return found + ([("wy", rows[2]), ("wx", cols[2])] if linear else [])


def float_fields(node) -> dict:
    return {} if node.attrs["mode"] == "linear" else dict(wy="NULL", wx="NULL")


def c_fields(node, in_shape, out_shape):
    in_shape = as_image(in_shape)
    return dict(in_w=in_shape[2], channels=in_shape[3], out_h=out_shape[1], out_w=out_shape[2],
                linear=int(node.attrs["mode"] == "linear"))


def _access(rows, in_shape, out_shape) -> common.Access:
    """Output row by output row; row oy reads input rows i0 and i1 >= i0 only."""
    in_shape = as_image(in_shape)
    return common.Access(rows[0] * in_shape[2] * in_shape[3], out_shape[2] * out_shape[3])


def access(node, in_shape, out_shape):
    return _access(_tables(node, integer=True)[0], in_shape, out_shape)


def float_access(node, in_shape, out_shape):
    return _access(_tables(node, integer=False)[0], in_shape, out_shape)


def cost(node, in_shape, out_shape):
    taps = 4 if node.attrs["mode"] == "linear" else 0
    rows, cols = node.attrs["size"]
    return common.Cost(int(np.prod(out_shape)) * taps, 2 * (rows + cols) * (3 if taps else 1))


def error_bound(graph, node, e_in):
    """Nearest: exact (the float model gathers the same pixels). Bilinear: the blend is a
    convex combination (e_in passes unchanged), rounded once (half an LSB), with each
    source coordinate off by d_y, d_x from the float model's (the 10-bit weights; TFLite's
    integer scale too): a bilinear surface moves by at most 255 s (d_y + d_x) then."""
    if node.attrs["mode"] == "nearest":
        return e_in
    q = graph.tensors[node.input].q
    return e_in + 255 * q.scale * (_coordinate_error(node, 0) + _coordinate_error(node, 1)) + q.scale / 2


def _coordinate_error(node, axis: int) -> float:
    """The largest difference between the int8 kernel's source coordinate (i0 + w / 1024)
    and the float one along an axis."""
    (i0, _, w), (f0, _, f) = axis_table(node.attrs, axis, True), axis_table(node.attrs, axis, False)
    return float(np.max(np.abs(i0 + w / ONE - (f0 + f))))
