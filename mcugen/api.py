"""mcugen's Python API: compile, report and verify from a script or a build step.

    import mcugen
    built = mcugen.compile("model.onnx", "build/model", name="kws", calib=x_train[:64])
    print(built.arena_bytes, built.weights_bytes, built.files)
    result = mcugen.verify("model.onnx", calib=x_train[:64], eval=(x_test, y_test))
    assert result.bit_exact and result.accuracy["int8"] > 0.95

A model is a path (ONNX or .tflite), the file's bytes, or an onnx.ModelProto. Calibration
(and an evaluation set) is a path as the CLI takes it (docs/cli.md#data-in) or numpy
arrays in the model file's input layout. Bad input raises McugenError, a limit or gate not
met LimitError (its subclass): the CLI's exit statuses 2 and 4. The CLI is a thin layer
over these functions.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcugen import output, packages, pipeline
from mcugen import samples as data
from mcugen.backend import codegen
from mcugen.errors import LimitError, McugenError
from mcugen.frontend import tflite
from mcugen.planner import budget
from mcugen.quant import quantize
from mcugen.report import summary as summarize

CONSTANTS_ONLY = "constants: weights, biases, tables; the generated code is not counted"


@dataclass
class Built:
    """What compile wrote and what it costs."""

    output_dir: Path
    name: str
    files: list[str]  # file names in output_dir
    arena_bytes: int
    lower_bound_bytes: int
    weights_bytes: int  # constants in flash (the code not counted)
    macs: int
    summary: dict  # the report (report --json's document)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class Report:
    """What a model costs, before any C is written (report --json's document as `summary`)."""

    arena_bytes: int
    lower_bound_bytes: int
    weights_bytes: int
    macs: int
    summary: dict
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Model:
    """A path for the pipeline: the user's path, or a temporary file holding the model."""

    def __init__(self, model):
        self._tmp = None
        if isinstance(model, (str, Path)):
            self.path = str(model)
            return
        if hasattr(model, "SerializeToString"):  # an onnx.ModelProto
            data, suffix = model.SerializeToString(), ".onnx"
        elif isinstance(model, (bytes, bytearray, memoryview)):
            data = bytes(model)
            suffix = ".tflite" if data[4:8] == tflite.IDENTIFIER else ".onnx"
        else:
            raise McugenError(f"model: expected a path, the file's bytes or an onnx.ModelProto, not {type(model).__name__}")
        self._tmp = tempfile.TemporaryDirectory(prefix="mcugen-")
        self.path = str(Path(self._tmp.name) / f"model{suffix}")
        Path(self.path).write_bytes(data)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self._tmp is not None:
            self._tmp.cleanup()


def build(model_path: str, calib=None, *, calib_percentile: float = 100.0, input_shape=None, precision: str = "int8",
          ram_limit=None, stream: bool = True, preprocess: data.Preprocess = data.DEFAULT,
          tell=None, warn: bool = True, optimize: str = "speed", row_input: bool = False) -> pipeline.Compiled:
    """The pipeline for a model path, calibration a path or an array. tell(kind, text), when
    given, hears the notes and warnings ("note", "warning") as soon as they are known."""
    if isinstance(calib, (list, tuple)):
        calib = np.asarray(calib)
    compiled = pipeline.build(model_path, calib, calib_percentile, ram_limit=_limit_text(ram_limit),
                              input_shape=None if input_shape is None else tuple(int(d) for d in input_shape),
                              precision=precision, stream=stream, optimize=optimize, preprocess=preprocess,
                              row_input=row_input)
    if tell is not None:
        for note in compiled.notes:
            tell("note", note)
        for warning in compiled.warnings if warn else ():
            tell("warning", warning)
    return compiled


def compile(model, output_dir, *, name: str | None = None, calib=None, calib_percentile: float = 100.0,  # noqa: A001
            input_shape=None, precision: str = "int8", ram_limit=None, flash_limit=None, stream: bool = True,
            preprocess: data.Preprocess = data.DEFAULT, tell=None, package=(), into: bool = False,
            optimize: str = "speed", row_input: bool = False) -> Built:
    """Quantize (or take the model's own quantization) and write the C files into output_dir,
    whole or not at all. Limits as for the CLI: bytes, or text such as "64K". package: build
    glue beside the C (mcugen/packages.py). into: write into an existing project folder,
    touching only mcugen's files (output.py)."""
    out = Path(output_dir)
    package = [package] if isinstance(package, str) else list(package)
    unknown = [p for p in package if p not in packages.PACKAGES]
    if unknown:
        raise McugenError(f"--package {unknown[0]!r}: expected one of {', '.join(packages.PACKAGES)}")
    if not into:
        output.check_output_folder(out)  # before the work, so a refusal is quick
    with _Model(model) as m:
        name = codegen.check_name(name) if name else codegen.default_name(m.path if isinstance(model, (str, Path))
                                                                           else "model")
        compiled = build(m.path, calib, calib_percentile=calib_percentile, input_shape=input_shape,
                         precision=precision, ram_limit=ram_limit, stream=stream, preprocess=preprocess, tell=tell,
                         optimize=optimize, row_input=row_input)
        summary = summarize(compiled.graph, compiled.plan, compiled.optimize)
        budget.check_flash(summary["weights_bytes"], _limit_text(flash_limit), CONSTANTS_ONLY)
        source = Path(m.path).name if isinstance(model, (str, Path)) else f"{name}.onnx"
        folder = packages.c_folder(package)
        files = {folder + f: text for f, text in codegen.generate(compiled.graph, compiled.plan, name, source,
                                                                       compiled.optimize, _sha256(m.path)).items()}
        files.update(packages.glue(package, name, sorted(files), not compiled.precision.quantized))
        manifest_name = output.into_manifest(name) if into else output.MANIFEST
        previous = output.check_into_folder(out, name, sorted(files)) if into else []
        files[manifest_name] = output.manifest(m.path, compiled, name, files, summary)
    if into:
        output.write_into(out, files, previous)
    else:
        output.write_folder(out, files)
    return Built(out, name, sorted(files), summary["arena_bytes"], summary["lower_bound_bytes"],
                 summary["weights_bytes"], summary["macs"], summary, compiled.notes, compiled.warnings)


def report(model, *, calib=None, calib_percentile: float = 100.0, input_shape=None, precision: str = "int8",
           ram_limit=None, flash_limit=None, stream: bool = True, preprocess: data.Preprocess = data.DEFAULT,
           tell=None, optimize: str = "speed", row_input: bool = False) -> Report:
    """Flash, arena, lower bound and MACs, per layer (summary["layers"]) and in total. Sizes do
    not depend on calibration: without it, synthetic samples are used without a warning."""
    with _Model(model) as m:
        compiled = build(m.path, calib, calib_percentile=calib_percentile, input_shape=input_shape,
                         precision=precision, ram_limit=ram_limit, stream=stream, preprocess=preprocess, tell=tell,
                         warn=False, optimize=optimize, row_input=row_input)
    summary = summarize(compiled.graph, compiled.plan, compiled.optimize)
    budget.check_flash(summary["weights_bytes"], _limit_text(flash_limit), CONSTANTS_ONLY)
    summary["calibration"] = output.calibration_name(compiled)
    return Report(summary["arena_bytes"], summary["lower_bound_bytes"], summary["weights_bytes"], summary["macs"],
                  summary, compiled.notes, compiled.warnings)


def labelled_set(source, compiled: pipeline.Compiled, preprocess: data.Preprocess) -> data.Labelled:
    """An evaluation set from a path (class folders, x/y .npz) or an (x, y) pair of arrays."""
    if not compiled.precision.quantized:
        raise McugenError("--eval measures the int8 C's accuracy; it is not available with --precision float32")
    g = compiled.graph
    spec = quantize.input_spec(g)
    if isinstance(source, (tuple, list)) and len(source) == 2:
        labelled = data.from_arrays(source[0], source[1], "eval arrays", spec, preprocess)
    else:
        labelled = data.read_labelled(Path(source), spec, preprocess)
    labelled.x = quantize.as_real(labelled.x, g, f"{labelled.source}: x")
    return labelled


def verify(model, *, calib=None, samples: int = 20, seed: int = 0, target: str = "host", cc: str | None = None,
           name: str | None = None, eval=None, min_accuracy: float | None = None,  # noqa: A002
           min_cosine: float | None = None, input_shape=None, precision: str = "int8", ram_limit=None,
           flash_limit=None, stream: bool = True, preprocess: data.Preprocess = data.DEFAULT,
           sanitize: bool = False, calib_percentile: float = 100.0, progress=None, tell=None,
           optimize: str = "speed", row_input: bool = False):
    """Build and run the C (the host, or an emulated Cortex-M core), compare every byte with
    the reference, and with the float model; with `eval`, the labelled accuracy. Returns the
    verify Result (bit_exact, cosine, accuracy, ...; result.gate says why a gate failed,
    None when none did). Raises LimitError for --ram-limit/--flash-limit only: gates are in
    the result, so that a script sees the figures either way."""
    from mcugen.verify import runner_for
    from mcugen.verify import verify as verify_int8
    from mcugen.verify.float32 import verify_float
    from mcugen.verify.int8 import evaluate

    say = progress or (lambda stage: None)
    if min_accuracy is not None and eval is None:
        raise McugenError("--min-accuracy needs --eval PATH, a labelled set to measure the accuracy on")
    runner = runner_for(target, cc, precision, sanitize)
    with _Model(model) as m:
        say("importing, quantizing and planning the model")
        compiled = build(m.path, calib, calib_percentile=calib_percentile, input_shape=input_shape,
                         precision=precision, ram_limit=ram_limit, stream=stream, preprocess=preprocess, tell=tell,
                         optimize=optimize, row_input=row_input)
        labelled = labelled_set(eval, compiled, preprocess) if eval is not None else None
        summary = summarize(compiled.graph, compiled.plan, compiled.optimize)
        budget.check_flash(summary["weights_bytes"], _limit_text(flash_limit), CONSTANTS_ONLY)
        name = codegen.check_name(name) if name else codegen.default_name(m.path)
        check = verify_int8 if compiled.precision.quantized else verify_float
        say(f"building the C and running it on {samples} samples ({target}), then the float model")
        result = check(m.path, compiled, name, samples, runner, summary["weights_bytes"], summary["macs"], seed)
        if labelled is not None:
            say(f"running the C and the float model on {len(labelled.y):,} labelled samples")
            result.accuracy = evaluate(m.path, compiled, name, runner, labelled)
            result.bit_exact = result.bit_exact and result.accuracy["bit_exact"]
    result.gate = gate(result, min_accuracy, min_cosine, eval)
    return result


def gate(result, min_accuracy, min_cosine, eval_source) -> str | None:  # noqa: A002
    """What a --min-accuracy or --min-cosine gate says when the C is below it, or None."""
    accuracy = getattr(result, "accuracy", None)
    if min_accuracy is not None and not accuracy["int8"] >= min_accuracy:
        return (f"the C's top-1 accuracy on {eval_source if isinstance(eval_source, (str, Path)) else 'the eval set'}"
                f" is {accuracy['int8']:.2%} ({accuracy['samples']} samples), below --min-accuracy {min_accuracy}")
    if min_cosine is None:
        return None
    cosine = getattr(result, "cosine", None)
    if cosine is None:
        return "--min-cosine: this verify computes no cosine similarity with the float model"
    if not cosine >= min_cosine:  # NaN fails too
        return f"cosine similarity with the float model {cosine:.6f} is below --min-cosine {min_cosine}"
    return None


def _sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _limit_text(limit) -> str | None:
    """A limit as the planner's budget takes it: bytes (int) or text ("64K")."""
    if limit is None or isinstance(limit, str):
        return limit
    if isinstance(limit, (int, np.integer)) and not isinstance(limit, bool) and limit >= 0:
        return str(int(limit))
    raise McugenError(f"a byte limit must be a number of bytes or text such as '64K', not {limit!r}")


__all__ = ["Built", "LimitError", "McugenError", "Report", "compile", "report", "verify"]
