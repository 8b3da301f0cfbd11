"""Report: what a model costs in flash, RAM and MACs, per layer and in total.

Bytes follow the plan's precision: int8 constants and 1-byte activations, or for
--precision float32 float32 weights and biases and 4-byte activations."""

from __future__ import annotations

import math

from mcugen import ops
from mcugen.backend import codegen, float32
from mcugen.errors import escape
from mcugen.ir import Graph
from mcugen.ops.base import OPTIMIZE_CHOICES
from mcugen.planner import Overlap, Plan, rows
from mcugen.precision import PRECISIONS
from mcugen.quant.quantize import onnx_input_shape


def _flash(node, cost, plan: Plan) -> int:
    return cost.flash_bytes if plan.precision.quantized else float32.flash_bytes(node)


def layers(graph: Graph, plan: Plan, optimize: str = OPTIMIZE_CHOICES[0]) -> list[dict]:
    rows = []
    for index, node in enumerate(graph.nodes):
        in_shapes, out_shape = graph.in_shapes(node), graph.shape(node.output)
        op = ops.get(node.op)
        cost = op.cost(node, *in_shapes, out_shape, **codegen.optimize_kw(op, optimize))
        rows.append(dict(
            index=index,
            name=escape(node.name or "<unnamed>"),
            onnx_op=node.onnx_op,
            op=node.op,
            input_shape=list(in_shapes[0][1:]),
            input_shapes=[list(shape[1:]) for shape in in_shapes],  # add and mul have two
            output_shape=list(out_shape[1:]),
            macs=cost.macs,
            weight_bytes=_flash(node, cost, plan),
            # A streamed layer's output (and so its reader's input) never exists whole: None.
            input_offset=plan.offsets.get(node.input),
            input_offsets=[plan.offsets.get(name) for name in node.inputs],
            output_offset=plan.offsets.get(node.output),
            streamed=index in plan.streamed,
            # forward / backward: the way its kernel runs, for a layer whose output overlaps
            # its input (from below / from above); None for the others
            direction=_direction(plan, index, node),
            output_bytes=graph.tensors[node.output].size * plan.elem_bytes,
            **_headroom(node),
        ))
    return rows


def _direction(plan: Plan, index: int, node) -> str | None:
    if (node.inputs[0], node.output) not in plan.overlaps:
        return None
    return "backward" if index in plan.backward else "forward"


def _overlap(a: str, b: str, rule) -> dict:
    """An overlapped pair in the JSON: forward, the output starts at least `distance` bytes
    below the input; backward, it ends at least `distance` bytes above the input's end."""
    backward = isinstance(rule, Overlap)
    return dict(input=escape(a), output=escape(b), direction="backward" if backward else "forward",
                distance=rule.above if backward else rule)


def _headroom(node) -> dict:
    """The proven worst-case int32 accumulator (ops.common.quantize_weighted) and how many
    bits are left above it; only for a quantized layer that accumulates."""
    bound = node.params.get("acc_bound")
    if bound is None:
        return {}
    return dict(accumulator_bound=int(bound), headroom_bits=31 - math.ceil(math.log2(bound + 1)))


CONSTANTS = {p.name: p.constants for p in PRECISIONS.values()}


def precision(plan: Plan) -> str:
    return plan.precision.name


def tensors(graph: Graph, plan: Plan) -> list[dict]:
    """Every planned buffer: the model's tensors and the kernels' scratch buffers (scratch: true)."""
    return [dict(name=escape(b.name), bytes=b.size, offset=plan.offsets[b.name], first_layer=b.first,
                 last_layer=b.last, scratch=b.scratch)
            for b in sorted(plan.buffers, key=lambda b: (b.first, b.last, b.name))]


def _io_type(file_type: str, plan: Plan) -> str:
    """The C input's or output's element type: the model's own int8/uint8, or the precision's."""
    return file_type if file_type != "float32" else precision(plan)


def summary(graph: Graph, plan: Plan, optimize: str = OPTIMIZE_CHOICES[0]) -> dict:
    """optimize: the --optimize setting, which decides some layers' weight layout and so the flash."""
    rows = layers(graph, plan, optimize)
    return dict(
        model=graph.source,
        precision=precision(plan),
        optimize=optimize,
        arena_bytes=plan.arena_size,
        lower_bound_bytes=plan.lower_bound,
        weights_bytes=sum(r["weight_bytes"] for r in rows),
        macs=sum(r["macs"] for r in rows),
        input=dict(name=escape(graph.input), shape=list(graph.shape(graph.input)[1:]),
                   # offset None: --row-input, the input never exists whole
                   offset=plan.offsets.get(graph.input), bytes=graph.tensors[graph.input].size * plan.elem_bytes,
                   onnx_layout=graph.input_layout if len(graph.shape(graph.input)) == 4 else "vector",
                   onnx_shape=list(onnx_input_shape(graph)), type=_io_type(graph.input_type, plan)),
        output=dict(name=escape(graph.output), shape=list(graph.shape(graph.output)[1:]),
                    offset=plan.offsets[graph.output], bytes=graph.tensors[graph.output].size * plan.elem_bytes,
                    type=_io_type(graph.output_type, plan)),
        planner=plan.strategy,
        peak_layer=plan.peak_step,
        baseline_bytes=plan.baseline_bytes,
        streamed_layers=list(plan.streamed),
        backward_layers=list(plan.backward),
        unpaired_layers=list(plan.unpaired),
        strategies=plan.candidates,
        layers=rows,
        tensors=tensors(graph, plan),
        overlaps=[_overlap(a, b, rule) for (a, b), rule in sorted(plan.overlaps.items())],
        **({"pipeline": pipeline(graph, plan)} if plan.pipeline else {}),
        fused=[pipeline(graph, plan, a, b, fused=True) for a, b in plan.fused],
    )


def pipeline(graph: Graph, plan: Plan, start: int = 0, end: int | None = None, fused: bool = False) -> dict:
    """The row pipeline (--row-input; start 0, end plan.pipeline) or a fused segment
    (layers start .. end-1): its stages, each with the rows of its input it keeps (its
    window) and their bytes (a fused segment's first stage: none, it reads its input in
    the arena); the step's whole scratch buffer (windows, then the stages' kernel scratch)
    and the last stage's output, whole."""
    end = plan.pipeline if end is None else end
    at = rows.window_offsets(graph, end, start, fused)  # in the scratch buffer; the kernels' scratch last
    stages = [dict(layer=st.layer, rows=st.window_rows, row_bytes=st.row_bytes, input_rows=st.in_h,
                   bytes=st.window_bytes, offset=at[k]) for k, st in enumerate(rows.stages(graph, end, start, fused))]
    last = graph.nodes[end - 1]
    return dict(first=start, layers=end, stages=stages, kernel_scratch_bytes=rows.kernel_scratch(graph, end, start),
                kernel_scratch_offset=at[-1],
                scratch_bytes=rows.scratch_bytes(graph, end, start, fused),
                output_bytes=graph.tensors[last.output].size * plan.elem_bytes)


OVER = {"forward": "below", "backward": "above"}  # where a layer's output overlaps its input


def _where(r: dict) -> str:
    """A layer's output offset, or why it has none."""
    if r["streamed"]:
        return "streamed"
    return "row pipeline" if r["output_offset"] is None else format(r["output_offset"], ",")


def format_text(s: dict) -> str:
    head = (f"{'#':>3}  {'op':<16} {'input':>11} {'output':>11} {'MACs':>10} {'flash B':>8} "
            f"{'out @ offset':>14} {'bytes':>7} {'over in':>7} {'headroom':>8}  name")
    lines = [f"mcugen report: {s['model']}", "", head, "-" * len(head)]
    for r in s["layers"]:
        lines.append(
            f"{r['index']:>3}  {r['op']:<16} {'x'.join(map(str, r['input_shape'])):>11} "
            f"{'x'.join(map(str, r['output_shape'])):>11} {r['macs']:>10,} {r['weight_bytes']:>8,} "
            f"{_where(r):>14} {r['output_bytes']:>7,} "
            f"{OVER.get(r.get('direction'), ''):>7} "
            f"{(str(r['headroom_bits']) + ' b') if 'headroom_bits' in r else '':>8}  {r['name'][:40]}"
        )
    gap = s["arena_bytes"] / s["lower_bound_bytes"] if s["lower_bound_bytes"] else 1.0
    lines += [
        "",
        f"layers            {len(s['layers'])}  (headroom: bits left above each layer's proven worst-case "
        f"int32 accumulator, with {s.get('calibration', 'synthetic')} calibration)",
        f"MACs              {s['macs']:,}",
        f"flash (constants) {s['weights_bytes']:,} bytes  ({CONSTANTS[s['precision']]}; code not included)",
        f"RAM (arena)       {s['arena_bytes']:,} bytes  (all activations, input and output; planner {s['planner']})",
        f"lower bound       {s['lower_bound_bytes']:,} bytes  (most bytes live at one layer, layer {s['peak_layer']}, "
        f"in this execution: its streams, copies and directions; the arena is {gap:.3f}x it)",
        f"without overlap   {s['baseline_bytes']:,} bytes  (TFLM's greedy-by-size planner, for comparison)",
        *([f"streamed          layer {', '.join(map(str, s['streamed_layers']))}: run row by row inside the next "
           "layer (a row window instead of the whole output; --no-stream turns it off)"]
          if s["streamed_layers"] else []),
        *([f"backward          layer {', '.join(map(str, s['backward_layers']))}: run back to front, the output "
           "over the input from above ('over in': above; the others from below)"] if s.get("backward_layers") else []),
        *([f"unpaired          layer {', '.join(map(str, s['unpaired_layers']))}: one output pixel at a time "
           "(its kernel's pairs would add a pixel of overlap distance at the peak)"] if s.get("unpaired_layers") else []),
        *(_pipeline_text(s["pipeline"]) if "pipeline" in s else []),
        *[line for f in s.get("fused", []) for line in _fused_text(f)],
        f"input             {'x'.join(map(str, s['input']['shape']))} {s['input']['type']} "
        + ("row by row (--row-input: NAME_input_row)" if s["input"]["offset"] is None else
           f"at offset {s['input']['offset']:,}")
        + f"  (the ONNX input: {s['input']['onnx_layout']} {'x'.join(map(str, s['input']['onnx_shape']))})",
        f"output            {'x'.join(map(str, s['output']['shape']))} {s['output']['type']} at offset "
        f"{s['output']['offset']:,}",
    ]
    return "\n".join(lines)


def _pipeline_text(p: dict) -> list[str]:
    lines = [f"row pipeline      layers 0-{p['layers'] - 1} run row by row as one step (--row-input): "
             f"{p['scratch_bytes']:,} bytes of row windows and kernel scratch, then layer {p['layers'] - 1}'s "
             f"output whole ({p['output_bytes']:,} bytes)"]
    for st in p["stages"]:
        lines.append(f"                  layer {st['layer']:>2}: keeps {st['rows']} of its input's {st['input_rows']} "
                     f"rows of {st['row_bytes']:,} bytes: {st['bytes']:,} bytes")
    return lines


def _fused_text(p: dict) -> list[str]:
    lines = [f"fused             layers {p['first']}-{p['layers'] - 1} run row by row as one step from layer "
             f"{p['first']}'s input in the arena: {p['scratch_bytes']:,} bytes of row windows and kernel scratch, "
             f"then layer {p['layers'] - 1}'s output whole ({p['output_bytes']:,} bytes)"]
    for st in p["stages"]:
        keeps = (f"keeps {st['rows']} of its input's {st['input_rows']} rows of {st['row_bytes']:,} bytes: "
                 f"{st['bytes']:,} bytes") if st["rows"] else "reads its input's rows where they are"
        lines.append(f"                  layer {st['layer']:>2}: {keeps}")
    return lines
