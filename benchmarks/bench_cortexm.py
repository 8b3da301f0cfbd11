"""Benchmark: the shipped examples on Cortex-M0+, M4, M7 and M33 (not a test; prints figures).

    python benchmarks/bench_cortexm.py [--json] [--cores cortex-m4 ...] [--models vww digits]

For each example and core, from `mcugen bench` (arm-none-eabi-gcc -O3, one inference
counted in unicorn): total executed instructions, instructions per MAC, estimated cycles,
flash and RAM; and the per-layer table on Cortex-M4. The figures are quoted with
arm-none-eabi-gcc, so this script refuses to run with the ziglang fallback. Takes about
two to three minutes for VWW on the four cores.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import pipeline  # noqa: E402
from mcugen.report import summary as summarize  # noqa: E402
from mcugen.target import bench, targets

EXAMPLES = {
    "vww": (ROOT / "examples/vww_mobilenet_v1_025.onnx", ROOT / "examples/vww_calib.npz"),
    "digits": (ROOT / "examples/digits_mobilenet_v1.onnx", ROOT / "examples/digits_calib.npz"),
}
# The reference figures for VWW (CMSIS-NN and a plain-C kernel set, arm-none-eabi-gcc 12.2 -O3).
REFERENCE = {
    "cortex-m4": dict(cmsis_nn=24_225_107, plain_c=68_868_680),
    "cortex-m7": dict(cmsis_nn=24_265_285),
    "cortex-m0plus": dict(cmsis_nn=86_799_105, plain_c=107_434_229),
}


def run(label: str, core: str, cross: targets.CrossCompiler, optimize: str = "speed") -> dict:
    model, calib = EXAMPLES[label]
    compiled = pipeline.build(model, calib, optimize=optimize)
    macs = [layer["macs"] for layer in summarize(compiled.graph, compiled.plan, compiled.optimize)["layers"]]
    start = time.perf_counter()
    result = bench.bench(str(model), compiled, label, targets.TARGETS[core], cross, macs)
    data = result.to_dict()
    data["bench_seconds"] = round(time.perf_counter() - start, 1)
    return data


def summary_row(label: str, core: str, d: dict) -> str:
    ref = REFERENCE.get(core, {}) if label == "vww" else {}
    vs = ", ".join(f"{d['instructions'] / v:.2f}x {k}" for k, v in ref.items())
    return (f"{label:<7}{core:<15}{d['instructions']:>13,}{d['instructions_per_mac']:>10.2f}{d['cycles']:>14,}"
            f"{d['cycles_per_mac']:>9.2f}{d['flash']['total']:>10,}{d['ram']['total']:>9,}{d['ram']['stack']:>7,}"
            f"   {vs}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--cores", nargs="+", default=list(targets.TARGETS), choices=list(targets.TARGETS))
    ap.add_argument("--models", nargs="+", default=list(EXAMPLES), choices=list(EXAMPLES))
    ap.add_argument("--optimize", choices=["speed", "size"], default="speed")
    args = ap.parse_args()
    cross = targets.find_cross()
    if cross.kind != "gcc":
        print("bench_cortexm: the figures are quoted with arm-none-eabi-gcc, which is not installed", file=sys.stderr)
        return 2
    results = {label: {core: run(label, core, cross, args.optimize) for core in args.cores} for label in args.models}
    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(f"{cross.version} -O3 -mthumb -mfloat-abi=soft; one inference counted in unicorn\n")
    print(f"{'model':<7}{'core':<15}{'instructions':>13}{'instr/MAC':>10}{'est. cycles':>14}{'cyc/MAC':>9}"
          f"{'flash B':>10}{'RAM B':>9}{'stack':>7}   VWW vs the reference")
    for label, by_core in results.items():
        for core, d in by_core.items():
            print(summary_row(label, core, d))
    for label, by_core in results.items():
        if "cortex-m4" in by_core:
            print(f"\n{label} on cortex-m4, per layer:")
            print(bench.format_text(bench_result(by_core["cortex-m4"])))
    return 0


def bench_result(d: dict) -> bench.BenchResult:
    fields = {k: v for k, v in d.items() if k != "bench_seconds"}
    fields["layers"] = [bench.LayerFigures(**layer) for layer in d["layers"]]
    return bench.BenchResult(**fields)


if __name__ == "__main__":
    sys.exit(main())
