"""Shared test helpers: build small ONNX models, run generated C."""

from __future__ import annotations

import shutil
from pathlib import Path

import math

import numpy as np
import onnx
import pytest
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from mcugen import planner
from mcugen.ir import Graph, Node, QParams, Tensor
from mcugen.pipeline import Compiled
from mcugen.verify import run_c

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
KERNELS = ROOT / "mcugen" / "backend" / "kernels"  # the C kernel library
VWW = EXAMPLES / "vww_mobilenet_v1_025.onnx"
DIGITS = EXAMPLES / "digits_mobilenet_v1.onnx"
V2 = EXAMPLES / "mobilenet_v2_035_96.onnx"
V3 = EXAMPLES / "mobilenet_v3_small_075_96.onnx"
V3_LARGE = EXAMPLES / "mobilenet_v3_large_050_96.onnx"


def exports(path: Path) -> list[Path]:
    """An example network as built with onnx.helper, and its two torch exports."""
    return [path] + [path.with_name(f"{path.stem}_{exporter}.onnx") for exporter in ("torchscript", "dynamo")]

COMPILERS = [cc for cc in ("gcc", "clang") if shutil.which(cc)]


def require(cc: str) -> str:
    if not shutil.which(cc):
        pytest.skip(f"{cc} is not installed")
    return cc


def init(name: str, array) -> TensorProto:
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def model(nodes, input_shape, output_shape, initializers=(), opset=13, input_name="input",
          output_name="output", input_dims=None) -> onnx.ModelProto:
    """A single-input, single-output float model."""
    graph = helper.make_graph(
        nodes, "test",
        [helper.make_tensor_value_info(input_name, TensorProto.FLOAT, input_dims or list(input_shape))],
        [helper.make_tensor_value_info(output_name, TensorProto.FLOAT, list(output_shape))],
        list(initializers),
    )
    m = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    return m


def save(m: onnx.ModelProto, folder: Path, name: str = "model.onnx") -> Path:
    path = Path(folder) / name
    onnx.save(m, str(path))
    return path


def one_layer_graph(node: Node, in_shape, out_shape, qin=QParams(0.05, 3), qout=QParams(0.1, -5)) -> Graph:
    """A quantized graph of one hand-made node, for kernel tests with chosen parameters."""
    node.inputs, node.outputs = ["x"], ["y"]
    tensors = {"x": Tensor("x", tuple(in_shape), qin), "y": Tensor("y", tuple(out_shape), qout)}
    return Graph(tensors, [node], "x", "y", source="test")


# The DSP kernels' portable build: hosts run the same code paths as a Cortex-M4.
EMULATE_DSP = ("-DMCUGEN_EMULATE_DSP",)


def run_graph_c(graph: Graph, x: np.ndarray, cc: str = "cc", name: str = "t", dsp: bool = False) -> np.ndarray:
    """Generate C for a quantized graph, build it (plain, or the DSP kernels), run it on x."""
    compiled = Compiled(graph, planner.plan(graph), graph=graph)
    out = np.frombuffer(run_c(compiled, name, x, cc, extra_flags=EMULATE_DSP if dsp else ()), dtype=np.int8)
    return out.reshape((len(x),) + tuple(graph.shape(graph.output)[1:]))


# ---------------------------------------------------------------------------- kernel test draws
# Random kernel parameters (hypothesis draws), shared by the kernel tests of both
# precisions, through generated models (tests/test_*kernels*.py) and directly (tests/c).


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


ACTS = [None, (0.0, 6.0), (0.0, math.inf), (-0.5, 0.25), (-math.inf, 0.1), (1.0, -1.0)]


def with_act(draw, attrs: dict) -> dict:
    act = draw(st.sampled_from(ACTS))
    return attrs if act is None else dict(attrs, act=act)


STEPS = [("hardswish",), ("sigmoid",), ("hardsigmoid", 0.2, 0.5), ("hardsigmoid", 1 / 6, 0.5), ("mul_input",),
         ("affine", -1.5, 0.7), ("affine", 1 / 6, 0.0), ("clip", -0.5, 2.0), ("clip", 1.0, -1.0),
         ("clip", 0.0, math.inf)]
