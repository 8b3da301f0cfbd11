"""Standard 2-D convolution (group 1): NHWC input, OHWI weights, any kernel/stride/padding.

attrs: weight [O, KH, KW, I], bias [O], kernel, strides, dilations, pads (t, l, b, r), act.
"""

import numpy as np

from mcugen.layout import as_image
from mcugen.ops import base, common

KIND = "conv"
CHANNEL_AXIS = 0  # weight [O, KH, KW, I]
TAKES_ACTIVATION = True
TAKES_PAD = True
RESHAPE_READ = "image"


WINDOW_S8 = (*common.WINDOW[:2], (*common.WINDOW[2], "backward"))  # dims.backward: the plan's direction
C_KERNELS = {
    "s8": common.CKernel("mcugen_conv_s8", (WINDOW_S8, common.REQUANT), ("&dims", "&q", *common.WEIGHTED, "scratch16"),
                         wrapped=True),
    "f32": common.CKernel("mcugen_conv_f32", (common.WINDOW, common.ACT), ("&dims", "&act", *common.WEIGHTED)),
}


def output_shape(node, in_shape):
    in_shape = as_image(in_shape)
    out_h, out_w = common.window_output_hw(in_shape[1:3], node.attrs)
    return (in_shape[0], out_h, out_w, node.attrs["weight"].shape[0])


def accumulate(node, x, w, pad_value):
    """Sum over taps of input[tap] . weight[:, tap]; padding holds `pad_value` (real zero)."""
    x = x.reshape(as_image(x.shape))
    out_hw = common.window_output_hw(x.shape[1:3], node.attrs)
    acc = 0
    for ky, kx, view in common.taps(common.pad_nhwc(x, node.attrs["pads"], pad_value), node.attrs, out_hw):
        acc = acc + view @ w[:, ky, kx, :].T
    return acc


def run_float(node, x):
    return common.run_weighted_float(node, x, accumulate)


def run_int8(node, x):
    return common.run_weighted_int8(node, x, accumulate)


output_qparams = common.observed_qparams


def quantize(node, qin, qout):
    return common.quantize_weighted(node, qin, qout, channel_axis=0)


def _taps(node) -> int:
    return int(np.prod(node.attrs["weight"].shape[1:]))


def plain_weights(w: np.ndarray) -> np.ndarray:
    """The plain cores' order (M0+): int16 [O][taps rounded up to even], taps in [ky][kx][ic]
    order, as the kernel's gathered window."""
    flat = w.reshape(len(w), -1).astype(np.int16)
    return np.pad(flat, ((0, 0), (0, flat.shape[1] % 2))).reshape(-1)


def row_words(row_len: int) -> int:
    """Words (int16 pairs) of one kernel row of row_len = kernel_w * in_c taps in the DSP order:
    two per group of 4 taps, then one for a last single tap, two for a last 2 or 3."""
    rem = row_len % 4
    return 2 * (row_len // 4) + (rem if rem < 2 else 2)


def block_weights(w: np.ndarray) -> np.ndarray:
    """The DSP cores' order (mcugen_conv_s8.c, mcugen_conv_rows_s8): int16 pairs as SMLAD
    reads them against the window's rows read as words of int8 straight from the input,
    [block of 4 output channels][ky][word][channel of the block][2]. A kernel row's taps
    kx, ic are row_len contiguous bytes of the input; each group of 4 is two words, taps
    (0, 2) then (1, 3) (what SXTB16 and SXTB16 ROR 8 give of a word of input); a last
    single tap is one word (t, 0) (its byte, sign-extended, is its own int16 pair); a last
    2 or 3 taps are a group with zeros. Channels past O (to a multiple of 4) are zeros."""
    out_c, kh, kw, in_c = w.shape
    row_len, blocks = kw * in_c, -(-out_c // 4)
    padded = np.zeros((4 * blocks, kh, row_len + (-row_len) % 4), dtype=np.int64)
    padded[:out_c, :, :row_len] = w.reshape(out_c, kh, row_len)
    groups = padded.reshape(4 * blocks, kh, -1, 4)  # [oc, ky, group, tap]
    pairs = np.stack([groups[..., [0, 2]], groups[..., [1, 3]]], axis=3)  # [oc, ky, group, word, half]
    words = pairs.reshape(4 * blocks, kh, -1, 2)[:, :, :row_words(row_len)]  # a single last tap: (t, 0)
    by_block = words.reshape(blocks, 4, kh, words.shape[2], 2).transpose(0, 2, 3, 1, 4)
    return by_block.reshape(-1).astype(np.int16)


def arrays(node):
    """The weights as int16 (a dot product takes two MACs per SMLAD), in each kernel's order
    (base.ByCore: one C array, the longer order's size, the shorter zero-padded at its end)."""
    out = []
    for name, ctype, data in common.weighted_arrays(node):
        if name == "weight":
            dsp, plain = block_weights(data), plain_weights(data)
            size = max(len(dsp), len(plain))
            ctype, data = "int16_t", base.ByCore(dsp=np.pad(dsp, (0, size - len(dsp))),
                                                 plain=np.pad(plain, (0, size - len(plain))))
        out.append((name, ctype, data))
    return out


def scratch(node, in_shape, out_shape):
    """One pixel's window: as int16, rounded up to an even count (the plain kernel); as int8
    and 4 bytes the DSP kernel reads past its last row (mcugen_conv_rows_s8), where more."""
    return max(2 * (_taps(node) + _taps(node) % 2), _taps(node) + 4)


def c_fields(node, in_shape, out_shape):
    return dict(common.window_fields(node.attrs, as_image(in_shape), out_shape),
                fast=common.fast_requant(node))


def access(node, in_shape, out_shape):
    return common.window_access(node.attrs, as_image(in_shape), out_shape)


def backward_access(node, in_shape, out_shape):
    """dims.backward: the output pixels from the last to the first."""
    return common.window_access_backward(node.attrs, as_image(in_shape), out_shape)


row_window = common.row_window  # one output row at a time (planner/rows.py)
row_fields = common.row_fields


def cost(node, in_shape, out_shape):
    w = node.attrs["weight"]
    out_c, kh, kw, in_c = w.shape
    dsp = 2 * -(-out_c // 4) * 4 * kh * row_words(kw * in_c)  # int16s, as arrays() keeps them
    stored = 2 * max(dsp, out_c * (_taps(node) + _taps(node) % 2))
    return common.Cost(int(np.prod(out_shape)) * _taps(node), stored + 12 * w.shape[0])


def error_bound(graph, node, e_in):
    return common.weighted_error(graph, node, e_in, CHANNEL_AXIS)
