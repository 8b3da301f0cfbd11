"""Codegen: a quantized, planned graph in; the text of the C files out.

Everything that reaches a template is either a number mcugen computed or a string that
went through `c_comment` (ONNX names, the model's file name): untrusted text never lands
in C code, only in comments, and only in a harmless alphabet. C identifiers are built
from the validated `--name` and layer indices, never from ONNX names. Output is a pure
function of the inputs (no dates, no paths, ordered iteration), so it is reproducible.

The kernels are a C library of their own, mcugen/backend/kernels: one file per kernel and
precision (mcugen_conv_s8.c, mcugen_conv_f32.c, ...) and shared headers. NAME.c carries a
copy of the files the model needs, headers first, then the kernels in dependency order,
without their `#include "mcugen_..."` lines: static functions, so two models link into one
firmware, each in its own `#ifndef MCUGEN_<NAME>_DEFINED` guard, so a unity build of two
models defines it once. Each op's C_KERNELS says how a layer calls its kernel: the constant structs it
defines (from the op's c_fields, its quantized parameters and its arrays) and the call's
arguments. The templates (model.h.j2, model.c.j2, weights.c.j2, shared by the two
precisions) emit only the model's data, the per-layer structs and wrappers, and the calls.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import jinja2
import numpy as np

from mcugen import __version__, ops, planner
from mcugen.backend import float32
from mcugen.errors import McugenError
from mcugen.ir import Graph
from mcugen.ops.base import OPTIMIZE_CHOICES, ByCore, CKernel
from mcugen.planner import Plan
from mcugen.precision import INT8, Precision

C_KEYWORDS = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict", "return",
    "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union", "unsigned", "void",
    "volatile", "while", "_Bool", "_Complex", "_Imaginary", "main", "arena",
}


def check_name(name: str) -> str:
    """Validate --name: the prefix of every public C symbol and of the file names."""
    if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,31}", name) or name in C_KEYWORDS:
        raise McugenError(
            f"--name {name!r} is not usable: it must be a C identifier of at most 32 characters, "
            "starting with a letter, and not a C keyword"
        )
    return name


def default_name(model_path: str | Path) -> str:
    """A C-safe prefix from the model's file name: 'VWW-v1.onnx' -> 'vww_v1'."""
    stem = re.sub(r"[^a-z0-9_]+", "_", Path(model_path).stem.lower()).strip("_")[:32].rstrip("_")
    if not stem or not stem[0].isalpha() or stem in C_KEYWORDS:
        stem = ("model_" + stem)[:32].rstrip("_")
    return stem


def c_comment(text: str, limit: int = 72) -> str:
    """The one way untrusted text enters generated C: inside a comment, in a safe alphabet.

    Keeps letters, digits and ` _.:/()[]-`; everything else (including `*`, so no `*/`,
    `?`, so no trigraphs, backslashes and newlines) becomes `_`.
    """
    safe = re.sub(r"[^A-Za-z0-9 _.:/()\[\]-]", "_", text)
    return safe if len(safe) <= limit else safe[: limit - 3] + "..."


@dataclass
class CArray:
    layer: int
    suffix: str
    ctype: str
    symbol: str
    data: np.ndarray
    plain: np.ndarray | None = None  # ops.base.ByCore: the plain cores' order of the same values

    @property
    def count(self) -> int:
        return int(self.data.size)

    @property
    def nbytes(self) -> int:
        return int(self.data.size * self.data.dtype.itemsize)

    @property
    def values(self) -> str:
        return _c_values(self.data)

    @property
    def plain_values(self) -> str | None:
        """The initializer for cores without the DSP kernels, when it differs (ops.base.ByCore)."""
        return None if self.plain is None else _c_values(self.plain)


def _c_values(data: np.ndarray) -> str:
    if data.dtype == np.float32:
        flat = float32.c_floats(data)
    else:
        flat = [str(v) for v in data.reshape(-1).tolist()]
    return "\n".join("    " + ", ".join(flat[i:i + 16]) + "," for i in range(0, len(flat), 16))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
    )


def templates_dir() -> Path:
    """templates/ at the top of a source checkout, or mcugen/templates once installed."""
    source = Path(__file__).resolve().parents[2] / "templates"
    if (source / "model.c.j2").is_file():
        return source
    installed = Path(__file__).resolve().parents[1] / "templates"
    if (installed / "model.c.j2").is_file():
        return installed
    raise McugenError("mcugen's templates are missing from its installation; reinstall mcugen")


def _shape_text(shape) -> str:
    return "x".join(str(d) for d in shape[1:])


def _cfloat(x: float) -> str:
    return f"{x:.9g}f" if ("." in f"{x:.9g}" or "e" in f"{x:.9g}") else f"{x:.9g}.0f"


def optimize_kw(op, optimize: str) -> dict:
    """The keyword an op's arrays, c_fields and cost take when its layout depends on --optimize."""
    return dict(optimize=optimize) if op.OPTIMIZE else {}


def layer_arrays(g: Graph, prefix: str, precision: Precision = INT8, optimize: str = OPTIMIZE_CHOICES[0]) -> list[CArray]:
    arrays = []
    for index, node in enumerate(g.nodes):
        if precision.quantized:
            op = ops.get(node.op)
            found = op.arrays(node, **optimize_kw(op, optimize))
        else:
            found = [(suffix, float32.c_type(data), data) for suffix, data in float32.arrays(node)]
        for suffix, ctype, data in found:
            symbol = f"{prefix}_l{index}_{suffix}"
            if isinstance(data, ByCore):
                assert data.dsp.shape == data.plain.shape, "a ByCore array keeps its size on every core"
                arrays.append(CArray(index, suffix, ctype, symbol, np.asarray(data.dsp), np.asarray(data.plain)))
            else:
                arrays.append(CArray(index, suffix, ctype, symbol, np.asarray(data)))
    return arrays


# ---------------------------------------------------------------------------- the kernel library


def kernels_dir() -> Path:
    """The kernel library's C files: mcugen/backend/kernels, in a checkout and installed."""
    folder = Path(__file__).resolve().parent / "kernels"
    if not (folder / "mcugen_common.h").is_file():
        raise McugenError("mcugen's kernel library is missing from its installation; reinstall mcugen")
    return folder


ROW_PIPELINE = "row_pipeline"  # the kind of --row-input's pipeline runner (planner/rows.py)
ROW_PIPELINE_KERNELS = {"s8": CKernel("mcugen_row_pipeline_s8")}  # it calls each stage's own kernel, pasted before


def kernel(kind: str, precision: Precision) -> CKernel:
    """The C kernel of a layer kind in this precision: an op's own (its C_KERNELS), the
    kernel an op runs with its producer streamed inside (its STREAM_KERNEL), or the row
    pipeline's runner."""
    if kind in ops.REGISTRY:
        return ops.get(kind).C_KERNELS[precision.suffix]
    if kind == ROW_PIPELINE:
        return ROW_PIPELINE_KERNELS[precision.suffix]
    op = next(op for op in ops.REGISTRY.values() if kind == op.STREAM_KERNEL)
    return op.STREAM_C_KERNELS[precision.suffix]


def kernels(precision: Precision) -> dict[str, CKernel]:
    """Every kernel of a precision, by layer kind (ops and stream kernels), from the ops."""
    kinds = [kind for kind, op in ops.REGISTRY.items() if precision.suffix in op.C_KERNELS]
    kinds += [op.STREAM_KERNEL for op in ops.REGISTRY.values() if precision.suffix in op.STREAM_C_KERNELS]
    kinds += [ROW_PIPELINE] if precision.suffix in ROW_PIPELINE_KERNELS else []
    return {kind: kernel(kind, precision) for kind in sorted(kinds)}


def headers(precision: Precision) -> tuple[str, str]:
    """The library's headers a model of this precision needs, in order."""
    return "mcugen_common.h", f"mcugen_common_{precision.suffix}.h"


LIBRARY_INCLUDE = re.compile(r'^#include "mcugen_\w+\.[ch]"\n', re.M)


def library_files(kinds, precision: Precision) -> list[str]:
    """The library files a model of these layer kinds needs, in the order they are pasted:
    the headers, then each kernel after the kernels it calls."""
    files = list(headers(precision))

    def add(kind):
        found = kernel(kind, precision)
        for needed in found.needs:
            add(needed)
        if found.file not in files:
            files.append(found.file)

    for kind in kinds:
        add(kind)
    return files


def library_text(files) -> list[dict]:
    """[{name, text}]: each file as pasted into NAME.c, without its library #includes."""
    return [dict(name=f, text=LIBRARY_INCLUDE.sub("", (kernels_dir() / f).read_text()).strip("\n")) for f in files]


@dataclass
class LayerCode:
    """A layer's C: its static const structs (C text) and its kernel call (an expression)."""
    kernel: CKernel
    structs: list[str]
    call: str
    values: dict


def c_struct(ctype: str, symbol: str, fields) -> str:
    """A static const struct with designated initializers (fields: a dict), or an array of
    them (a list of dicts), wrapped at about 100 columns."""
    if isinstance(fields, list):
        rows = ["    { " + ", ".join(f".{k} = {v}" for k, v in row.items()) + " }," for row in fields]
        return f"static const {ctype} {symbol}[{len(rows)}] = {{\n" + "\n".join(rows) + "\n};"
    lines, line = [], ""
    for item in (f".{k} = {v}" for k, v in fields.items()):
        if line and len(line) + len(item) > 96:
            lines.append(line + ",")
            line = ""
        line = f"{line}, {item}" if line else "    " + item
    return f"static const {ctype} {symbol} = {{\n" + "\n".join(lines + [line]) + "\n};"


def layer_values(node, in_shapes, out_shape, precision: Precision, arrays: dict, io: dict,
                 copy: bool = False, optimize: str = OPTIMIZE_CHOICES[0]) -> dict:
    """What a layer's structs and call are made of, by name: the op's c_fields (with the
    padded copy's copy_fields when the plan has the layer copy its input), its parameters
    (int8: the quantized integers; float32: float32.layer_params, C literals), its arrays'
    symbols, and io: the C expressions of its input(s), output and scratch."""
    op = ops.get(node.op)
    values = dict(backward=0, unpaired=0)  # front to back, pixels paired, unless io says otherwise
    values.update(op.c_fields(node, *in_shapes, out_shape, **optimize_kw(op, optimize)))
    if copy:
        values.update(op.copy_fields(node, *in_shapes, out_shape))
    values.update(_params(node, precision))
    if not precision.quantized:
        values.update(float32.c_literals(op.float_fields(node)))
    values.update(arrays)
    values.update(io)
    return values


def layer_code(kind: str, precision: Precision, ident: str, values: dict) -> LayerCode:
    """The structs and the call of layer `ident` of kind `kind` (an op, or a STREAM_KERNEL)."""
    found = kernel(kind, precision)
    values, structs = dict(values), []
    for ctype, name, fields in found.structs:
        symbol = f"{ident}_{name}"
        if fields is None:  # an array of structs; none: a null pointer
            rows = values[name]
            structs += [c_struct(ctype, symbol, rows)] if rows else []
            symbol = symbol if rows else "NULL"
        else:
            pairs = [f.partition("=")[::2] for f in fields]
            structs.append(c_struct(ctype, symbol, {k: values[v or k] for k, v in pairs}))
        values[name] = symbol
    args = [("&" + values[a[1:]]) if a.startswith("&") else str(values[a]) for a in found.args]
    return LayerCode(found, structs, f"{found.function}({', '.join(args)})", values)


# ---------------------------------------------------------------------------- the model


def address(plan: Plan, tensor: str) -> str:
    """A tensor's place in the arena, as a C pointer expression of the element type."""
    # `arena` is the run's arena base in every generated function (NAME_run_with's argument),
    # of the element type: int8_t, or float (the planner's offsets are multiples of 4).
    return _plus("arena", plan.offsets[tensor] // plan.elem_bytes)


def _plus(pointer: str, offset: int) -> str:
    """pointer + offset as C, without a `+ 0` (an operation without effect: MISRA C rule 2.2)."""
    return f"{pointer} + {offset}" if offset else pointer


def _params(node, precision: Precision) -> dict:
    if precision.quantized:
        return {k: int(v) for k, v in node.params.items() if isinstance(v, (int, np.integer))}
    return float32.layer_params(node)


def _row_code(g: Graph, plan: Plan, index: int, values: dict, precision: Precision, ident: str) -> dict:
    """A layer's function of one output row in a row pipeline or a fused segment
    (mcugen_row_pipeline_s8.c's mcugen_row_fn_t): its kernel with its constant dims, but
    for the rows in the window (in_h, out_h = 1, pad_top; a pointwise conv: one row of
    pixels; an add: one row's values, its other input at output row `row`)."""
    node = g.nodes[index]
    code = layer_code(node.op, precision, ident, values)
    dims_t, dims = code.kernel.structs[0][:2]
    fields = ops.get(node.op).row_fields(node, g.shape(node.input))
    edits = [f"d.{k} = {v};" for k, v in fields.items()]
    call = code.call.replace(f"&{ident}_{dims}", "&d")
    unused = [name for name in ("rows", "pad_top") if name not in fields.values()] + (["arena"] if "arena" not in call else [])
    unused += [] if " row * " in call else ["row"]
    edits += [f"(void){name};" for name in unused]
    return dict(code=code, dims_t=dims_t, dims=f"{ident}_{dims}", edits=edits, call=call)


def _segments(g: Graph, plan: Plan, prefix: str) -> list[dict]:
    """The steps that run layers row by row (mcugen_row_pipeline_s8.c): the row pipeline
    (--row-input), whose stage 0 asks the firmware for rows, and each fused segment, whose
    stage 0 reads its source tensor's rows in the arena. Each: its stages (mcugen_row_stage_t
    rows), where it writes, and where its stages' kernels find their shared scratch (after
    the windows)."""
    spans = ([(0, plan.pipeline, True)] if plan.pipeline else []) + [(a, b, False) for a, b in plan.fused]
    found = []
    for start, end, rowed in spans:  # rowed: --row-input's pipeline (a fused segment may start at 0 too)
        base = plan.offsets[planner.scratch_name(g, end - 1)]
        windows = planner.rows.window_offsets(g, end, start, not rowed)
        symbol = f"{prefix}_stages" if rowed else f"{prefix}_s{start}_stages"
        stages = [dict(in_h=s.in_h, kernel_h=s.kernel_h, stride_h=s.stride_h, pad_top=s.pad_top, out_h=s.out_h,
                       row_bytes=s.row_bytes, window=base + at, row=f"&{prefix}_l{s.layer}_row")
                  for s, at in zip(planner.rows.stages(g, end, start, not rowed), windows)]
        last = g.nodes[end - 1]
        out_row = g.shape(last.output)[2] * g.shape(last.output)[3]
        found.append(dict(start=start, count=end - start, last=end - 1, symbol=symbol, rowed=rowed,
                          struct=c_struct("mcugen_row_stage_t", symbol, stages),
                          source="NULL" if rowed else address(plan, g.nodes[start].input),
                          input_row=f"&{prefix}_pull_row" if rowed else "NULL",
                          output=address(plan, last.output), out_row=out_row, height=g.shape(g.input)[1],
                          row_size=g.shape(g.input)[2] * g.shape(g.input)[3],
                          kernel_scratch=_plus("arena", base + windows[-1])))
    return found


def _layers(g: Graph, plan: Plan, arrays: list[CArray], precision: Precision, prefix: str,
            optimize: str, segments: list[dict]) -> list[dict]:
    """segments (_segments): their layers become functions of one output row."""
    layers = []
    for index, node in enumerate(g.nodes):
        seg = next((s for s in segments if s["start"] <= index <= s["last"]), None)
        if seg is not None:
            in_shapes, out_shape = g.in_shapes(node), g.shape(node.output)
            # one output row, from the window to `out`, the arena's scratch shared
            scratch = seg["kernel_scratch"]
            io = dict(input="window", output="out", scratch=scratch,
                      scratch16=_cast(scratch, "int16_t"), scratch32=_cast(scratch, "int32_t"), backward=0)
            if len(node.inputs) > 1:  # a residual add: the segment's row in the window, x's at output row `row`
                prev = g.nodes[index - 1].output
                x = g.nodes[seg["start"]].input
                row_bytes = g.shape(x)[2] * g.shape(x)[3]
                exprs = ["window" if name == prev else f"{address(plan, x)} + row * {row_bytes}" for name in node.inputs]
                io.update(input=exprs[0], **{f"input{i}": e for i, e in enumerate(exprs[1:], 1)})
            ident = f"{prefix}_l{index}"
            values = layer_values(node, in_shapes, out_shape, precision,
                                  {a.suffix: a.symbol for a in arrays if a.layer == index}, io, False, optimize)
            row = _row_code(g, plan, index, values, precision, ident)
            last = index == seg["last"]
            layers.append(dict(
                index=index, id=ident, streamed=False, row=row, segment=seg if last else None,
                trace_output=seg["output"],  # the step's one output, traced at its last layer
                trace_size=g.tensors[node.output].size if last else 0,
                comment=c_comment(f"{node.name or '<unnamed>'} ({node.onnx_op})"),
                summary=f"{node.op} {' + '.join(map(_shape_text, in_shapes))} -> {_shape_text(out_shape)}",
                code=row["code"],
            ))
            continue
        in_shapes, out_shape = g.in_shapes(node), g.shape(node.output)
        streamed = index in plan.streamed
        # A streamed layer's output never exists whole: the arena has no place for it.
        hidden = g.nodes[index - 1].output if index - 1 in plan.streamed else None
        inputs = ["NULL" if name == hidden else address(plan, name) for name in node.inputs]
        output = "NULL" if streamed else address(plan, node.output)
        scratch = _scratch(g, plan, index)
        io = dict(input=inputs[0], output=output, scratch=scratch,
                  scratch16=_cast(scratch, "int16_t"), scratch32=_cast(scratch, "int32_t"),
                  backward=int(index in plan.backward),  # the kernel's direction (its dims, if it has two)
                  unpaired=int(index in plan.unpaired))  # one output pixel at a time (its dims, if it pairs them)
        io.update({f"input{i}": name for i, name in enumerate(inputs[1:], 1)})
        ident = f"{prefix}_l{index}"
        kind = ops.get(node.op).STREAM_KERNEL if hidden else node.op
        if hidden:  # the producer runs inside this layer: its values, and its scratch after the window
            io.update({f"pw_{k}": v for k, v in layers[-1]["code"].values.items()})
            window = ops.get(node.op).stream_window_bytes(node, in_shapes[0])
            io["pw_scratch"] = f"(int32_t *)(void *)({_plus(scratch, window)})"
        values = layer_values(node, in_shapes, out_shape, precision,
                              {a.suffix: a.symbol for a in arrays if a.layer == index}, io, index in plan.copies,
                              optimize)
        layers.append(dict(
            index=index,
            id=ident,
            streamed=streamed,
            row=None,
            segment=None,
            trace_output=inputs[0] if streamed else output,  # traced as empty: nothing to show
            trace_size=0 if streamed else g.tensors[node.output].size,
            comment=c_comment(f"{node.name or '<unnamed>'} ({node.onnx_op})"),
            summary=f"{node.op} {' + '.join(map(_shape_text, in_shapes))} -> {_shape_text(out_shape)}",
            code=layer_code(kind, precision, ident, values),
        ))
    return layers


def _build_id(arrays: list[CArray], plan: Plan) -> str:
    """What NAME.c and NAME_weights.c must agree on, hashed: every constant and the arena's
    layout (16 hex digits in a symbol name, for the link-time check)."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(f"{a.symbol}:{a.ctype}:".encode() + np.ascontiguousarray(a.data).tobytes())
        if a.plain is not None:
            h.update(np.ascontiguousarray(a.plain).tobytes())
    # the offsets, not the tensors' names: a .tflite and its ONNX export name them differently
    h.update(repr(sorted(plan.offsets.values())).encode() + str(plan.arena_size).encode())
    return h.hexdigest()[:16]


def _scratch(g: Graph, plan: Plan, index: int) -> str:
    """The C expression of a layer's planned scratch buffer (word aligned, int8_t *), or NULL."""
    name = planner.scratch_name(g, index)
    if name not in plan.offsets:
        return "NULL"
    base = "arena" if plan.precision.quantized else "(int8_t *)(void *)arena"
    return _plus(base, plan.offsets[name])


def _cast(pointer: str, ctype: str) -> str:
    return "NULL" if pointer == "NULL" else f"({ctype} *)(void *)({pointer})"


def _io(g: Graph, plan: Plan, name: str, prefix: str, file_type: str = "float32") -> dict:
    t = g.tensors[name]
    dims = list(zip(("HEIGHT", "WIDTH", "CHANNELS"), t.shape[1:])) if len(t.shape) == 4 else []
    unsigned = file_type == "uint8"  # the int8 tensor with its top bit flipped: q_u8 = q + 128
    where = plan.offsets.get(name)  # None: a row pipeline's input, which never exists whole
    io = dict(size=t.size, dims=dims, offset=where, address=None if where is None else address(plan, name),
              c_type="uint8_t" if unsigned else plan.precision.c_type, unsigned=unsigned)
    if t.q is not None:  # int8; float32 tensors have no quantization
        io.update(scale=_cfloat(t.q.scale), zero_point=t.q.zero_point + (128 if unsigned else 0))
    return io


def generate(g: Graph, plan: Plan, name: str, source: str, optimize: str = OPTIMIZE_CHOICES[0],
             model_sha256: str = "") -> dict[str, str]:
    """The generated files, {file name: text}: NAME.h, NAME.c, NAME_weights.c. optimize: the
    --optimize setting, which picks the weight layout of the ops that have two (base.OPTIMIZE)."""
    check_name(name)
    precision = plan.precision
    env = environment()
    arrays = layer_arrays(g, name, precision, optimize)
    kinds = sorted({node.op for node in g.nodes})
    kinds += sorted({ops.get(g.nodes[i + 1].op).STREAM_KERNEL for i in plan.streamed})  # after the kernels they call
    kinds += [ROW_PIPELINE] if plan.pipeline or plan.fused else []  # after the kernels of its stages
    files = library_files(kinds, precision)
    segments = _segments(g, plan, name)
    pipe = segments[0] if plan.pipeline else None
    weights_size = sum(a.nbytes for a in arrays)
    context = dict(
        p=name,
        P=name.upper(),
        version=__version__,
        float32=not precision.quantized,
        value_t=precision.c_type,
        source=c_comment(source),
        summary=f"{len(g.nodes)} layers, {plan.arena_size} bytes of arena, {weights_size} bytes of constants",
        arena_size=plan.arena_size,
        weights_size=weights_size,
        num_layers=len(g.nodes),
        input=_io(g, plan, g.input, name, g.input_type),
        output=_io(g, plan, g.output, name, g.output_type),
        library=library_text(files),
        pipeline=pipe,
        segments=segments,
        layers=_layers(g, plan, arrays, precision, name, optimize, segments),
        arrays=arrays,
        model_sha256=model_sha256,
        build_id=_build_id(arrays, plan),
    )
    return {
        f"{name}.h": env.get_template("model.h.j2").render(context),
        f"{name}.c": env.get_template("model.c.j2").render(context),
        f"{name}_weights.c": env.get_template("weights.c.j2").render(context),
    }


def runner_source(name: str, row_input: bool = False) -> str:
    """The verification harness's main(), for `mcugen verify`; row_input: it implements
    NAME_input_row, a fake camera that checks the rows are asked for once each, in order."""
    return environment().get_template("runner.c.j2").render(p=name, P=name.upper(), row_input=row_input)
