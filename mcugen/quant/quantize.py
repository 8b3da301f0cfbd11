"""Quantization: calibrate activation ranges, then give every tensor and node its int8 form.

Activations are int8 per-tensor asymmetric, with ranges from calibration samples (min/max
over all samples, or a percentile to ignore outliers), except where the model fixes them
(Tensor.fixed, from a QDQ model's QuantizeLinear/DequantizeLinear pairs): a model that
fixes every one needs no calibration. Weights are int8 per-channel symmetric; each op's
`quantize` hook does the per-op work (mcugen/ops).
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcugen import layout, ops, reference, samples
from mcugen.errors import McugenError
from mcugen.fixedpoint import round_half_away
from mcugen.ir import Graph, QParams

SYNTHETIC_SAMPLES = 32


@dataclass
class Calibration:
    samples: np.ndarray  # float, in the ONNX input's layout (graph.input_layout), [N, ...]
    synthetic: bool
    source: str


def onnx_input_shape(graph: Graph) -> tuple[int, ...]:
    """The model input's shape as the model file has it (NCHW, NHWC, flat), without the batch."""
    return layout.file_input_shape(graph)[1:]


def input_spec(graph: Graph) -> samples.InputShape:
    """The model file's input, as users' samples must fit it (mcugen/samples.py)."""
    shape = onnx_input_shape(graph)
    return samples.InputShape(shape, graph.input_layout if len(shape) == 3 else "vector",
                              graph.input_type == "float32")


def read_calibration(path: str | Path | np.ndarray, graph: Graph, pre: samples.Preprocess = samples.DEFAULT) -> Calibration:
    """--calib: a .npz (the array named after the input, or the only one), a .npy, or a
    folder of images (mcugen/samples.py)."""
    spec = input_spec(graph)
    if isinstance(path, np.ndarray):  # the Python API's samples (mcugen/api.py)
        x = as_real(samples.from_array(path, "calibration array", spec, pre), graph, "calibration array")
        if not np.all(np.isfinite(x)):
            raise McugenError("calibration array: holds NaN or infinite values (as float32)")
        return Calibration(x, synthetic=False, source="calibration array")
    path = Path(path)
    if path.is_dir():
        key, x = "images", samples.read_images(path, spec, pre)
    else:
        arrays = samples.read_arrays(path, "calibration")
        if graph.input in arrays:
            key = graph.input
        elif len(arrays) == 1:
            key = next(iter(arrays))
        else:
            raise McugenError(f"{path}: holds arrays {sorted(arrays)}; name one after the model input '{graph.input}'")
        x = samples.from_array(arrays[key], f"{path}: array '{key}'" if key else str(path), spec, pre)
    x = as_real(x, graph, f"{path}: array '{key}'")
    if not np.all(np.isfinite(x)):
        raise McugenError(f"{path}: array '{key}' holds NaN or infinite values (as float32)")
    return Calibration(x, synthetic=False, source=str(path))


def as_real(x: np.ndarray, graph: Graph, where: str) -> np.ndarray:
    """Samples as real values (float32). A model whose own input is int8 or uint8 may be given
    integer samples of that type, as the C takes them: they are dequantized with the model's
    input scale and zero point. Integer samples for a float input are taken as numbers."""
    if graph.input_type == "float32" or x.dtype.kind not in "iu":
        return x.astype(np.float32)
    info = np.iinfo(np.dtype(graph.input_type))
    if x.min(initial=0) < info.min or x.max(initial=0) > info.max:
        raise McugenError(f"{where} holds values outside {graph.input_type}, the model's input type")
    q = graph.tensors[graph.input].fixed  # int8 parameters: a uint8 sample is q - 128
    shift = 128 if graph.input_type == "uint8" else 0
    return (q.scale * (x.astype(np.float64) - shift - q.zero_point)).astype(np.float32)


def synthetic_calibration(graph: Graph, count: int = SYNTHETIC_SAMPLES, seed: int = 0) -> Calibration:
    """Uniform samples in [-1, 1] (MobileNet's usual input range): a stand-in, not data."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.0, 1.0, size=(count, *onnx_input_shape(graph))).astype(np.float32)
    return Calibration(x, synthetic=True, source="synthetic uniform [-1, 1]")


MAX_KEPT = 1 << 20  # values kept per tensor for percentiles: enough, and bounded


def calibrate(graph: Graph, calib: Calibration, percentile: float = 100.0) -> dict[str, tuple[float, float]]:
    """Range (low, high) of every activation tensor over the calibration samples.

    Samples run a batch at a time (reference.batch_size), keeping running min/max; for a
    percentile, an evenly strided subsample of at most MAX_KEPT values per tensor."""
    step = reference.batch_size(graph)
    low, high, kept = {}, {}, {}
    for start in range(0, len(calib.samples), step):
        x = layout.input_to_ir(calib.samples[start: start + step], graph)
        values = reference.run_float(graph, x, keep=True)
        for name, v in values.items():
            low[name] = min(low.get(name, np.inf), float(v.min()))
            high[name] = max(high.get(name, -np.inf), float(v.max()))
            if percentile < 100.0:
                stride = max(1, -(-v.size * len(calib.samples) // (len(v) * MAX_KEPT)))
                kept.setdefault(name, []).append(v.reshape(-1)[::stride])
    if percentile >= 100.0:
        return {name: (low[name], high[name]) for name in low}
    ranges = {}
    for name, parts in kept.items():
        v = np.concatenate(parts)
        ranges[name] = (float(np.percentile(v, 100.0 - percentile)), float(np.percentile(v, percentile)))
    return ranges


def choose_qparams(low: float, high: float) -> QParams:
    """Asymmetric int8 parameters whose range covers [low, high] and represents 0 exactly."""
    low, high = min(low, 0.0), max(high, 0.0)
    if high - low < 1e-12:
        high = low + 1e-12
    scale = (high - low) / 255.0
    zero_point = int(np.clip(round_half_away(-128.0 - low / scale), -128, 127))
    return QParams(float(scale), zero_point)


def quantize(graph: Graph, ranges: dict[str, tuple[float, float]]) -> Graph:
    """A copy of the float graph with QParams on every tensor and params on every node.
    A tensor's parameters are the model's own (Tensor.fixed) or come from its range."""
    g = copy.deepcopy(graph)
    g.tensors[g.input].q = _observed(g, g.input, ranges)
    for node in g.nodes:
        op = ops.get(node.op)
        qins = [g.tensors[name].q for name in node.inputs]
        qout = op.output_qparams(node, *qins, _observed(g, node.output, ranges))
        g.tensors[node.output].q = qout
        node.params = op.quantize(node, *qins, qout)
    return g


def _observed(graph: Graph, name: str, ranges) -> QParams | None:
    fixed = graph.tensors[name].fixed
    if fixed is not None:
        return fixed
    return choose_qparams(*ranges[name]) if name in ranges else None


def needs_calibration(graph: Graph) -> bool:
    """Does some tensor's quantization have to come from data? Not when the model fixes the
    input's and every output whose kernel takes what it is given (a QDQ model)."""
    q = {graph.input: graph.tensors[graph.input].fixed}
    if q[graph.input] is None:
        return True
    for node in graph.nodes:
        qins = [q[name] for name in node.inputs]
        q[node.output] = ops.get(node.op).output_qparams(node, *qins, graph.tensors[node.output].fixed)
        if q[node.output] is None:
            return True
    return False


def quantize_input(x: np.ndarray, q: QParams) -> np.ndarray:
    """Float samples -> int8 with the input's parameters (what firmware does before run)."""
    return np.clip(round_half_away(x / q.scale) + q.zero_point, -128, 127).astype(np.int8)


def dequantize(x: np.ndarray, q: QParams) -> np.ndarray:
    return q.scale * (x.astype(np.float64) - q.zero_point)


def check_percentile(p: float) -> float:
    if not (50.0 < p <= 100.0) or math.isnan(p):
        raise McugenError(f"--calib-percentile must be in (50, 100], got {p}")
    return p
