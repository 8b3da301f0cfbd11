"""Benchmark: compile and verify figures for the shipped examples (not a test; prints figures).

    python benchmarks/bench_vww.py [--samples 20] [--json] [--only vww,digits,...]

For each example: compile time (ONNX -> C files, including calibration), verify time
(compile + build the C + run + reference + onnxruntime), arena bytes, the lower bound for
the chosen execution (streamed layers included; `mcugen report --no-stream` gives the
layer-by-layer figures), constant (flash) bytes, MACs, numpy int8 reference time per sample, and the
int8-vs-float agreement. As a yardstick for quantization quality it also quantizes the
same model with onnxruntime's own static quantizer (QDQ, per-channel, MinMax, same
calibration samples) and reports its agreement with float, when onnxruntime has it.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import cli, pipeline, reference  # noqa: E402
from mcugen.layout import to_ir
from mcugen.quant.quantize import (
    dequantize,  # noqa: E402
    quantize_input,  # noqa: E402
)
from mcugen.report import summary as summarize  # noqa: E402
from mcugen.target.toolchain import find_cc  # noqa: E402
from mcugen.verify.int8 import accuracy, onnx_layout, verify  # noqa: E402

EXAMPLES = [
    ("vww", ROOT / "examples/vww_mobilenet_v1_025.onnx", ROOT / "examples/vww_calib.npz"),
    ("digits", ROOT / "examples/digits_mobilenet_v1.onnx", ROOT / "examples/digits_calib.npz"),
    ("digits_v2", ROOT / "examples/digits_mobilenet_v2.onnx", ROOT / "examples/digits_calib.npz"),
    ("digits_v3", ROOT / "examples/digits_mobilenet_v3.onnx", ROOT / "examples/digits_calib.npz"),
    ("vww_digits", ROOT / "examples/vww_digits_mobilenet_v1_025.onnx", ROOT / "examples/vww_digits_calib.npz"),
    ("v2", ROOT / "examples/mobilenet_v2_035_96.onnx", ROOT / "examples/vww_calib.npz"),
    ("v3", ROOT / "examples/mobilenet_v3_small_075_96.onnx", ROOT / "examples/vww_calib.npz"),
    ("v3_large", ROOT / "examples/mobilenet_v3_large_050_96.onnx", ROOT / "examples/vww_calib.npz"),
    ("v2_torch", ROOT / "examples/mobilenet_v2_035_96_torchscript.onnx", ROOT / "examples/vww_calib.npz"),
    ("v3_torch", ROOT / "examples/mobilenet_v3_small_075_96_torchscript.onnx", ROOT / "examples/vww_calib.npz"),
]


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def onnxruntime_baseline(model: Path, calib: Path, count: int) -> dict | None:
    """onnxruntime's own int8 quantization of the same model: cosine and top-1 vs float."""
    try:
        import onnxruntime as ort

        ort.set_default_logger_severity(3)
        logging.getLogger().setLevel(logging.ERROR)  # the quantizer's advice, not figures
        from onnxruntime.quantization import (
            CalibrationDataReader,
            CalibrationMethod,
            QuantFormat,
            QuantType,
            quantize_static,
        )
    except ImportError:
        return None
    x = np.load(calib)["input"].astype(np.float32)
    name = ort.InferenceSession(str(model)).get_inputs()[0].name

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.items = iter([{name: x[i: i + 1]} for i in range(len(x))])

        def get_next(self):
            return next(self.items, None)

    with tempfile.TemporaryDirectory() as tmp:
        qpath = Path(tmp) / "q.onnx"
        quantize_static(str(model), str(qpath), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QInt8, weight_type=QuantType.QInt8,
                        calibrate_method=CalibrationMethod.MinMax)
        f, q = ort.InferenceSession(str(model)), ort.InferenceSession(str(qpath))
        a = np.concatenate([f.run(None, {name: x[i: i + 1]})[0] for i in range(count)])
        b = np.concatenate([q.run(None, {name: x[i: i + 1]})[0] for i in range(count)])
    cos = np.sum(a * b, axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    return dict(samples=count, top1=float(np.mean(a.argmax(1) == b.argmax(1))), cosine=round(float(cos.mean()), 4))


def float_on_raw_inputs(model: Path, x: np.ndarray) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.concatenate([session.run(None, {name: x[i: i + 1]})[0] for i in range(len(x))]).reshape(len(x), -1)


def bench(label: str, model: Path, calib: Path, samples: int) -> dict:
    cc = find_cc()
    with tempfile.TemporaryDirectory() as tmp:
        code, compile_s = timed(lambda: cli.main(["compile", str(model), "--calib", str(calib), "-o",
                                                  str(Path(tmp) / "out"), "--name", label]))
        assert code == 0
        sizes = {p.name: p.stat().st_size for p in (Path(tmp) / "out").iterdir()}
    compiled = pipeline.build(model, calib)
    summary = summarize(compiled.graph, compiled.plan)
    result, verify_s = timed(lambda: verify(str(model), pipeline.build(model, calib), label, samples, cc,
                                            summary["weights_bytes"], summary["macs"]))
    g = compiled.graph
    cal = quantize_input(to_ir(compiled.calibration.samples), g.tensors[g.input].q)
    _, ref_s = timed(lambda: [reference.run_int8(g, cal[i: i + 1]) for i in range(len(cal))])
    # Agreement on real data (the calibration samples), like for like with onnxruntime's
    # int8 below: both start from the raw float inputs, so input quantization counts too.
    # The int8 side is the reference, which the C matches byte for byte.
    n_cal = min(len(cal), samples)
    y_int8 = onnx_layout(dequantize(reference.run_int8(g, cal[:n_cal]), g.tensors[g.output].q), g.shape(g.output))
    top1, cos, _ = accuracy(y_int8, float_on_raw_inputs(model, compiled.calibration.samples[:n_cal]))
    return dict(
        model=model.name,
        compile_seconds=round(compile_s, 2),
        verify_seconds=round(verify_s, 2),
        verify_samples=samples,
        bit_exact=result.bit_exact,
        arena_bytes=summary["arena_bytes"],
        tflm_style_greedy_bytes=compiled.plan.baseline_bytes,
        planner_strategy=compiled.plan.strategy,
        lower_bound_bytes=summary["lower_bound_bytes"],
        arena_over_bound=round(summary["arena_bytes"] / summary["lower_bound_bytes"], 3),
        weights_bytes=summary["weights_bytes"],
        macs=summary["macs"],
        generated_file_bytes=sizes,
        reference_ms_per_sample=round(1000 * ref_s / len(cal), 1),
        int8_vs_float_all_samples=dict(top1=result.top1_agreement, cosine=round(result.cosine, 4)),
        int8_vs_float_calibration_samples=dict(samples=n_cal, top1=top1, cosine=round(cos, 4)),
        onnxruntime_int8_vs_float=onnxruntime_baseline(model, calib, n_cal),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=20)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--only", default="", help="comma-separated labels, of: " + ", ".join(e[0] for e in EXAMPLES))
    args = parser.parse_args()
    only = set(filter(None, args.only.split(",")))
    results = [bench(label, model, calib, args.samples) for label, model, calib in EXAMPLES
               if not only or label in only]
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"== {r['model']}")
        for key, value in r.items():
            if key != "model":
                print(f"  {key:34s} {value}")


if __name__ == "__main__":
    main()
