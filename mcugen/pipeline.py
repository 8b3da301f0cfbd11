"""The stages in order, for the CLI: read -> normalize -> (calibrate, quantize) -> plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcugen import frontend, ops, passes, planner, quantize
from mcugen.errors import McugenError, quote
from mcugen.ir import Graph
from mcugen.planner import Plan


@dataclass
class Compiled:
    float_graph: Graph  # normalized, float
    plan: Plan
    graph: Graph | None = None  # quantized; None when only the float graph was asked for
    calibration: quantize.Calibration | None = None
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def check_finite(graph: Graph) -> None:
    """Folding (BatchNorm into weights, say) can overflow float: refuse what is not finite."""
    for node in graph.nodes:
        for key, value in node.attrs.items():
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.all(np.isfinite(value)):
                raise McugenError(f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}): its {key} is not "
                                  "finite after folding the graph (values too large for float)")


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


def front(model: str | Path, input_shape: tuple[int, ...] | None = None) -> tuple[Graph, list[str]]:
    graph, notes = frontend.read(model, input_shape)
    passes.normalize(graph)
    check_finite(graph)
    resolve_shapes(graph)
    graph.nodes = planner.schedule(graph)
    return graph, notes


def build(model: str | Path, calib: str | Path | None = None, percentile: float = 100.0,
          quantized: bool = True, ram_limit: str | None = None,
          input_shape: tuple[int, ...] | None = None) -> Compiled:
    graph, notes = front(model, input_shape)
    result = Compiled(graph, planner.plan(graph), notes=notes)
    planner.check_limit(graph, result.plan, ram_limit)  # before calibration: fail fast
    if not quantized:
        return result
    percentile = quantize.check_percentile(percentile)
    calibrated = quantize.needs_calibration(graph)
    cal = None if calib is None else quantize.read_calibration(calib, graph)
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
