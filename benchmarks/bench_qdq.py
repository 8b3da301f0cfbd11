"""The QDQ examples' figures (README, Pre-quantized models): `python benchmarks/bench_qdq.py [--json]`.

For each examples/*_qdq_*.onnx (examples/make_qdq.py), with its calibration file:

- `mcugen verify` on 20 samples (10 photos, 10 random): bit-exactness, and the shares of
  elements within 1 LSB of onnxruntime running the QDQ model: outputs as written, outputs
  with onnxruntime's fused kernels, and every layer on mcugen's own inputs;
- on the photos alone (the calibration samples), agreement with the original float model
  (top-1, cosine) of mcugen's int8 of the QDQ model, and of onnxruntime running it;
- for the trained digits models (and the VWW network trained on digits), on all 360 held-out digits: the share of output elements
  within 1 LSB of onnxruntime running the QDQ model as written, of onnxruntime's fused
  kernels against that, and the held-out accuracy of mcugen's int8.
"""

import argparse
import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import layout, pipeline, reference  # noqa: E402
from mcugen.quant.quantize import dequantize, quantize_input  # noqa: E402
from mcugen.report import summary as summarize  # noqa: E402
from mcugen.target.toolchain import find_cc  # noqa: E402
from mcugen.verify import accuracy, onnx_layout, verify  # noqa: E402

EXAMPLES = [("vww_mobilenet_v1_025", "vww_calib"), ("mobilenet_v2_035_96", "vww_calib"),
            ("digits_mobilenet_v1", "digits_calib"), ("digits_mobilenet_v2", "digits_calib"),
            ("digits_mobilenet_v3", "digits_calib"), ("vww_digits_mobilenet_v1_025", "vww_digits_calib")]


def onnxruntime_outputs(model: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    return np.concatenate([session.run(None, {"input": x[i: i + 1]})[0] for i in range(len(x))])


def session(model: Path, level: str):
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])


def heldout(qdq: Path, compiled) -> dict:
    """mcugen's int8 reference (bit-exact with the C) against onnxruntime on the held-out digits."""
    if qdq.name.startswith("vww_digits"):  # 96x96x3: rebuilt from the split, not shipped
        sys.path.insert(0, str(ROOT / "examples"))
        from vww_digits_data import load_heldout

        x, labels = load_heldout()
    else:
        data = np.load(ROOT / "examples/digits_heldout.npz")
        x, labels = data["input"], data["labels"]
    g = compiled.graph
    lsb = g.tensors[g.output].q.scale
    ours = dequantize(reference.run_int8(g, quantize_input(layout.to_ir(x), g.tensors[g.input].q)),
                      g.tensors[g.output].q).reshape(len(x), -1)
    basic, fused = (np.concatenate([session(qdq, level).run(None, {"input": x[i: i + 1]})[0] for i in range(len(x))])
                    for level in ("ORT_ENABLE_BASIC", "ORT_ENABLE_ALL"))
    share = lambda a, b: round(float(np.mean(np.abs(a - b) / lsb <= 1 + 1e-3)), 4)  # noqa: E731
    return dict(heldout=len(x), heldout_within_1_lsb=share(ours, basic), heldout_max_lsb=float(np.abs(ours - basic).max() / lsb),
                heldout_onnxruntime_fused_vs_unfused=share(fused, basic),
                heldout_accuracy=dict(mcugen=float(np.mean(ours.argmax(1) == labels)),
                                      onnxruntime=float(np.mean(basic.argmax(1) == labels))))


def bench(qdq: Path, float_model: Path, calib: Path) -> dict:
    compiled = pipeline.build(qdq, calib)
    summary = summarize(compiled.graph, compiled.plan)
    result = verify(str(qdq), compiled, "qdq", 20, find_cc(), summary["weights_bytes"], summary["macs"])
    g, photos = compiled.graph, compiled.calibration.samples
    x = quantize_input(layout.to_ir(photos), g.tensors[g.input].q)
    ours = onnx_layout(dequantize(reference.run_int8(g, x), g.tensors[g.output].q), g.shape(g.output))
    want = onnxruntime_outputs(float_model, photos)
    mcugen_top1, mcugen_cos, _ = accuracy(ours, want)
    ort_top1, ort_cos, _ = accuracy(onnxruntime_outputs(qdq, photos).reshape(len(x), -1), want)
    return dict(model=qdq.name, bit_exact=result.bit_exact, samples=result.samples,
                within_1_lsb=result.qdq_within_1_lsb, max_lsb=result.qdq_max_lsb,
                real_within_1_lsb=result.qdq_real_within_1_lsb, real_samples=result.qdq_real_samples,
                fused_within_1_lsb=result.qdq_fused_within_1_lsb,
                onnxruntime_fused_vs_unfused_within_1_lsb=result.qdq_onnxruntime_self_within_1_lsb,
                layers_within_1_lsb=result.qdq_layers_within_1_lsb,
                layers_compared=result.qdq_layers_compared, photos=len(x),
                mcugen_vs_float=dict(top1=mcugen_top1, cosine=round(mcugen_cos, 3)),
                onnxruntime_vs_float=dict(top1=ort_top1, cosine=round(ort_cos, 3)),
                **(heldout(qdq, compiled) if "digits" in qdq.name else {}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results = []
    for stem, calib in EXAMPLES:
        for qdq in sorted((ROOT / "examples").glob(f"{stem}_qdq_*.onnx")):
            results.append(bench(qdq, ROOT / "examples" / f"{stem}.onnx", ROOT / "examples" / f"{calib}.npz"))
    if args.json:
        print(json.dumps(results, indent=2))
        return
    for r in results:
        print(f"== {r['model']}")
        for key, value in r.items():
            if key != "model":
                print(f"  {key:22s} {value}")


if __name__ == "__main__":
    main()
