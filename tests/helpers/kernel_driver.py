"""Drive the kernel library (mcugen/backend/kernels) directly, without a model around it.

A Case is one library kernel with its op's node (or, for the streamed pair, the pointwise
producer and the depthwise node) and parameters, called once per sample of its inputs (a
leading batch, usually 1), and what the op's numpy reference says the output is. driver_source writes one C program for many
cases: it includes the library's .c files the cases need (which include their headers),
and per case defines the op's arrays (the op module's `arrays` hook, or float32.arrays),
its inputs, and the structs and the call that codegen makes for a layer (layer_values from
the op's c_fields and parameters, layer_code from the ops' C_KERNELS); main runs every case
and writes its output to stdout. So one build checks a batch, and the C sees the same
structs as in a generated model.
"""

from __future__ import annotations

import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from helpers import KERNELS
from helpers.kernels import (
    STEPS,
    add_params,
    clamp,
    int8_weights,
    pool_window,
    requant_params,
    resize,
    unclamped,
    window,
    with_act,
)
from mcugen import ops
from mcugen.backend import codegen, float32
from mcugen.ir import Node, QParams
from mcugen.ops.base import OPTIMIZE_CHOICES, ByCore
from mcugen.precision import FLOAT32, INT8, Precision
from mcugen.target.toolchain import CFLAGS

PAIR = ops.depthwise_conv.STREAM_KERNEL  # a pointwise conv streamed into a depthwise conv
FLOAT_TOLERANCE = 1e-5  # normwise relative error against run_float (float32 sums vs float64)


@dataclass
class Case:
    kind: str                   # a codegen.kernels() key: an op kind, or PAIR
    nodes: list                 # [node], or [pointwise producer, depthwise node] for PAIR
    inputs: list                # arrays (int8, or float32) with a leading batch, one per input of the op
    precision: Precision = INT8
    copy: bool = False          # a depthwise conv that copies its input first (as planner.decide_copies may)
    optimize: str = "speed"     # --optimize: the pointwise conv's weight layout (ops.base.OPTIMIZE)

    @property
    def node(self) -> Node:
        return self.nodes[-1]

    @property
    def batch(self) -> int:
        return len(self.inputs[0])

    def shapes(self) -> tuple[list, tuple]:
        """(the kernel's input shapes, its output shape), for one sample."""
        in_shapes = [(1, *x.shape[1:]) for x in self.inputs]
        shapes = in_shapes
        for node in self.nodes:
            shapes = [ops.get(node.op).output_shape(node, *shapes)]
        return in_shapes, shapes[0]

    def expected(self, clamped: bool = True, magnitudes: bool = False) -> np.ndarray:
        """The op's numpy reference: run_int8, or run_float on the same float32 inputs.
        clamped=False: without the fused activations' clamps; magnitudes=True: on |inputs|
        with |weight| and |bias|, which bounds every partial sum of the float kernel."""
        xs = [np.abs(x) for x in self.inputs] if magnitudes else list(self.inputs)
        for node in self.nodes:
            module = ops.get(node.op)
            if not clamped or magnitudes:
                node = unclamped(node, magnitudes)
            xs = [module.run_int8(node, *xs) if self.precision.quantized else
                  module.run_float(node, *(x.astype(np.float64) for x in xs))]
        return xs[0].reshape(-1)

    def describe(self) -> str:
        def scalars(params):
            return {k: v for k, v in params.items() if not isinstance(v, np.ndarray)}
        return "; ".join(f"{n.op} {scalars(n.attrs)} {scalars(n.params)}" for n in self.nodes) + \
            f" on {[x.shape for x in self.inputs]}"


# ---------------------------------------------------------------------------- the driver


def _array(symbol: str, ctype: str, data) -> str:
    if isinstance(data, ByCore):  # both orders, behind the kernels' own test, as weights.c.j2 writes them
        a = codegen.CArray(0, "", ctype, symbol, data.dsp, data.plain)
        return (f"static const {ctype} {symbol}[{a.count}] = {{\n#ifdef MCUGEN_DSP\n{a.values}\n#else\n"
                f"{a.plain_values}\n#endif\n}};")
    a = codegen.CArray(0, "", ctype, symbol, np.asarray(data))
    return f"static const {ctype} {symbol}[{max(a.count, 1)}] = {{\n{a.values or '    0'}\n}};"


def _cast(pointer: str, ctype: str) -> str:
    return "NULL" if pointer == "NULL" else f"({ctype} *)(void *)({pointer})"


def _scratch_bytes(case: Case, in_shapes, out_shape) -> int:
    if not case.precision.kernel_scratch:
        return 0  # the float kernels need none
    if case.kind == PAIR:
        pw, dw = case.nodes
        mid = ops.get(pw.op).output_shape(pw, in_shapes[0])
        return ops.depthwise_conv.stream_scratch(dw, pw, in_shapes[0], mid, out_shape)
    op = ops.get(case.node.op)
    return op.scratch(case.node, *in_shapes, out_shape) + (op.copy_candidate(case.node, *in_shapes, out_shape)
                                                            if case.copy else 0)


def _layer(node, in_shapes, out_shape, precision, ident, io, kind=None, copy=False,
           optimize="speed") -> tuple[list, codegen.LayerCode]:
    """The node's arrays (C definitions) and its LayerCode, named after ident."""
    if precision.quantized:
        op = ops.get(node.op)
        found = op.arrays(node, **codegen.optimize_kw(op, optimize))
    else:
        found = [(suffix, float32.c_type(data), data) for suffix, data in float32.arrays(node)]
    arrays = [_array(f"{ident}_{suffix}", ctype, data) for suffix, ctype, data in found]
    values = codegen.layer_values(node, in_shapes, out_shape, precision,
                                  {suffix: f"{ident}_{suffix}" for suffix, _, _ in found}, io, copy, optimize)
    return arrays, codegen.layer_code(kind or node.op, precision, ident, values)


def case_source(case: Case, i: int) -> tuple[str, int]:
    """C of case i (its constants, inputs, output, structs and c<i>_run, which calls the
    kernel once per sample), and its output size (all samples)."""
    in_shapes, out_shape = case.shapes()
    ctype = case.precision.c_type
    ident = f"c{i}"
    size = int(np.prod(out_shape[1:]))
    lines = [f"/* case {i}: {case.kind} */"]
    lines += [_array(f"{ident}_in{k}", ctype, x) for k, x in enumerate(case.inputs)]
    lines.append(f"static {ctype} {ident}_out[{size * case.batch}];")
    scratch = "NULL"
    if _scratch_bytes(case, in_shapes, out_shape):
        lines.append(f"static int32_t {ident}_scratch[{_scratch_bytes(case, in_shapes, out_shape) // 4 + 1}];")
        scratch = f"(int8_t *)(void *){ident}_scratch"
    sample = [int(np.prod(shape[1:])) for shape in in_shapes]  # each input's elements per sample
    io = dict(input=f"{ident}_in0 + n * {sample[0]}", output=f"{ident}_out + n * {size}", scratch=scratch,
              scratch16=_cast(scratch, "int16_t"), scratch32=_cast(scratch, "int32_t"))
    io.update({f"input{k}": f"{ident}_in{k} + n * {sample[k]}" for k in range(1, len(case.inputs))})
    if case.kind == PAIR:  # as codegen._layers: the producer's values, its scratch after the window
        pw, dw = case.nodes
        mid = ops.get(pw.op).output_shape(pw, in_shapes[0])
        arrays, producer = _layer(pw, in_shapes, mid, case.precision, f"{ident}_pw", dict(io, output="NULL"),
                                  optimize=case.optimize)
        lines += arrays + producer.structs
        io.update({f"pw_{k}": v for k, v in producer.values.items()})
        io["pw_scratch"] = f"(int32_t *)(void *)({scratch} + {ops.depthwise_conv.stream_window_bytes(dw, mid)})"
        in_shapes = [mid]
    arrays, code = _layer(case.node, in_shapes, out_shape, case.precision, ident, io, case.kind, case.copy,
                          case.optimize)
    lines += arrays + code.structs
    lines += [f"static void {ident}_run(void)", "{", f"    for (int32_t n = 0; n < {case.batch}; ++n) {{",
              f"        {code.call};", "    }", "}", ""]
    return "\n".join(lines), size * case.batch


def driver_source(cases: list[Case]) -> tuple[str, list[int]]:
    """A C program that runs every case and writes its output to stdout; the output sizes."""
    precision = cases[0].precision
    assert all(c.precision == precision for c in cases)
    files = codegen.library_files(sorted({c.kind for c in cases}), precision)
    parts = ["#include <stdio.h>", ""] + [f'#include "{f}"' for f in files if f.endswith(".c")] + [""]
    sizes = []
    for i, case in enumerate(cases):
        text, size = case_source(case, i)
        parts.append(text)
        sizes.append(size)
    parts += ["int main(void)", "{"]
    ctype = precision.c_type
    for i, size in enumerate(sizes):
        parts += [f"    c{i}_run();", f"    fwrite(c{i}_out, sizeof({ctype}), {size}u, stdout);"]
    parts += ["    return 0;", "}", ""]
    return "\n".join(parts), sizes


def build_and_run(source: str, cc: str, flags=()) -> bytes:
    """Build the driver with the strict flags (and flags), the library on the include path; run it."""
    with tempfile.TemporaryDirectory(prefix="mcugen-clib-") as tmp:
        src, binary = Path(tmp) / "driver.c", Path(tmp) / "driver"
        src.write_text(source)
        proc = subprocess.run([cc, *CFLAGS, *flags, "-I", str(KERNELS), str(src), "-o", str(binary), "-lm"],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr[:3000]
        run = subprocess.run([str(binary)], capture_output=True, timeout=120)
        assert run.returncode == 0, run.stderr[:500]
        return run.stdout


def run(cases: list[Case], cc: str, flags=()) -> list[np.ndarray]:
    """Every case's C output (all its samples, flat), from one build."""
    source, sizes = driver_source(cases)
    dtype = np.int8 if cases[0].precision.quantized else np.float32
    out = np.frombuffer(build_and_run(source, cc, flags), dtype=dtype)
    assert out.size == sum(sizes)
    return np.split(out, np.cumsum(sizes)[:-1])


def check(cases: list[Case], cc: str, flags=()) -> None:
    """Every case's C output against its numpy reference: int8 bit-exact, float32 within
    FLOAT_TOLERANCE."""
    for case, got in zip(cases, run(cases, cc, flags)):
        want = case.expected()
        if case.precision.quantized:
            assert np.array_equal(got, want), f"{case.kind} {flags}: {case.describe()}\n got {got}\nwant {want}"
        else:
            # Relative to the largest partial sum the kernel forms (float32 rounding scales with
            # it): the sums of magnitudes, or the output before its fused clamp if larger. An
            # output that cancels to near 0, or a clamp that narrows it, leaves the rounding as is.
            scale = max(float(np.max(np.abs(case.expected(clamped=False)))),
                        float(np.max(np.abs(case.expected(magnitudes=True))))) or 1.0
            error = float(np.max(np.abs(got - want))) / scale
            assert error <= FLOAT_TOLERANCE, f"{case.kind}: error {error}: {case.describe()}\n got {got}\nwant {want}"


# ---------------------------------------------------------------------------- random cases


def _rng(draw) -> np.random.Generator:
    return np.random.default_rng(draw(st.integers(0, 2**32 - 1)))


def _int8(rng, shape) -> np.ndarray:
    return rng.integers(-128, 128, size=shape).astype(np.int8)


def _float(rng, shape) -> np.ndarray:
    return rng.uniform(-2.0, 2.0, size=shape).astype(np.float32)


def _image(draw, max_hw=8, max_c=12) -> tuple:
    return (1, draw(st.integers(1, max_hw)), draw(st.integers(1, max_hw)), draw(st.integers(1, max_c)))


def _depthwise_window(draw) -> tuple[dict, tuple]:
    """Any window; half the time a 3x3, dilation-1 one (the unrolled path, and with
    padding the padded copy when the layer asks for it)."""
    attrs, (h, w) = draw(window())
    if draw(st.booleans()):
        attrs.update(kernel=(3, 3), dilations=(1, 1))
        h, w = max(h, 3), max(w, 3)
    return attrs, (h, w)


def _weighted_int8(draw, rng, op, attrs, weight_shape, channels, calibrated=None) -> Node:
    """Parameters anywhere the contract allows (requant_params), or, half the time, as a
    calibrated layer has them: fast, no clamp, and a shift that spreads typical outputs over
    the int8 range (so that every input byte shows in the output, unsaturated)."""
    weight = int8_weights(rng, weight_shape)
    node = Node(op, op, [], [], dict(attrs, weight=weight.astype(float)))
    node.params = dict(requant_params(draw, channels), weight=weight)
    if draw(st.booleans()) if calibrated is None else calibrated:
        taps = weight.size // channels
        node.params.update(mult=rng.integers(2**30 + 1, 2**31 - 1, channels).astype(np.int32),
                           shift=np.full(channels, -max(2, round(np.log2(np.sqrt(taps) * 128 * 73 / 48))), np.int32),
                           bias=rng.integers(-3000, 3000, channels).astype(np.int32), act_min=-128, act_max=127)
    return node


def draw_int8(kind: str, draw) -> Case:
    """A random int8 case of a kernel kind: parameters drawn anywhere the numeric contract
    allows (as tests/test_kernels.py draws them), or made by the op's quantize hook."""
    rng = _rng(draw)
    if kind == "conv":
        attrs, (h, w) = draw(window())
        cin, cout = draw(st.integers(1, 6)), draw(st.integers(1, 6))
        node = _weighted_int8(draw, rng, kind, attrs, (cout, *attrs["kernel"], cin), cout)
        return Case(kind, [node], [_int8(rng, (1, h, w, cin))])
    if kind == "depthwise_conv":
        attrs, (h, w) = _depthwise_window(draw)
        c = draw(st.integers(1, 9))
        node = _weighted_int8(draw, rng, kind, attrs, (*attrs["kernel"], c), c)
        x = _int8(rng, (1, h, w, c))
        out_shape = ops.get(kind).output_shape(node, x.shape)
        copy = draw(st.booleans()) and ops.get(kind).copy_candidate(node, x.shape, out_shape) > 0
        return Case(kind, [node], [x], copy=copy)
    if kind == "pointwise_conv":
        shape = _image(draw, max_c=24)
        cout = draw(st.integers(1, 24))
        node = _weighted_int8(draw, rng, kind, {}, (cout, shape[-1]), cout)
        return Case(kind, [node], [_int8(rng, shape)], optimize=draw(st.sampled_from(OPTIMIZE_CHOICES)))
    if kind == PAIR:
        attrs, (h, w) = _depthwise_window(draw)
        attrs["dilations"] = (1, 1)  # can_stream
        cin, mid = draw(st.integers(1, 12)), draw(st.integers(1, 9))
        calibrated = draw(st.booleans())  # both layers, or the depthwise sees saturated rows
        pw = _weighted_int8(draw, rng, "pointwise_conv", {}, (mid, cin), mid, calibrated)
        dw = _weighted_int8(draw, rng, "depthwise_conv", attrs, (*attrs["kernel"], mid), mid, calibrated)
        return Case(kind, [pw, dw], [_int8(rng, (1, max(h, attrs["kernel"][0]), max(w, attrs["kernel"][1]), cin))],
                    optimize=draw(st.sampled_from(OPTIMIZE_CHOICES)))
    if kind == "fully_connected":
        shape = draw(st.sampled_from([(1, 1, 1, 40), (1, 3, 2, 5), (1, 17)]))
        cout = draw(st.integers(1, 12))
        node = _weighted_int8(draw, rng, kind, {}, (cout, int(np.prod(shape[1:]))), cout)
        return Case(kind, [node], [_int8(rng, shape)])
    if kind in ("avg_pool", "max_pool"):
        attrs, (h, w) = draw(pool_window() if kind == "avg_pool" else window(max_kernel=4))
        include = draw(st.booleans())
        node = Node(kind, kind, [], [], dict(attrs, count_include_pad=include))
        node.params = dict(clamp(draw), input_zp=draw(st.integers(-128, 127)), output_zp=0,
                           count_include_pad=int(include))
        return Case(kind, [node], [_int8(rng, (1, h, w, draw(st.integers(1, 6))))])
    if kind == "global_avg_pool":
        node = Node(kind, kind, [], [], {})
        node.params = dict(clamp(draw), input_zp=draw(st.integers(-128, 127)), output_zp=draw(st.integers(-128, 127)),
                           mult=draw(st.integers(0, 2**31 - 1)), shift=draw(st.integers(-31, 12)))
        return Case(kind, [node], [_int8(rng, _image(draw, max_hw=12, max_c=20))])
    if kind == "softmax":
        node = Node(kind, kind, [], [], {})
        node.params = ops.softmax.quantize(node, QParams(draw(st.floats(1e-3, 2.0)), 0), ops.softmax.OUTPUT_Q)
        shape = draw(st.sampled_from([(1,), (1, 2, 3)])) + (draw(st.integers(1, 40)),)
        return Case(kind, [node], [_int8(rng, shape)])
    if kind == "add":
        node = Node(kind, kind, [], [], {})
        node.params = add_params(draw)
        shape = _image(draw)
        return Case(kind, [node], [_int8(rng, shape), _int8(rng, shape)])
    if kind == "mul":
        node = Node(kind, kind, [], [], {})
        node.params = dict(clamp(draw), a_zp=draw(st.integers(-128, 127)), b_zp=draw(st.integers(-128, 127)),
                           output_zp=draw(st.integers(-128, 127)), mult=draw(st.integers(0, 2**31 - 1)),
                           shift=draw(st.integers(-31, 30)))
        shape = _image(draw)
        b_shape = (1, 1, 1, shape[-1]) if draw(st.booleans()) else shape  # per channel, or the same shape
        return Case(kind, [node], [_int8(rng, shape), _int8(rng, b_shape)])
    if kind == "lut":
        steps = tuple(draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=4)))
        node = Node(kind, kind, [], [], dict(steps=steps, act=(draw(st.floats(-20, 0)), draw(st.floats(0, 20)))))
        qin = QParams(draw(st.floats(1e-3, 0.5)), draw(st.integers(-128, 127)))
        qout = QParams(draw(st.floats(1e-3, 0.5)), draw(st.integers(-128, 127)))
        node.params = ops.lut.quantize(node, qin, qout)
        return Case(kind, [node], [_int8(rng, _image(draw))])
    if kind == "prelu":
        shape = draw(st.sampled_from([_image(draw), (1, draw(st.integers(1, 20)))]))
        slope = rng.uniform(-1.5, 1.5, shape[-1]) * draw(st.sampled_from([1.0, 0.01, 8.0]))
        attrs = dict(slope=slope)
        if draw(st.booleans()):  # a model's own int8 slopes, any zero point
            attrs.update(slope_q=rng.integers(-128, 128, shape[-1]), slope_scale=draw(st.floats(1e-4, 0.1)),
                         slope_zero_point=draw(st.integers(-128, 127)))
        node = Node(kind, kind, [], [], with_act(draw, attrs))
        qin = QParams(draw(st.floats(1e-3, 0.5)), draw(st.integers(-128, 127)))
        qout = QParams(draw(st.floats(1e-3, 0.5)), draw(st.integers(-128, 127)))
        node.params = ops.prelu.quantize(node, qin, qout)
        return Case(kind, [node], [_int8(rng, shape)])
    if kind == "resize":
        attrs, (h, w) = draw(resize())
        node = Node(kind, kind, [], [], attrs)
        q = QParams(0.05, 3)  # resize keeps its input's quantization, whatever it is
        node.params = ops.resize.quantize(node, q, q)
        return Case(kind, [node], [_int8(rng, (1, h, w, draw(st.integers(1, 6))))])
    raise AssertionError(kind)


def _weighted_float(draw, rng, op, attrs, weight_shape, channels) -> Node:
    return Node(op, op, [], [], with_act(draw, dict(attrs, weight=rng.normal(0, 0.5, weight_shape),
                                                    bias=rng.normal(0, 0.5, channels))))


def draw_float32(kind: str, draw) -> Case:
    """A random float32 case of a kernel kind: random weights, fused activations, steps."""
    rng = _rng(draw)
    if kind in ("conv", "depthwise_conv"):
        attrs, (h, w) = draw(window())
        cin = draw(st.integers(1, 6 if kind == "conv" else 9))
        cout = draw(st.integers(1, 6)) if kind == "conv" else cin
        weight_shape = (cout, *attrs["kernel"], cin) if kind == "conv" else (*attrs["kernel"], cin)
        node = _weighted_float(draw, rng, kind, attrs, weight_shape, cout)
        return Case(kind, [node], [_float(rng, (1, h, w, cin))], FLOAT32)
    if kind in ("pointwise_conv", "fully_connected"):
        shape = _image(draw, max_hw=6, max_c=40)
        cout = draw(st.integers(1, 24))
        node = _weighted_float(draw, rng, kind, {}, (cout, shape[-1] if kind == "pointwise_conv" else
                                                     int(np.prod(shape[1:]))), cout)
        return Case(kind, [node], [_float(rng, shape)], FLOAT32)
    if kind in ("avg_pool", "max_pool", "global_avg_pool"):
        attrs, (h, w) = draw(pool_window())
        extra = dict(attrs, count_include_pad=draw(st.booleans())) if kind != "global_avg_pool" else {}
        node = Node(kind, kind, [], [], with_act(draw, extra))
        return Case(kind, [node], [_float(rng, (1, h, w, draw(st.integers(1, 5))))], FLOAT32)
    if kind == "softmax":
        shape = draw(st.sampled_from([(1,), (1, 2, 3)])) + (draw(st.integers(1, 40)),)
        return Case(kind, [Node(kind, kind, [], [], {})], [_float(rng, shape)], FLOAT32)
    if kind in ("add", "mul"):
        shape = _image(draw)
        b_shape = (1, 1, 1, shape[-1]) if kind == "mul" and draw(st.booleans()) else shape
        node = Node(kind, kind, [], [], with_act(draw, {}))
        return Case(kind, [node], [_float(rng, shape), _float(rng, b_shape)], FLOAT32)
    if kind == "lut":
        steps = tuple(draw(st.lists(st.sampled_from(STEPS), min_size=1, max_size=4)))
        node = Node(kind, kind, [], [], with_act(draw, dict(steps=steps)))
        return Case(kind, [node], [_float(rng, _image(draw))], FLOAT32)
    if kind == "prelu":
        shape = draw(st.sampled_from([_image(draw), (1, draw(st.integers(1, 20)))]))
        node = Node(kind, kind, [], [], with_act(draw, dict(slope=rng.uniform(-1.5, 1.5, shape[-1]))))
        return Case(kind, [node], [_float(rng, shape)], FLOAT32)
    if kind == "resize":
        attrs, (h, w) = draw(resize())
        return Case(kind, [Node(kind, kind, [], [], attrs)], [_float(rng, (1, h, w, draw(st.integers(1, 6))))], FLOAT32)
    raise AssertionError(kind)
