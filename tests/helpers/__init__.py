"""Shared test helpers: build small ONNX models, run generated C."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mcugen import planner
from mcugen.ir import Graph, Node, QParams, Tensor
from mcugen.pipeline import Compiled
from mcugen.verify import run_c

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
KERNELS = ROOT / "mcugen" / "backend" / "kernels"  # the C kernel library
VWW = EXAMPLES / "vww_mobilenet_v1_025.onnx"
DIGITS = EXAMPLES / "digits_mobilenet_v1.onnx"
V2 = EXAMPLES / "mobilenet_v2_035_96.onnx"
V3 = EXAMPLES / "mobilenet_v3_small_075_96.onnx"
V3_LARGE = EXAMPLES / "mobilenet_v3_large_050_96.onnx"


def lcg_input(size: int, seed: int = 12345) -> np.ndarray:
    """examples/firmware/main.c's input: the top byte of a 32-bit LCG, step by step."""
    out = np.empty(size, np.uint8)
    state = seed
    for i in range(size):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        out[i] = state >> 24
    return out.view(np.int8)


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


QIN, QOUT = QParams(0.05, 3), QParams(0.1, -5)


def one_layer_graph(node: Node, in_shape, out_shape, qin=QIN, qout=QOUT) -> Graph:
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


# Cortex-M: the cross builds need arm-none-eabi-gcc or ziglang, the emulator three packages.
HAVE_EMULATOR = all(importlib.util.find_spec(m) for m in ("unicorn", "elftools", "capstone"))


HAVE_CROSS = bool(shutil.which("arm-none-eabi-gcc")) or importlib.util.find_spec("ziglang") is not None


needs_target = pytest.mark.skipif(not (HAVE_EMULATOR and HAVE_CROSS),
                                  reason="needs arm-none-eabi-gcc or ziglang, and unicorn/pyelftools/capstone")


needs_gcc_and_qemu = pytest.mark.skipif(not (shutil.which("arm-none-eabi-gcc") and shutil.which("qemu-system-arm")),
                                        reason="needs arm-none-eabi-gcc and qemu-system-arm")
