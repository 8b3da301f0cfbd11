"""The stages in order, for the CLI: read -> normalize -> (calibrate, quantize) -> plan.

With --precision float32 there is no calibration and no quantization: the normalized float
graph is what gets compiled, planned with 4-byte elements."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcugen import frontend, ops, passes, planner, samples
from mcugen.errors import McugenError, quote
from mcugen.ir import Graph
from mcugen.ops.base import OPTIMIZE_CHOICES
from mcugen.planner import Plan
from mcugen.precision import INT8, Precision
from mcugen.precision import get as get_precision
from mcugen.quant import quantize


@dataclass
class Compiled:
    float_graph: Graph  # normalized, float
    plan: Plan
    graph: Graph | None = None  # what gets compiled: quantized (int8) or float_graph itself (float32);
    # None when only the float graph was asked for
    calibration: quantize.Calibration | None = None  # float32: the --calib samples, for verify's inputs
    precision: Precision = INT8
    optimize: str = OPTIMIZE_CHOICES[0]  # --optimize: the weight layout emit and the report use
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def resolve_shapes(graph: Graph) -> None:
    """After the passes, shapes come from each op's own rule (a removed reshape can leave
    [1,1,1,C] where ONNX said [1,C]); ONNX shape inference must agree on the size."""
    for node in graph.nodes:
        mine = tuple(int(d) for d in ops.get(node.op).output_shape(node, *graph.in_shapes(node)))
        claimed = graph.shape(node.output)
        if min(mine) <= 0 or int(np.prod(mine)) != int(np.prod(claimed)):
            raise McugenError(
                f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}): output shape "
                f"{claimed} from ONNX shape inference, {mine} from mcugen's rule"
            )
        graph.tensors[node.output].shape = mine


def check_finite(graph: Graph) -> None:
    """Folded constants must be numbers: an attribute of NaN (a BatchNormalization epsilon,
    a Gemm alpha) or an overflow while folding would otherwise reach the kernels. Bounds
    may be infinite (an activation without one); arrays and everything else may not."""
    for node in graph.nodes:
        for key, value in node.attrs.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f":
                bad = not np.all(np.isfinite(value))
            else:
                bad = any(isinstance(v, float) and math.isnan(v) for v in _scalars(value))
            if bad:
                raise McugenError(f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}): its {key} holds NaN "
                                  "or infinite values after folding its attributes and constants")


def _scalars(value):
    if isinstance(value, (tuple, list)):
        for v in value:
            yield from _scalars(v)
    elif isinstance(value, (float, np.floating)):
        yield float(value)


def row_pipeline(graph: Graph, precision: Precision) -> int:
    """The row pipeline's depth for --row-input, or the reason there is none."""
    if precision.quantized is False or not precision.kernel_scratch:
        raise McugenError("--row-input is for int8 builds: --precision float32 takes the whole input")
    depth = planner.decide_pipeline(graph)
    if not depth:
        node = graph.nodes[0]
        raise McugenError(f"--row-input: the first layer, {quote(node.name or '<unnamed>')} ({node.op}), cannot run on "
                          "rows of the input (a row pipeline starts with a conv, depthwise or pointwise layer "
                          "that reads every input row)")
    return depth


def front(model: str | Path, input_shape: tuple[int, ...] | None = None) -> tuple[Graph, list[str]]:
    graph, notes = frontend.read(model, input_shape)
    passes.normalize(graph)
    check_finite(graph)
    resolve_shapes(graph)
    graph.nodes = planner.schedule(graph)
    return graph, notes


def build(model: str | Path, calib: str | Path | None = None, percentile: float = 100.0,
          quantized: bool = True, ram_limit: str | None = None,
          input_shape: tuple[int, ...] | None = None, precision: str | Precision = INT8,
          stream: bool = True, optimize: str = OPTIMIZE_CHOICES[0],
          preprocess: samples.Preprocess = samples.DEFAULT, row_input: bool = False) -> Compiled:
    """quantized=False stops before calibration (report needs only shapes and the plan).
    stream=False keeps every layer whole (planner.decide_streams). optimize ("speed" or
    "size") rides along in the result for emit and the report (ops.base.OPTIMIZE).
    row_input: the input arrives row by row (--row-input): the first layers run as a row
    pipeline (planner.decide_pipeline), int8 only."""
    precision = get_precision(precision)
    if optimize not in OPTIMIZE_CHOICES:
        raise McugenError(f"--optimize must be one of {', '.join(OPTIMIZE_CHOICES)}, got {optimize!r}")
    graph, notes = front(model, input_shape)
    if not precision.quantized and any(t.fixed is not None for t in graph.tensors.values()):
        raise McugenError(f"{graph.source}: the model is already quantized (QuantizeLinear/DequantizeLinear "
                          "pairs): compile it as int8; --precision float32 is for float models")
    limit = None if ram_limit is None else planner.parse_bytes(ram_limit)
    plan = planner.plan(graph, precision, stream=stream, pipeline=row_pipeline(graph, precision) if row_input else 0,
                        limit=limit)
    result = Compiled(graph, plan, notes=notes, precision=precision, optimize=optimize)
    planner.check_limit(graph, result.plan, ram_limit)  # before calibration: fail fast
    if not quantized:
        return result
    if not precision.quantized:  # compiled as it is; real samples, if given, feed verify
        result.graph = graph
        result.calibration = quantize.read_calibration(calib, graph, preprocess) if calib is not None else None
        return result
    percentile = quantize.check_percentile(percentile)
    calibrated = quantize.needs_calibration(graph)
    cal = None if calib is None else quantize.read_calibration(calib, graph, preprocess)
    if not calibrated:
        result.notes.append("quantization from the model's QuantizeLinear/DequantizeLinear nodes: "
                            "no calibration" + (" (--calib only gives verify its samples)" if cal else ""))
    elif cal is None:
        cal = quantize.synthetic_calibration(graph)
        result.warnings.append(
            f"no --calib given: calibrating on {len(cal.samples)} synthetic samples "
            "uniform in [-1, 1]; ranges (and accuracy) will differ from real data"
        )
    ranges = quantize.calibrate(graph, cal, percentile) if calibrated else {}
    result.graph = quantize.quantize(graph, ranges)
    result.calibration = cal
    return result
