"""Quantization: parameter choice, weight and bias quantization, calibration options."""

import numpy as np
import pytest
from helpers import init, model, save
from hypothesis import given
from hypothesis import strategies as st
from onnx import helper

from mcugen import pipeline
from mcugen.errors import McugenError
from mcugen.ir import Node, QParams
from mcugen.ops import common
from mcugen.quant.quantize import choose_qparams, dequantize, quantize_input


@given(st.floats(-1e3, 1e3), st.floats(0, 1e3))
def test_qparams_cover_the_range_and_represent_zero(low, width):
    high = low + width
    q = choose_qparams(low, high)
    assert -128 <= q.zero_point <= 127 and q.scale > 0
    # Real zero is exactly representable: zero padding is exact.
    assert dequantize(np.array([q.zero_point]), q)[0] == 0.0
    lo, hi = dequantize(np.array([-128, 127]), q)
    step = q.scale
    assert lo <= min(low, 0) + step and hi >= max(high, 0) - step


def test_weights_are_per_channel_symmetric_and_bias_folds_the_zero_point():
    rng = np.random.default_rng(0)
    w = rng.normal(size=(4, 3, 3, 2)) * np.array([1, 10, 0.1, 0])[:, None, None, None]  # one channel all zero
    node = Node("c", "conv", [], [], dict(weight=w, bias=np.array([0.5, -1.0, 0.0, 2.0])))
    qin, qout = QParams(0.02, 5), QParams(0.05, -3)
    p = common.quantize_weighted(node, qin, qout, channel_axis=0)
    assert p["weight"].dtype == np.int8
    assert [int(np.abs(p["weight"][c]).max()) for c in range(3)] == [127, 127, 127]
    assert not p["weight"][3].any()
    # Dequantized weights are within half a step of the float ones.
    scale = np.abs(w).reshape(4, -1).max(axis=1) / 127
    for c in range(3):
        assert np.max(np.abs(p["weight"][c] * scale[c] - w[c])) <= scale[c] / 2 + 1e-12
    # bias' = round(b / (s_in s_w)) - zp_in * sum(w_q)
    for c in range(3):
        expected = np.round(node.attrs["bias"][c] / (qin.scale * scale[c])) - 5 * int(p["weight"][c].astype(int).sum())
        assert p["bias"][c] == expected
    # The multiplier encodes s_in * s_w / s_out.
    for c in range(3):
        m = p["mult"][c] * 2.0 ** (int(p["shift"][c]) - 31)
        assert m == pytest.approx(qin.scale * scale[c] / qout.scale, rel=1e-8)


def one_conv(tmp_path):
    nodes = [helper.make_node("Conv", ["input", "w"], ["output"], name="c")]
    return save(model(nodes, [1, 1, 4, 4], [1, 1, 4, 4], [init("w", [[[[1.0]]]])]), tmp_path)


def test_percentile_calibration_ignores_an_outlier(tmp_path):
    path = one_conv(tmp_path)
    x = np.random.default_rng(0).uniform(-1, 1, size=(64, 1, 4, 4)).astype(np.float32)
    x[0, 0, 0, 0] = 100.0  # one outlier pixel
    np.savez(tmp_path / "calib.npz", input=x)
    full = pipeline.build(path, tmp_path / "calib.npz")
    clipped = pipeline.build(path, tmp_path / "calib.npz", percentile=99.0)
    s_full = full.graph.tensors["input"].q.scale
    s_clip = clipped.graph.tensors["input"].q.scale
    assert s_full >= 100 / 255 * 0.99
    assert s_clip < 2.1 / 255  # the range is about [-1, 1]
    assert full.warnings == [] and not full.calibration.synthetic


def test_bad_percentile(tmp_path):
    with pytest.raises(McugenError, match="percentile"):
        pipeline.build(one_conv(tmp_path), percentile=20.0)


def test_input_quantization_round_trips():
    q = QParams(2 / 255, -1)
    x = np.linspace(-1, 1, 101)
    assert np.max(np.abs(dequantize(quantize_input(x, q), q) - x)) <= q.scale / 2 + 1e-12
