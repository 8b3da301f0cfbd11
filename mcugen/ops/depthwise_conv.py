"""Depthwise 2-D convolution, channel multiplier 1: each channel convolved on its own.

attrs: weight [KH, KW, C] (channels innermost, as NHWC data), bias [C], kernel, strides,
dilations, pads (t, l, b, r), act.
"""

import numpy as np

from mcugen.layout import as_image
from mcugen.ops import common, pointwise_conv

KIND = "depthwise_conv"
CHANNEL_AXIS = 2  # weight [KH, KW, C]
TAKES_ACTIVATION = True
TAKES_PAD = True
RESHAPE_READ = "image"


C_KERNELS = {
    "s8": common.CKernel("mcugen_depthwise_conv_s8", (common.WINDOW, common.REQUANT,
                                                      ("mcugen_padded_copy_t", "copy", ("padded_h", "padded_w",
                                                                                         "unpaired"))),
                         ("&dims", "&q", *common.WEIGHTED, "&copy", "scratch"), wrapped=True),
    "f32": common.CKernel("mcugen_depthwise_conv_f32", (common.WINDOW, common.ACT), ("&dims", "&act", *common.WEIGHTED)),
}


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    out_h, out_w = common.window_output_hw(in_shape[1:3], node.attrs)
    return (in_shape[0], out_h, out_w, in_shape[3])


def accumulate(node, x, w, pad_value):
    x = x.reshape(as_image(x.shape))
    out_hw = common.window_output_hw(x.shape[1:3], node.attrs)
    acc = 0
    for ky, kx, view in common.taps(common.pad_nhwc(x, node.attrs["pads"], pad_value), node.attrs, out_hw):
        acc = acc + view * w[ky, kx, :]
    return acc


def run_float(node, x):
    return common.run_weighted_float(node, x, accumulate)


def run_int8(node, x):
    return common.run_weighted_int8(node, x, accumulate)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    return common.quantize_weighted(node, qin, qout, channel_axis=2)


def arrays(node):
    """The C keeps weights as int16 [C/4 blocks][KH*KW taps][4], each block's channels in
    the order c, c+2, c+1, c+3, zero past C: the DSP kernel reads a tap of four channels as
    two int16 pairs, (c, c+2) and (c+1, c+3), the halves SXTB16 and a mask split a word of
    input into (mcugen_depthwise_conv_s8.c, MCUGEN_DW_W)."""
    return [(name, "int16_t", block_weights(data)) if name == "weight" else (name, ctype, data)
            for name, ctype, data in common.weighted_arrays(node)]


def block_weights(weight: np.ndarray) -> np.ndarray:
    """[KH, KW, C] int8 -> int16 [ceil(C/4), KH*KW, 4] in channel order 0, 2, 1, 3."""
    kh, kw, c = weight.shape
    blocks = -(-c // 4)
    padded = np.zeros((kh * kw, blocks * 4), np.int16)
    padded[:, :c] = weight.reshape(kh * kw, c)
    return padded.reshape(kh * kw, blocks, 4)[:, :, [0, 2, 1, 3]].transpose(1, 0, 2)


PADDED_COPY_PIXELS = 12 * 12  # at or below this many outputs, borders are a third or more
PADDED_COPY_BYTES = 16 << 10  # a strided layer's copy is about its input's size: keep it small


def copy_candidate(node, in_shape, out_shape) -> int:
    """Bytes of scratch if the kernel could first copy the input into a zero-point-padded
    buffer, so that every 3x3 window lies inside it and takes the unrolled path (0 if not).
    Worth it on small maps, where border pixels (which would take the general path) are a
    large share. The planner chooses it (planner/decide.py) only where the arena has the
    bytes free anyway; it then reads the whole input first, and adds copy_fields to the C."""
    in_shape = as_image(in_shape)
    if not _copy_fits(node, in_shape, out_shape):
        return 0
    rows, cols = _padded_hw(node, out_shape)
    return rows * cols * in_shape[3]


def copy_fields(node, in_shape, out_shape) -> dict:
    """The padded copy's rows and columns, for the kernel (0 and 0: no copy)."""
    rows, cols = _padded_hw(node, out_shape)
    return dict(padded_h=rows, padded_w=cols)


def _copy_fits(node, in_shape, out_shape) -> bool:
    a = node.attrs
    if a["kernel"] != (3, 3) or a["dilations"] != (1, 1) or not any(a["pads"]):
        return False
    if out_shape[1] * out_shape[2] > PADDED_COPY_PIXELS:
        return False
    rows, cols = _padded_hw(node, out_shape)
    return a["strides"] == (1, 1) or rows * cols * in_shape[3] <= PADDED_COPY_BYTES


def _padded_hw(node, out_shape) -> tuple[int, int]:
    """Rows and columns of the padded copy: just what the output's windows cover."""
    (sh, sw) = node.attrs["strides"]
    return (out_shape[1] - 1) * sh + 3, (out_shape[2] - 1) * sw + 3


def c_fields(node, in_shape, out_shape):
    in_shape = as_image(in_shape)
    return dict(common.window_fields(node.attrs, in_shape, out_shape), fast=common.fast_requant(node),
                padded_h=0, padded_w=0)


def access(node, in_shape, out_shape):
    """Row-major output pixels, all channels of a pixel before the next, except that the
    unrolled 3x3 path computes the windows inside the input two pixels at a time
    (mcugen_depthwise_conv_s8.c, pixel_pairs): the second pixel of a pair is written
    while the first's window is still read, so it is declared reading from the first's
    window on."""
    in_shape = as_image(in_shape)
    acc = common.window_access(node.attrs, in_shape, out_shape)
    first = acc.first_read.reshape(out_shape[1], out_shape[2]).copy()
    for oy, ox in pixel_pairs(node, in_shape, out_shape):
        first[oy, ox + 1] = first[oy, ox]
    return common.Access(first.ravel(), acc.step_bytes)


def unpaired_access(node, in_shape, out_shape):
    """copy.unpaired (mcugen_padded_copy_t): one output pixel at a time, row-major windows (None when the kernel
    would pair no pixels of this layer anyway)."""
    in_shape = as_image(in_shape)
    if not pixel_pairs(node, in_shape, out_shape):
        return None
    return common.window_access(node.attrs, in_shape, out_shape)


def float_access(node, in_shape, out_shape):
    """The float kernel never pairs pixels (nor copies): row-major windows."""
    return common.window_access(node.attrs, as_image(in_shape), out_shape)


def pixel_pairs(node, in_shape, out_shape) -> list[tuple[int, int]]:
    """(oy, ox) of each pair of output pixels (ox, ox + 1) the kernel may compute together:
    on a 3x3 layer of column stride 1 or 2, the windows inside the input of each row,
    paired from the first on (an odd one left at the end runs alone). The kernel pairs
    them only when the layer's requantization is fast, but the plan is made before
    quantization (pipeline.build), so every such layer is declared paired: a layer that
    runs pixel by pixel stays within it."""
    a = node.attrs
    (sh, sw), (pt, pl) = a["strides"], a["pads"][:2]
    if a["kernel"] != (3, 3) or a.get("dilations", (1, 1)) != (1, 1) or sw > 2:
        return []
    cols = [ox for ox in range(out_shape[2]) if 0 <= ox * sw - pl < in_shape[2] - 2]
    rows = [oy for oy in range(out_shape[1]) if 0 <= oy * sh - pt < in_shape[1] - 2]
    return [(oy, ox) for oy in rows for ox in cols[:len(cols) - len(cols) % 2:2]]


# ---------------------------------------------------------------------------- streaming
# A pointwise conv before this layer may run inside it, row by row (planner.decide_streams;
# mcugen_pointwise_depthwise_s8.c): for each output row, the producer computes the
# rows the window adds into a window of kernel_h rows, then the row is convolved. The
# producer's output never exists whole; its input is read front to back as rows are added.


STREAM_KERNEL = "pointwise_depthwise"  # the kernel of a layer with its producer inside
# pw_: the producer's values (its structs and arrays), as the layer's own are for it
STREAM_C_KERNELS = {
    "s8": common.CKernel("mcugen_pointwise_depthwise_s8", (common.WINDOW, common.REQUANT),
                         ("&pw_dims", "&pw_q", "pw_weight", "pw_bias", "&dims", "&q", "weight", "bias", "pw_input",
                          "output", "scratch", "pw_scratch"), wrapped=True, needs=("pointwise_conv", "depthwise_conv")),
}


def can_stream(node, producer, src_shape) -> bool:
    return producer.op == "pointwise_conv" and len(src_shape) == 4 and node.attrs["dilations"] == (1, 1)


def _new_rows(node, mid_h, out_h) -> tuple[np.ndarray, np.ndarray]:
    """(first, last) producer row each output row's window adds: its rows inside the
    producer's output not computed for an earlier output row (none when first > last).
    Rows no window reaches (a stride above the kernel) are never computed."""
    (kh, _), (sh, _), pt = node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"][0]
    want = np.arange(out_h) * sh - pt
    last = np.minimum(mid_h - 1, want + kh - 1)
    done = np.maximum.accumulate(np.concatenate([[-1], last[:-1]]))  # computed before this row
    return np.maximum(done + 1, np.maximum(want, 0)), last


def stream_access(node, producer, src_shape, mid_shape, out_shape):
    """Output rows in order, each written after the producer has read the input rows its
    window adds (none: the step reads nothing). Exact: tests/test_overlap.py checks it
    against the template's loop."""
    _, h, w, c = as_image(src_shape)
    first, last = _new_rows(node, mid_shape[1], out_shape[1])
    return common.Access(np.where(last >= first, first * w * c, h * w * c), out_shape[2] * out_shape[3])


def stream_window_bytes(node, mid_shape) -> int:
    """The window: kernel_h rows of the producer's output (at most all of them), kept
    contiguous and in order, rounded up to a word: the producer's int32 scratch follows it
    (stream_scratch; the template places it at this offset)."""
    _, h, w, c = as_image(mid_shape)
    return -(-min(node.attrs["kernel"][0], h) * w * c // 4) * 4


def stream_scratch(node, producer, src_shape, mid_shape, out_shape):
    """The window, then the producer's own scratch."""
    return stream_window_bytes(node, mid_shape) + pointwise_conv.scratch(producer, src_shape, mid_shape)


row_window = common.row_window  # one output row at a time (planner/rows.py)
row_fields = common.row_fields


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    stored = 2 * w.shape[0] * w.shape[1] * -(-w.shape[2] // 4) * 4  # int16, in blocks of four (arrays)
    return common.Cost(int(np.prod(out_shape)) * w.shape[0] * w.shape[1], stored + 12 * w.shape[2])


def error_bound(graph, node, e_in):
    return common.weighted_error(graph, node, e_in, CHANNEL_AXIS)
