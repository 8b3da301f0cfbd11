"""Verify: the generated C, built and run, against the numpy reference and the float model.

1. Bit-exactness (the contract): a runner built from the generated files with the host
   compiler, or for a Cortex-M target and run in the emulator (targets.py, emulator.py),
   processes N int8 samples; every output byte must equal run_int8's. When one differs, a
   trace build dumps every layer for the first bad sample and names the first layer whose
   output differs.
2. Accuracy (a figure, not the contract): the int8 outputs, dequantized, against the float
   ONNX model run by onnxruntime on the same (dequantized) inputs. For a QDQ model the
   float model is the QDQ model without its activation QuantizeLinear/DequantizeLinear
   pairs (qdq.strip), which is what mcugen's float graph computes.
3. For a QDQ model, also against onnxruntime running the QDQ model itself: the shares of
   elements within 1 LSB, end to end and layer by layer (mcugen/verify/ort_compare.py, which
   says why equality is not the contract).
"""

from __future__ import annotations

import dataclasses
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mcugen import frontend, layout, planner, reference
from mcugen.backend import codegen
from mcugen.errors import McugenError, escape
from mcugen.frontend import qdq, tflite
from mcugen.pipeline import Compiled
from mcugen.precision import INT8, Precision
from mcugen.quant.quantize import dequantize, quantize_input
from mcugen.target import emulator, targets, toolchain
from mcugen.verify import ort_compare, tflm


@dataclass
class Result:
    bit_exact: bool
    samples: int
    calibration_samples: int  # how many of the samples came from --calib (the rest are random)
    mismatches: int  # output bytes that differ between the C and the reference
    mismatched_samples: int
    first_bad_layer: dict | None
    top1_agreement: float
    cosine: float
    max_abs_error: float
    float_reference: str  # "onnxruntime" or the fallback
    arena_bytes: int
    lower_bound_bytes: int
    weights_bytes: int
    macs: int
    compiler: str
    target: dict = field(default_factory=lambda: dict(name=targets.HOST))
    # A QDQ model against onnxruntime running it (None otherwise; mcugen/verify/ort_compare.py):
    # the shares of elements within 1 LSB: outputs, as written (and the largest difference),
    # outputs with onnxruntime's fused kernels, and every compared layer on mcugen's inputs.
    qdq_within_1_lsb: float | None = None
    qdq_max_lsb: float | None = None
    qdq_real_within_1_lsb: float | None = None  # end to end, the samples from --calib alone
    qdq_real_samples: int | None = None
    qdq_fused_within_1_lsb: float | None = None
    qdq_onnxruntime_self_within_1_lsb: float | None = None  # its fused outputs vs as written
    qdq_layers_within_1_lsb: float | None = None
    qdq_layers_compared: int | None = None
    qdq_samples: int | None = None  # the first samples, at most QDQ_SAMPLES
    # A .tflite model against TFLite Micro running it (mcugen/verify/tflm.py): the share of
    # output bytes identical, on every sample; None when not a .tflite or TFLM is absent.
    tflm_identical: float | None = None
    tflm_samples: int | None = None
    tflm_max_lsb: int | None = None
    # top-1 agreement and cosine with the float model on the --calib samples and on the random
    # ones apart (None when there are none): random inputs say little about a model's accuracy.
    real_top1_agreement: float | None = None
    real_cosine: float | None = None
    random_top1_agreement: float | None = None
    random_cosine: float | None = None
    # verify --eval: labelled accuracy of the float model and of the C (evaluate() below).
    accuracy: dict | None = None
    precision: str = INT8.name
    notes: list[str] = field(default_factory=list)
    gate: str | None = None  # why a --min-accuracy or --min-cosine gate failed (mcugen/api.py); None when none did

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def passed(self) -> bool:
        return self.bit_exact


def make_inputs(compiled: Compiled, count: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """int8 samples in graph layout: calibration samples first (when real), then random."""
    g = compiled.graph
    q = g.tensors[g.input].q
    shape = g.shape(g.input)[1:]
    cal = compiled.calibration
    from_calib = 0 if cal is None or cal.synthetic else min(len(cal.samples), (count + 1) // 2)
    parts = []
    if from_calib:
        parts.append(quantize_input(layout.input_to_ir(cal.samples[:from_calib], g), q))
    rng = np.random.default_rng(seed)
    parts.append(rng.integers(-128, 128, size=(count - from_calib, *shape), dtype=np.int8))
    return np.concatenate(parts), from_calib


def run_c(compiled: Compiled, name: str, x: np.ndarray, cc: str, trace: bool = False,
          extra_flags: tuple[str, ...] = ()) -> bytes:
    """Generate, build and run the C on samples x; returns what the runner printed."""
    files = codegen.generate(compiled.graph, compiled.plan, name, compiled.float_graph.source, compiled.optimize)
    with tempfile.TemporaryDirectory(prefix="mcugen-verify-") as tmp:
        folder = Path(tmp)
        for fname, text in files.items():
            (folder / fname).write_text(text)
        (folder / "runner.c").write_text(codegen.runner_source(name, compiled.plan.pipeline > 0))
        sources = [folder / f"{name}.c", folder / f"{name}_weights.c", folder / "runner.c"]
        binary = folder / "runner"
        toolchain.build(sources, binary, cc, defines=toolchain.runner_defines(name, trace),
                        flags=[*toolchain.CFLAGS, *extra_flags], libs=compiled.precision.libs)
        return toolchain.run(binary, np.ascontiguousarray(x).tobytes())


@dataclass
class HostRunner:
    """Builds with the host compiler and runs natively (optionally under sanitizers)."""
    cc: str
    sanitize: bool = False

    @property
    def compiler(self) -> str:
        return f"{self.cc} with AddressSanitizer and UndefinedBehaviorSanitizer" if self.sanitize else self.cc

    def info(self) -> dict:
        return dict(name=targets.HOST)

    def run(self, compiled: Compiled, name: str, x: np.ndarray, trace: bool = False) -> bytes:
        return run_c(compiled, name, x, self.cc, trace, toolchain.SANITIZE if self.sanitize else ())


@dataclass
class TargetRunner:
    """Builds for a Cortex-M core and runs in the emulator; same output as the host runner."""
    target: targets.Target
    cross: targets.CrossCompiler
    precision: Precision = INT8

    def __post_init__(self):
        targets.check_precision(self.target, self.cross, self.precision)

    @property
    def compiler(self) -> str:
        return self.cross.describe(self.target, self.precision)

    def info(self) -> dict:
        return dict(self.target.info(), emulator=emulator.describe())

    def run(self, compiled: Compiled, name: str, x: np.ndarray, trace: bool = False) -> bytes:
        g = compiled.graph
        assert compiled.precision == self.precision, "the runner was set up for another precision"
        files = codegen.generate(g, compiled.plan, name, compiled.float_graph.source, compiled.optimize)
        with tempfile.TemporaryDirectory(prefix="mcugen-verify-") as tmp:
            build = targets.build_elf(files, name, self.target, self.cross, Path(tmp), trace, compiled.precision,
                                      compiled.plan.pipeline > 0)
            program = emulator.load(build.elf)
        samples = [row.tobytes() for row in np.ascontiguousarray(x)]
        eb = compiled.plan.elem_bytes
        return emulator.run_samples(program, samples, g.tensors[g.input].size * eb, g.tensors[g.output].size * eb,
                                    f"{name}_trace" if trace else None, eb)


def runner_for(target_name: str, cc: str | None, precision_name: str, sanitize: bool = False):
    """Where verify runs the C: natively, or on a Cortex-M core in the emulator. Made before
    any work, so a missing toolchain is reported at once."""
    from mcugen import precision as precisions

    target = targets.get(target_name)
    if target is None:
        return HostRunner(toolchain.find_cc(cc), sanitize=sanitize)
    if sanitize:
        raise McugenError("--sanitize builds for the host; it cannot be combined with --target")
    runner = TargetRunner(target, targets.find_cross(cc), precisions.get(precision_name))
    runner.info()  # the emulator must be importable
    return runner


def to_file_type(x: np.ndarray, file_type: str) -> np.ndarray:
    """int8 data as the model file's int8 or uint8 values (uint8 is q + 128: the top bit
    flipped), which is what the C's input takes and its output gives."""
    return x.view(np.uint8) ^ np.uint8(0x80) if file_type == "uint8" else x


def from_file_type(data: bytes | np.ndarray, file_type: str) -> np.ndarray:
    """The model file's int8 or uint8 values (or raw bytes of them) as int8."""
    x = np.frombuffer(data, np.int8) if isinstance(data, bytes) else np.asarray(data).view(np.int8)
    return x ^ np.int8(-128) if file_type == "uint8" else x


def run_model(runner, compiled: Compiled, name: str, x: np.ndarray) -> np.ndarray:
    """The C's outputs for int8 samples x, as int8."""
    g = compiled.graph
    return from_file_type(runner.run(compiled, name, to_file_type(x, g.input_type)), g.output_type)


def first_bad_layer(compiled: Compiled, name: str, sample: np.ndarray, runner) -> dict | None:
    """Run a trace build on one sample; the first layer whose output differs from numpy's."""
    g = compiled.graph
    dump = np.frombuffer(runner.run(compiled, name, to_file_type(sample[None], g.input_type), trace=True), np.int8)
    expected = reference.run_int8(g, sample[None], keep=True)
    offset = 0
    for index, node in enumerate(g.nodes):
        if index in compiled.plan.streamed or compiled.plan.execution.hidden(index):
            continue  # traced as empty: its output never exists whole
        want = expected[node.output].reshape(-1)
        got = dump[offset: offset + want.size]
        offset += want.size
        if (got.size != want.size or np.any(got != want)) and (index < compiled.plan.pipeline
                                                                 or compiled.plan.execution.segment(index)):
            # The row pipeline's (and a fused segment's) layers have no outputs of their own:
            # the layer-by-layer build's trace names the first that differs (the same kernels,
            # on whole tensors).
            whole = dataclasses.replace(compiled, plan=planner.plan(g, compiled.precision, stream=False))
            found = first_bad_layer(whole, name, sample, runner)
            return dict(found, row_pipeline=compiled.plan.pipeline) if found else dict(
                index=index, name=escape(node.name or "<unnamed>"), op=node.op,
                differing_bytes=int(np.sum(got != want[: got.size])) if got.size else int(want.size),
                streamed_inside=None, row_pipeline=compiled.plan.pipeline)
        if got.size != want.size or np.any(got != want):
            # A layer streamed into this one has no output of its own to compare: either may differ.
            inside = index - 1 if index - 1 in compiled.plan.streamed else None
            return dict(index=index, name=escape(node.name or "<unnamed>"), op=node.op,
                        differing_bytes=int(np.sum(got != want[: got.size])) if got.size else int(want.size),
                        streamed_inside=inside)
    return None


def is_qdq(compiled: Compiled) -> bool:
    """Does the model fix its own quantization (QDQ pairs, passes/fold_qdq.py)?"""
    return any(t.fixed is not None for t in compiled.float_graph.tensors.values())


def onnx_inputs(compiled: Compiled, x_int8: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The int8 samples dequantized: in the graph's layout, and in the ONNX file's."""
    g = compiled.graph
    x = dequantize(x_int8, g.tensors[g.input].q).astype(np.float32)
    return x, layout.input_to_onnx(x, g)


def onnxruntime_outputs(model: str | bytes, x_onnx: np.ndarray, optimize: bool = True) -> tuple[np.ndarray | None, str]:
    """(flat outputs, "") of the model (a path, or serialized) in onnxruntime, one sample at
    a time, or (None, why not). optimize=False turns off onnxruntime's graph optimizations
    (BatchNorm and activation fusion, constant folding)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed"
    if isinstance(model, str):  # onnxruntime gets the ONNX model mcugen reads (a .tflite's conversion, opset fixes)
        model = frontend.load(model).SerializeToString()
    try:
        options = ort.SessionOptions()
        options.log_severity_level = 4  # failures are reported here, not logged
        if not optimize:
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        given = session.get_inputs()[0]
        dtype = np.float16 if given.type == "tensor(float16)" else np.float32
        outs = [session.run(None, {given.name: x_onnx[i: i + 1].astype(dtype)})[0].astype(np.float64).reshape(-1)
                for i in range(len(x_onnx))]
    except Exception as exc:  # a model mcugen takes but onnxruntime does not
        return None, "onnxruntime failed: " + " ".join(str(exc).split())[:120]
    return np.stack(outs), ""


def float_outputs(model_path: str, compiled: Compiled, x_int8: np.ndarray) -> tuple[np.ndarray, str]:
    """The float model's outputs for the dequantized int8 inputs (what int8 really saw)."""
    return _float_model(model_path, compiled, onnx_inputs(compiled, x_int8)[0])


def _float_model(model_path: str, compiled: Compiled, x: np.ndarray) -> tuple[np.ndarray, str]:
    """The float model's outputs for float inputs x in the graph's layout."""
    x_onnx = layout.input_to_onnx(x, compiled.graph)
    model, label = str(model_path), "onnxruntime"
    if is_qdq(compiled):
        model = qdq.strip(frontend.load_float_io(model_path)).SerializeToString()
        label = "onnxruntime, on the QDQ model without its activation QuantizeLinear/DequantizeLinear pairs"
    y, why = onnxruntime_outputs(model, x_onnx)
    if y is None:
        return _own_float(compiled, x), f"mcugen float reference ({why})"
    return y, label


QDQ_SAMPLES = 20  # samples compared with onnxruntime running a QDQ model, layer by layer


def qdq_agreement(model_path: str, compiled: Compiled, x_int8: np.ndarray, y_int8: np.ndarray,
                  ours: dict[str, np.ndarray], real: int = 0) -> dict:
    """The int8 outputs (dequantized, ONNX order) and every layer (`ours`: the reference's
    tensors for the first samples) against onnxruntime running the QDQ model
    (mcugen/verify/ort_compare.py)."""
    count = len(ours[compiled.graph.input])
    x_onnx = onnx_inputs(compiled, x_int8[:count])[1]
    try:
        figures = ort_compare.compare(frontend.load_float_io(model_path), compiled.graph, x_onnx, y_int8[:count], ours,
                                      real=min(real, count))
        return dict(figures, qdq_samples=count)
    except ImportError:
        why = "onnxruntime is not installed"
    except Exception as exc:  # a model mcugen takes but onnxruntime does not
        why = "onnxruntime failed: " + " ".join(str(exc).split())[:120]
    return dict(notes=[f"no comparison with onnxruntime running the QDQ model: {why}"])


def reference_outputs(graph, x: np.ndarray, keep: int) -> tuple[np.ndarray, dict]:
    """The reference's outputs for every sample, flat, and every tensor of the first `keep`."""
    kept = reference.run_int8(graph, x[:keep], keep=True) if keep else {}
    parts = [kept[graph.output]] if keep else []
    if len(x) > keep:
        parts.append(reference.run_int8_batched(graph, x[keep:]))
    return np.concatenate(parts).reshape(len(x), -1), kept


def _own_float(compiled: Compiled, x: np.ndarray) -> np.ndarray:
    g = compiled.graph
    return onnx_layout(reference.run_float(compiled.float_graph, x), g.shape(g.output))


def onnx_layout(y: np.ndarray, shape) -> np.ndarray:
    """Flat NHWC outputs -> flat in the ONNX model's NCHW order, to compare with it."""
    return layout.to_onnx(y.reshape(len(y), *shape[1:])).reshape(len(y), -1)


def accuracy(y_int8: np.ndarray, y_float: np.ndarray) -> tuple[float, float, float]:
    """top-1 agreement, mean cosine similarity, max abs error."""
    top1 = float(np.mean(np.argmax(y_int8, axis=1) == np.argmax(y_float, axis=1)))
    norms = np.linalg.norm(y_int8, axis=1) * np.linalg.norm(y_float, axis=1)
    cos = np.where(norms > 0, np.sum(y_int8 * y_float, axis=1) / np.where(norms > 0, norms, 1), 1.0)
    return top1, float(np.mean(cos)), float(np.max(np.abs(y_int8 - y_float)))


def verify(model_path: str, compiled: Compiled, name: str, samples: int, cc: str | HostRunner | TargetRunner,
           weights_bytes: int, macs: int, seed: int = 0) -> Result:
    """`cc` is the host compiler, or a runner (HostRunner, TargetRunner) that says where to run."""
    runner = HostRunner(cc) if isinstance(cc, str) else cc
    g = compiled.graph
    x, from_calib = make_inputs(compiled, samples, seed)
    qdq_model = is_qdq(compiled)
    expected, kept = reference_outputs(g, x, min(len(x), QDQ_SAMPLES, reference.batch_size(g)) if qdq_model else 0)
    got = run_model(runner, compiled, name, x).reshape(len(x), -1)
    differs = got != expected
    bad = None
    if differs.any():
        bad = first_bad_layer(compiled, name, x[int(np.argmax(differs.any(axis=1)))], runner)
    y_float, float_ref = float_outputs(model_path, compiled, x)
    y_int8 = onnx_layout(dequantize(got, g.tensors[g.output].q), g.shape(g.output))
    top1, cos, max_err = accuracy(y_int8, y_float)
    apart = {}
    for kind, part in (("real", slice(0, from_calib)), ("random", slice(from_calib, None))):
        if len(y_int8[part]):
            apart[f"{kind}_top1_agreement"], apart[f"{kind}_cosine"], _ = accuracy(y_int8[part], y_float[part])
    agreement = qdq_agreement(model_path, compiled, x, y_int8, kept, from_calib) if qdq_model else {}
    if tflite.is_tflite(model_path):
        against = tflm.compare(model_path, to_file_type(x, g.input_type), to_file_type(got, g.output_type))
        agreement["notes"] = agreement.get("notes", []) + against.pop("notes", [])
        agreement.update(against)
    return Result(
        bit_exact=not differs.any(),
        samples=len(x),
        calibration_samples=from_calib,
        mismatches=int(differs.sum()),
        mismatched_samples=int(differs.any(axis=1).sum()),
        first_bad_layer=bad,
        top1_agreement=top1,
        cosine=cos,
        max_abs_error=max_err,
        float_reference=float_ref,
        arena_bytes=compiled.plan.arena_size,
        lower_bound_bytes=compiled.plan.lower_bound,
        weights_bytes=weights_bytes,
        macs=macs,
        compiler=runner.compiler,
        target=runner.info(),
        **apart,
        **agreement,
    )


def evaluate(model_path: str, compiled: Compiled, name: str, runner, labelled) -> dict:
    """verify --eval: top-1 accuracy on a labelled set (mcugen/samples.py) of the float model
    (onnxruntime on the real inputs, as the file takes them) and of the generated C (on
    those inputs quantized), per class too; and whether the C was bit-exact on them."""
    g = compiled.graph
    x_real = layout.input_to_ir(labelled.x, g)
    x_int8 = quantize_input(x_real, g.tensors[g.input].q)
    got = run_model(runner, compiled, name, x_int8).reshape(len(x_int8), -1)
    exact = bool(np.array_equal(got, reference.run_int8_batched(g, x_int8).reshape(len(x_int8), -1)))
    y_int8 = onnx_layout(dequantize(got, g.tensors[g.output].q), g.shape(g.output))
    y_float, float_ref = _float_model(model_path, compiled, x_real.astype(np.float32))
    classes = max(len(labelled.classes), int(labelled.y.max()) + 1)
    if classes > y_int8.shape[1]:
        raise McugenError(f"{labelled.source}: labels reach class {classes - 1}, but the model has "
                          f"{y_int8.shape[1]} outputs")
    right_f = np.argmax(y_float, axis=1) == labelled.y
    right_i = np.argmax(y_int8, axis=1) == labelled.y
    per_class = [dict(name=labelled.classes[c] if c < len(labelled.classes) else str(c),
                      samples=int(np.sum(labelled.y == c)), float=int(np.sum(right_f[labelled.y == c])),
                      int8=int(np.sum(right_i[labelled.y == c]))) for c in range(classes)]
    return dict(source=labelled.source, samples=len(labelled.y), float=float(np.mean(right_f)),
                int8=float(np.mean(right_i)), float_reference=float_ref, bit_exact=exact, per_class=per_class)
