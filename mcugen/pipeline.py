"""The stages in order, for the CLI: read -> normalize -> (calibrate, quantize) -> plan."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

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


def check_shapes(graph: Graph) -> None:
    """Each op's own shape rule must agree with ONNX shape inference."""
    for node in graph.nodes:
        mine = tuple(ops.get(node.op).output_shape(node, graph.shape(node.input)))
        if mine != graph.shape(node.output):
            raise McugenError(
                f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}): output shape "
                f"{graph.shape(node.output)} from ONNX shape inference, {mine} from mcugen's rule"
            )


def front(model: str | Path) -> tuple[Graph, list[str]]:
    graph, notes = frontend.read(model)
    passes.normalize(graph)
    check_shapes(graph)
    return graph, notes


def build(model: str | Path, calib: str | Path | None = None, percentile: float = 100.0,
          quantized: bool = True) -> Compiled:
    graph, notes = front(model)
    result = Compiled(graph, planner.plan(graph), notes=notes)
    if not quantized:
        return result
    if calib is None:
        cal = quantize.synthetic_calibration(graph)
        result.warnings.append(
            f"no --calib given: calibrating on {len(cal.samples)} synthetic samples "
            "uniform in [-1, 1]; ranges (and accuracy) will differ from real data"
        )
    else:
        cal = quantize.read_calibration(calib, graph)
    ranges = quantize.calibrate(graph, cal, quantize.check_percentile(percentile))
    result.graph = quantize.quantize(graph, ranges)
    result.calibration = cal
    return result
