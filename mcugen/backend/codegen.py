"""Codegen: a quantized, planned graph in; the text of the C files out.

Everything that reaches a template is either a number mcugen computed or a string that
went through `c_comment` (ONNX names, the model's file name): untrusted text never lands
in C code, only in comments, and only in a harmless alphabet. C identifiers are built
from the validated `--name` and layer indices, never from ONNX names. Output is a pure
function of the inputs (no dates, no paths, ordered iteration), so it is reproducible.

Two precisions share model.h.j2, model.c.j2 and weights.c.j2: int8 (the kernels in
templates/kernels/<op>.c.j2) and float32 (templates/kernels/f32/<op>.c.j2, with the same
macros; constants and literals from mcugen/backend/float32.py).
"""

from __future__ import annotations

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

    @property
    def count(self) -> int:
        return int(self.data.size)

    @property
    def nbytes(self) -> int:
        return int(self.data.size * self.data.dtype.itemsize)

    @property
    def values(self) -> str:
        if self.data.dtype == np.float32:
            flat = float32.c_floats(self.data)
        else:
            flat = [str(v) for v in self.data.reshape(-1).tolist()]
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


def layer_arrays(g: Graph, prefix: str, precision: Precision = INT8) -> list[CArray]:
    arrays = []
    for index, node in enumerate(g.nodes):
        if precision.quantized:
            found = ops.get(node.op).arrays(node)
        else:
            found = [(suffix, "float", data) for suffix, data in float32.arrays(node)]
        for suffix, ctype, data in found:
            arrays.append(CArray(index, suffix, ctype, f"{prefix}_l{index}_{suffix}", np.asarray(data)))
    return arrays


def address(plan: Plan, tensor: str) -> str:
    """A tensor's place in the arena, as a C pointer expression of the element type."""
    if plan.precision.quantized:
        return f"arena.bytes + {plan.offsets[tensor]}"
    return f"arena.values + {plan.offsets[tensor] // plan.elem_bytes}"  # offsets are multiples of 4


def _params(node, precision: Precision) -> dict:
    if precision.quantized:
        return {k: int(v) for k, v in node.params.items() if isinstance(v, (int, np.integer))}
    return float32.layer_params(node)


def _layers(g: Graph, plan: Plan, arrays: list[CArray], precision: str) -> list[dict]:
    layers = []
    for index, node in enumerate(g.nodes):
        in_shapes, out_shape = g.in_shapes(node), g.shape(node.output)
        streamed = index in plan.streamed
        # A streamed layer's output never exists whole: the arena has no place for it.
        hidden = g.nodes[index - 1].output if index - 1 in plan.streamed else None
        inputs = ["NULL" if name == hidden else address(plan, name) for name in node.inputs]
        output = "NULL" if streamed else address(plan, node.output)
        layers.append(dict(
            index=index,
            id=f"l{index}",
            kind=ops.get(node.op).STREAM_KERNEL if hidden else node.op,
            streamed=streamed,
            trace_output=inputs[0] if streamed else output,  # traced as empty: nothing to show
            trace_size=0 if streamed else g.tensors[node.output].size,
            comment=c_comment(f"{node.name or '<unnamed>'} ({node.onnx_op})"),
            summary=f"{node.op} {' + '.join(map(_shape_text, in_shapes))} -> {_shape_text(out_shape)}",
            input=inputs[0],
            inputs=inputs,
            output=output,
            out_size=g.tensors[node.output].size,
            scratch=_scratch(g, plan, index),
            scratch_bytes=_scratch(g, plan, index, "int8_t"),
            scratch_int16=_scratch(g, plan, index, "int16_t"),
            fields=_fields(node, in_shapes, out_shape, index in plan.copies),
            params=_params(node, precision),
            arrays={a.suffix: a.symbol for a in arrays if a.layer == index},
        ))
        if index - 1 in plan.streamed:
            layers[-1].update(producer=layers[-2],
                              window_bytes=ops.get(node.op).stream_window_bytes(node, in_shapes[0]))
    return layers


def _fields(node, in_shapes, out_shape, copy: bool) -> dict:
    """The kernel's fields; with the planner's padded copy, the copy's too."""
    op = ops.get(node.op)
    fields = op.c_fields(node, *in_shapes, out_shape)
    return dict(fields, **op.copy_fields(node, *in_shapes, out_shape)) if copy else fields


def _scratch(g: Graph, plan: Plan, index: int, ctype: str = "int32_t") -> str:
    """The C expression of a layer's planned scratch buffer (word aligned), or NULL."""
    name = planner.scratch_name(g, index)
    if name not in plan.offsets:
        return "NULL"
    if ctype == "int8_t":
        return f"arena.bytes + {plan.offsets[name]}"
    return f"({ctype} *)(void *)(arena.bytes + {plan.offsets[name]})"


def _io(g: Graph, plan: Plan, name: str) -> dict:
    t = g.tensors[name]
    dims = list(zip(("HEIGHT", "WIDTH", "CHANNELS"), t.shape[1:])) if len(t.shape) == 4 else []
    io = dict(size=t.size, dims=dims, offset=plan.offsets[name], address=address(plan, name))
    if t.q is not None:  # int8; float32 tensors have no quantization
        io.update(scale=_cfloat(t.q.scale), zero_point=t.q.zero_point)
    return io


def generate(g: Graph, plan: Plan, name: str, source: str) -> dict[str, str]:
    """The generated files, {file name: text}: NAME.h, NAME.c, NAME_weights.c."""
    check_name(name)
    precision = plan.precision
    env = environment()
    arrays = layer_arrays(g, name, precision)
    kinds = sorted({node.op for node in g.nodes})
    kinds += sorted({ops.get(g.nodes[i + 1].op).STREAM_KERNEL for i in plan.streamed})  # after the kernels they call
    kernel_dir = "kernels" if precision.quantized else "kernels/f32"
    weights_size = sum(a.nbytes for a in arrays)
    context = dict(
        p=name,
        P=name.upper(),
        version=__version__,
        float32=not precision.quantized,
        value_t=precision.c_type,
        kernel_dir=kernel_dir,
        source=c_comment(source),
        summary=f"{len(g.nodes)} layers, {plan.arena_size} bytes of arena, {weights_size} bytes of constants",
        arena_size=plan.arena_size,
        weights_size=weights_size,
        num_layers=len(g.nodes),
        input=_io(g, plan, g.input),
        output=_io(g, plan, g.output),
        kinds=kinds,
        kernels={kind: env.get_template(f"{kernel_dir}/{kind}.c.j2").make_module() for kind in kinds},
        layers=_layers(g, plan, arrays, precision),
        arrays=arrays,
    )
    return {
        f"{name}.h": env.get_template("model.h.j2").render(context),
        f"{name}.c": env.get_template("model.c.j2").render(context),
        f"{name}_weights.c": env.get_template("weights.c.j2").render(context),
    }


def runner_source(name: str) -> str:
    """The verification harness's main(), for `mcugen verify`."""
    return environment().get_template("runner.c.j2").render(p=name, P=name.upper())
