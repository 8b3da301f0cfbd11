"""The standard conv's DSP weight order (ops/conv.py block_weights): read the way the DSP
kernel reads it against a window's rows read as words of int8, it gives each channel's dot
product; and the C, DSP paths on the host, is bit-exact on the shapes that exercise each of
its branches (pairs of pixels, the one-pixel and gathered border paths, channel counts past
a block of 4 and past the pairs' limit, row lengths of each remainder, back to front: tests/planner/test_backward.py)."""

import numpy as np
import pytest
from helpers import QIN, QOUT, one_layer_graph
from helpers.kernels import CC
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen import ops, planner
from mcugen.ir import Node
from mcugen.ops import conv
from mcugen.pipeline import Compiled
from mcugen.verify import run_c


def sxtb16(word: int) -> tuple[int, int]:
    """Bytes 0 and 2 of a 32-bit word, sign-extended: the int16 pair SXTB16 gives."""
    b = [((word >> (8 * i)) & 0xFF) for i in range(4)]
    return tuple(v - 256 if v > 127 else v for v in (b[0], b[2]))


def halves(v: int) -> tuple[int, int]:
    """An int16 pair's halves as SMLAD reads them (bits 0-15, 16-31, signed)."""
    lo, hi = v & 0xFFFF, (v >> 16) & 0xFFFF
    return lo - 65536 if lo > 32767 else lo, hi - 65536 if hi > 32767 else hi


def kernel_dot(stored: np.ndarray, window: np.ndarray, out_c: int) -> np.ndarray:
    """Each channel's dot product as mcugen_conv_rows_s8 sums it: per block of 4 channels and
    kernel row, the row's bytes read as little-endian words (the last 1 to 3 with zeros past
    them), SXTB16 of each word and of it shifted one byte, a single last byte as its own
    sign-extended word; one SMLAD per word of input and word of weights."""
    kh, row_len = window.shape
    words = -(-row_len // 4) * 2 if row_len % 4 != 1 else row_len // 4 * 2 + 1
    w = stored.astype(np.int64).reshape(-1, kh, words, 4, 2)  # [block, ky, word, channel, half]
    out = np.zeros(w.shape[0] * 4, dtype=np.int64)
    for b in range(w.shape[0]):
        for ky in range(kh):
            row = [int(v) & 0xFF for v in window[ky]] + [0, 0, 0, 0]
            k = 0
            for c in range(0, row_len, 4):
                if row_len - c == 1:  # one tap: the byte, sign-extended, against (t, 0)
                    x = row[c] - 256 if row[c] > 127 else row[c]
                    pairs = [(x, -1 if x < 0 else 0)]
                else:
                    word = sum(row[c + i] << (8 * i) for i in range(4))
                    pairs = [sxtb16(word), sxtb16(word >> 8)]
                for xa in pairs:
                    for ch in range(4):
                        out[4 * b + ch] += xa[0] * int(w[b, ky, k, ch, 0]) + xa[1] * int(w[b, ky, k, ch, 1])
                    k += 1
    return out[:out_c]


@settings(max_examples=40, deadline=None)
@given(out_c=st.integers(1, 9), kh=st.integers(1, 3), kw=st.integers(1, 3), in_c=st.integers(1, 5),
       seed=st.integers(0, 2**32 - 1))
def test_the_dsp_order_holds_each_channels_dot_product(out_c, kh, kw, in_c, seed):
    rng = np.random.default_rng(seed)
    w = rng.integers(-127, 128, size=(out_c, kh, kw, in_c)).astype(np.int8)
    window = rng.integers(-128, 128, size=(kh, kw * in_c))
    want = w.reshape(out_c, -1).astype(np.int64) @ window.reshape(-1)
    stored = conv.block_weights(w)
    assert stored.dtype == np.int16 and len(stored) == 8 * -(-out_c // 4) * kh * conv.row_words(kw * in_c)
    np.testing.assert_array_equal(kernel_dot(stored, window, out_c), want)
    # The C array holds both orders at one size; the plain one (M0+) is [O][taps rounded up to even].
    arrays = {name: data for name, _, data in conv.arrays(_node(w, rng))}
    both = arrays["weight"]
    assert both.dsp.shape == both.plain.shape
    plain = both.plain[:out_c * (kh * kw * in_c + (kh * kw * in_c) % 2)].reshape(out_c, -1)
    np.testing.assert_array_equal(plain[:, :kh * kw * in_c], w.reshape(out_c, -1))


def _node(w, rng, **attrs):
    out_c = len(w)
    a = dict(kernel=w.shape[1:3], strides=(2, 2), dilations=(1, 1), pads=(0, 0, 1, 1), act=(-np.inf, np.inf))
    a.update(attrs)
    node = Node("c", "conv", [], [], dict(a, weight=w.astype(float)))
    node.params = dict(weight=w, bias=rng.integers(-2**14, 2**14, size=out_c).astype(np.int32),
                       mult=rng.integers(2**30 + 1, 2**31 - 1, size=out_c).astype(np.int32),
                       shift=rng.integers(-12, -6, size=out_c).astype(np.int32),
                       input_zp=int(QIN.zero_point), output_zp=int(QOUT.zero_point), act_min=-128, act_max=127)
    return node


@pytest.mark.parametrize("flags", [("-DMCUGEN_EMULATE_DSP",), ()], ids=["dsp", "plain"])
@pytest.mark.parametrize("shape", [
    (8, (3, 3), 3, (2, 2), (0, 0, 1, 1), (15, 17)),   # conv1's: rows of 9 bytes (two words and one), pairs
    (6, (3, 3), 2, (1, 1), (1, 1, 1, 1), (7, 9)),     # rows of 6 (a word and two bytes), a partial block
    (5, (2, 3), 1, (1, 2), (1, 0, 0, 2), (6, 11)),    # rows of 3 (one partial word)
    (40, (3, 3), 4, (2, 2), (1, 1, 1, 1), (7, 8)),    # rows of 12 (whole words); past the pairs' 32 channels
    (4, (1, 3), 3, (1, 3), (0, 1, 0, 1), (3, 10)),    # stride 3: pairs' second windows further on
], ids=["conv1", "rem2", "rem3", "wide", "stride3"])
def test_the_c_is_bit_exact_on_each_path(flags, shape):

    out_c, kernel, in_c, strides, pads, (h, w_) = shape
    rng = np.random.default_rng(out_c * 7 + in_c)
    w = rng.integers(-127, 128, size=(out_c, *kernel, in_c)).astype(np.int8)
    node = _node(w, rng, kernel=kernel, strides=strides, pads=pads)
    in_shape = (1, h, w_, in_c)
    out_shape = ops.get("conv").output_shape(node, in_shape)
    graph = one_layer_graph(node, in_shape, out_shape)
    x = rng.integers(-128, 128, size=(2, *in_shape[1:]), dtype=np.int8)
    want = ops.get("conv").run_int8(node, x)
    compiled = Compiled(graph, planner.plan(graph), graph=graph)
    got = np.frombuffer(run_c(compiled, "t", x, CC, extra_flags=flags), dtype=np.int8).reshape(want.shape)
    np.testing.assert_array_equal(got, want)
