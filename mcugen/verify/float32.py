"""Verify --precision float32: the generated float C against onnxruntime running the float
ONNX model, and against mcugen's own float reference (each op's run_float, in float64).

Not bit-exact, by design: the C sums in float32 in its loops' order, onnxruntime sums in
float32 in its own order (blocked GEMMs, BatchNorm folded its own way), numpy in float64.
The error of one sample is normwise,

    max_i |c_i - r_i| / max_i |r_i|        (float32.relative_errors)

the largest difference relative to the largest magnitude of that sample's reference r;
a run's error is the largest over its samples. Normwise rather than element by element,
because an element near zero (a class score of 1e-9 after a softmax) has no meaningful
relative error of its own.

The tolerance is 1e-5 (docs/float32.md). A deep network with random weights amplifies float32
rounding far beyond that: onnxruntime disagrees with itself (graph optimizations on
against off, two correct float32 evaluations of the same model) by up to 1e-3 on the
seeded v3 example, and is as far from the float64 evaluation. No float32 code can be held
closer to onnxruntime than onnxruntime is to itself, so each check has its own bound:

    C vs onnxruntime:   max(TOLERANCE, FACTOR * spread)   spread = error(onnxruntime, unoptimized onnxruntime)
    C vs the reference: max(TOLERANCE, FACTOR * drift)    drift = the larger error(onnxruntime run, reference)

The spread comes from onnxruntime alone, so a wrong rewrite in mcugen's passes cannot widen
the first bound. The drift is onnxruntime's own distance from mcugen's float64 evaluation;
a wrong rewrite would widen it, but then the first check fails. (A wrong float reference
with a right C would widen its own bound and pass: verify judges the C, and the kernel
tests hold each op's C and reference to 1e-5 of each other.) For a well-conditioned
model (the trained digits model) both are far below 1e-5 and the bounds are the tolerance.

FACTOR is 8 because both yardsticks are single draws of a heavy-tailed quantity: the
largest error over a few samples, dominated by the one input the network is most
sensitive to, and onnxruntime's two runs share their kernels, so they disagree less with
each other than with any other float32 code. Over 30 runs of 20 samples of the seeded
examples, the C's error reached 5.5x the spread and 2.5x the drift (v3, on random-noise
inputs, its most sensitive); the C's plain sequential sums also round more often than
onnxruntime's blocked ones. A bug is far above that: weights 1% off in one depthwise layer
halfway through v3 put its output 1.8e-2 from onnxruntime, against a bound of 6.6e-5.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from mcugen import layout, reference
from mcugen.backend import float32
from mcugen.errors import escape
from mcugen.pipeline import Compiled
from mcugen.precision import FLOAT32
from mcugen.verify.int8 import onnx_layout, onnxruntime_outputs

TOLERANCE = 1e-5
FACTOR = 8.0


@dataclass
class FloatResult:
    within_bound: bool  # the verdict (exit status 0): both errors within their bounds
    within_tolerance: bool  # both errors <= TOLERANCE
    tolerance: float
    bound_vs_onnxruntime: float  # max(tolerance, FACTOR * onnxruntime_spread)
    bound_vs_reference: float  # max(tolerance, FACTOR * onnxruntime_drift)
    samples: int
    calibration_samples: int  # how many of the samples came from --calib (the rest are random)
    max_rel_error_vs_onnxruntime: float | None  # None when onnxruntime could not run the model
    max_rel_error_vs_reference: float
    onnxruntime_spread: float | None  # onnxruntime against itself without graph optimizations
    onnxruntime_drift: float | None  # the farther of onnxruntime's two runs from mcugen's reference
    max_abs_error: float  # C against onnxruntime (or the reference, without it)
    top1_agreement: float  # C against onnxruntime (or the reference)
    first_bad_layer: dict | None  # when the C is beyond its bound from the reference
    float_reference: str  # "onnxruntime", or why it is missing
    arena_bytes: int
    lower_bound_bytes: int
    weights_bytes: int
    macs: int
    compiler: str
    target: dict
    precision: str = FLOAT32.name
    notes: list[str] = field(default_factory=list)
    gate: str | None = None  # why a --min-cosine gate failed (mcugen/api.py); None when none did

    def to_dict(self) -> dict:
        return asdict(self)

    @property
    def passed(self) -> bool:
        return self.within_bound


@dataclass
class Yardstick:
    """How far onnxruntime's float32 evaluations are from each other and from the reference
    on the same inputs, and the bounds that follow (None: onnxruntime could not run)."""
    ort: np.ndarray | None  # onnxruntime's outputs, flat, ONNX order
    spread: float | None
    drift: float | None
    why: str = ""  # why onnxruntime is missing

    def bound_vs_onnxruntime(self) -> float:
        return TOLERANCE if self.spread is None else max(TOLERANCE, FACTOR * self.spread)

    def bound_vs_reference(self) -> float:
        return TOLERANCE if self.drift is None else max(TOLERANCE, FACTOR * self.drift)


def yardstick(model_path: str, x_onnx: np.ndarray, ref: np.ndarray) -> Yardstick:
    """Run onnxruntime with and without its graph optimizations on x (ONNX layout)."""
    ort, why = onnxruntime_outputs(model_path, x_onnx)
    if ort is None:
        return Yardstick(None, None, None, why)
    plain, _ = onnxruntime_outputs(model_path, x_onnx, optimize=False)
    drift = max(error(ort, ref), error(plain, ref) if plain is not None else 0.0)
    return Yardstick(ort, error(ort, plain), drift)


def make_inputs(compiled: Compiled, count: int, seed: int = 0) -> tuple[np.ndarray, int]:
    """float32 samples in graph layout: --calib samples first (up to half), then uniform
    in [-1, 1] (MobileNet's usual input range), seeded."""
    g = compiled.graph
    cal = compiled.calibration
    from_calib = 0 if cal is None else min(len(cal.samples), (count + 1) // 2)
    parts = [layout.input_to_ir(cal.samples[:from_calib], g).astype(np.float32)] if from_calib else []
    rng = np.random.default_rng(seed)
    parts.append(rng.uniform(-1.0, 1.0, size=(count - from_calib, *g.shape(g.input)[1:])).astype(np.float32))
    return np.concatenate(parts), from_calib


def error(got: np.ndarray | None, want: np.ndarray | None) -> float | None:
    """The run's error: the largest per-sample normwise relative error (None without data)."""
    return None if got is None or want is None else float(float32.relative_errors(got, want).max())


def verify_float(model_path: str, compiled: Compiled, name: str, samples: int, runner, weights_bytes: int,
                 macs: int, seed: int = 0) -> FloatResult:
    """`runner` is verify.HostRunner or verify.TargetRunner: where the C runs."""
    g = compiled.graph
    shape = g.shape(g.output)
    x, from_calib = make_inputs(compiled, samples, seed)
    got = onnx_layout(np.frombuffer(runner.run(compiled, name, x), dtype=np.float32).reshape(len(x), -1), shape)
    ref = onnx_layout(reference.run_float_batched(g, x).reshape(len(x), -1), shape)
    ys = yardstick(model_path, layout.input_to_onnx(x, compiled.graph), ref)
    vs_ref, vs_ort = error(got, ref), error(got, ys.ort)
    against = ref if ys.ort is None else ys.ort
    bad = None
    if not vs_ref <= ys.bound_vs_reference():  # NaN-safe: a NaN error is not within
        worst = int(np.argmax(float32.relative_errors(got, ref)))
        bad = first_bad_layer(compiled, name, x[worst], runner, ys.bound_vs_reference())
    return FloatResult(
        within_bound=vs_ref <= ys.bound_vs_reference() and (vs_ort is None or vs_ort <= ys.bound_vs_onnxruntime()),
        within_tolerance=vs_ref <= TOLERANCE and (vs_ort is None or vs_ort <= TOLERANCE),
        tolerance=TOLERANCE,
        bound_vs_onnxruntime=ys.bound_vs_onnxruntime(),
        bound_vs_reference=ys.bound_vs_reference(),
        samples=len(x),
        calibration_samples=from_calib,
        max_rel_error_vs_onnxruntime=vs_ort,
        max_rel_error_vs_reference=vs_ref,
        onnxruntime_spread=ys.spread,
        onnxruntime_drift=ys.drift,
        max_abs_error=float(np.max(np.abs(got.astype(np.float64) - against))),
        top1_agreement=float(np.mean(np.argmax(got, axis=1) == np.argmax(against, axis=1))),
        first_bad_layer=bad,
        float_reference="onnxruntime" if ys.ort is not None else f"mcugen float reference only ({ys.why})",
        arena_bytes=compiled.plan.arena_size,
        lower_bound_bytes=compiled.plan.lower_bound,
        weights_bytes=weights_bytes,
        macs=macs,
        compiler=runner.compiler,
        target=runner.info(),
    )


def first_bad_layer(compiled: Compiled, name: str, sample: np.ndarray, runner, bound: float) -> dict | None:
    """Run a trace build on one sample; the first layer whose output is beyond the bound
    from the reference's."""
    g = compiled.graph
    dump = np.frombuffer(runner.run(compiled, name, sample[None], trace=True), dtype=np.float32)
    expected = reference.run_float(g, sample[None], keep=True)
    offset = 0
    for index, node in enumerate(g.nodes):
        want = expected[node.output].reshape(1, -1)
        got = dump[offset: offset + want.size]
        offset += want.size
        rel = error(got.reshape(1, -1), want) if got.size == want.size else np.inf
        if not rel <= bound:
            return dict(index=index, name=escape(node.name or "<unnamed>"), op=node.op, rel_error=rel)
    return None
