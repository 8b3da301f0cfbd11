"""Kernel tests' shared strategies: windows, requantization parameters, one layer run in C."""

import copy
import math
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from helpers import COMPILERS, one_layer_graph, run_graph_c
from mcugen import ops

SETTINGS = settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])


CC = COMPILERS[0] if COMPILERS else "cc"


def requant_params(draw, channels, in_zp=None):
    """Anything the contract allows; half the time within the fast requantization's domain
    (normalized multipliers, right shifts >= 2), as calibrated layers are."""
    act_min = draw(st.integers(-128, 127))
    fast = draw(st.booleans())
    mults = st.integers(2**30 + 1, 2**31 - 1) if fast else st.integers(0, 2**31 - 1)
    shifts = st.integers(-31, -2) if fast else st.integers(-31, 6)
    return dict(
        mult=np.array(draw(st.lists(mults, min_size=channels, max_size=channels)), np.int32),
        shift=np.array(draw(st.lists(shifts, min_size=channels, max_size=channels)), np.int32),
        bias=np.array(draw(st.lists(st.integers(-2**20, 2**20), min_size=channels, max_size=channels)), np.int32),
        input_zp=draw(st.integers(-128, 127)) if in_zp is None else in_zp,
        output_zp=draw(st.integers(-128, 127)),
        act_min=act_min,
        act_max=draw(st.integers(act_min, 127)),
    )


@st.composite
def window(draw, max_kernel=5):
    kernel = (draw(st.integers(1, max_kernel)), draw(st.integers(1, max_kernel)))
    dil = (draw(st.integers(1, 2)), draw(st.integers(1, 2)))
    pads = tuple(draw(st.integers(0, 3)) for _ in range(4))
    strides = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    reach = ((kernel[0] - 1) * dil[0] + 1, (kernel[1] - 1) * dil[1] + 1)
    h = draw(st.integers(max(1, reach[0] - pads[0] - pads[2]), 10))
    w = draw(st.integers(max(1, reach[1] - pads[1] - pads[3]), 10))
    return dict(kernel=kernel, dilations=dil, pads=pads, strides=strides), (h, w)


@st.composite
def pool_window(draw):
    """A pooling window: no dilation, padding below the kernel (ONNX), a map the kernel fits."""
    attrs, (h, w) = draw(window(max_kernel=4))
    attrs["dilations"] = (1, 1)
    attrs["pads"] = tuple(min(p, k - 1) for p, k in zip(attrs["pads"], attrs["kernel"] * 2))  # ONNX: pad < kernel
    return attrs, (max(h, attrs["kernel"][0]), max(w, attrs["kernel"][1]))


def check(node, in_shape, rng, batch=3):
    """The C against the reference; every other example builds the DSP kernels instead."""
    out_shape = ops.get(node.op).output_shape(node, in_shape)
    graph = one_layer_graph(node, in_shape, out_shape)
    x = rng.integers(-128, 128, size=(batch, *in_shape[1:]), dtype=np.int8)
    want = ops.get(node.op).run_int8(node, x)
    got = run_graph_c(graph, x, CC, dsp=bool(rng.integers(2)))
    assert got.shape == want.shape
    np.testing.assert_array_equal(got, want)
    return want


def int8_weights(rng, shape):
    return rng.integers(-127, 128, size=shape).astype(np.int8)


def clamp(draw):
    low = draw(st.integers(-128, 127))
    return dict(act_min=low, act_max=draw(st.integers(low, 127)))


def add_params(draw):
    """Input multipliers below 1 (TFLite's: s_i / 2 max(s_a, s_b) <= 1/2), any output one."""
    mult = lambda: draw(st.sampled_from([0, 1, 2**30, 2**31 - 1]) | st.integers(0, 2**31 - 1))  # noqa: E731
    return dict(a_zp=draw(st.integers(-128, 127)), a_mult=mult(), a_shift=draw(st.integers(-31, 0)),
                b_zp=draw(st.integers(-128, 127)), b_mult=mult(), b_shift=draw(st.integers(-31, 0)),
                output_zp=draw(st.integers(-128, 127)), output_mult=mult(), output_shift=draw(st.integers(-31, 30)),
                **clamp(draw))


RESIZE_COORDINATES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric", "tf_half_pixel_for_nn",
                      "tflite_half_pixel", "tflite_align_corners", "tflite_asymmetric"]
NEAREST_MODES = ["round_prefer_floor", "round_prefer_ceil", "floor", "ceil"]


def resize_attrs(mode, coordinate, in_hw, out_hw, nearest_mode="round_prefer_floor", scales=None) -> dict:
    return dict(mode=mode, coordinate=coordinate, nearest_mode=nearest_mode, scales=scales, in_size=tuple(in_hw),
                size=tuple(out_hw))


@st.composite
def resize(draw, max_hw=12):
    """A resize node's attrs (any mode, coordinates, sizes up or down) and its input's (H, W)."""
    in_hw = (draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw)))
    out_hw = (draw(st.integers(1, 2 * max_hw)), draw(st.integers(1, 2 * max_hw)))
    return resize_attrs(draw(st.sampled_from(["nearest", "linear"])), draw(st.sampled_from(RESIZE_COORDINATES)),
                        in_hw, out_hw, draw(st.sampled_from(NEAREST_MODES))), in_hw


ACTS = [None, (0.0, 6.0), (0.0, math.inf), (-0.5, 0.25), (-math.inf, 0.1), (1.0, -1.0)]


def with_act(draw, attrs: dict) -> dict:
    act = draw(st.sampled_from(ACTS))
    return attrs if act is None else dict(attrs, act=act)


STEPS = [("hardswish",), ("sigmoid",), ("leakyrelu", 0.1), ("leakyrelu", -0.3),
         ("hardsigmoid", 0.2, 0.5), ("hardsigmoid", 1 / 6, 0.5), ("mul_input",),
         ("affine", -1.5, 0.7), ("affine", 1 / 6, 0.0), ("clip", -0.5, 2.0), ("clip", 1.0, -1.0),
         ("clip", 0.0, math.inf)]


def unclamped(node, magnitudes: bool = False):
    """A copy of a float node without its fused clamp; magnitudes=True: with |weight| and
    |bias| too. Run on |x|, that bounds every partial sum the float kernel forms, which is
    the scale float32 rounding works at (a clamp or a cancellation narrows the output only)."""
    node = copy.copy(node)
    node.attrs = {k: np.abs(v) if magnitudes and k in ("weight", "bias") else v
                  for k, v in node.attrs.items() if k != "act"}
    return node


def build_requant_check(source_text: str, folder, variant) -> Path:
    """A C test program of the requantization helpers (the kernel headers on the include path),
    built with UBSan where the compiler has it (any overflow then fails the run), else plain."""
    import subprocess

    from helpers import KERNELS

    src = Path(folder) / "requant_check.c"
    src.write_text(source_text)
    binary = Path(folder) / "requant_check"
    base = [CC, "-std=c99", "-O2", *variant, "-I", str(KERNELS), str(src), "-o", str(binary)]
    if subprocess.run(base[:1] + ["-fsanitize=undefined", "-fno-sanitize-recover"] + base[1:]).returncode:
        subprocess.run(base, check=True)
    return binary
