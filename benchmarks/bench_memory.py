"""Benchmark: arena, stack and instructions of every shipped example, with the whole input
and with --row-input (not a test; prints figures).

    python benchmarks/bench_memory.py [--json] [--core cortex-m4] [--models vww v2 ...]

For each example and mode: the arena and its lower bound for the execution the planner
chose (what runs as a row pipeline, streamed or one pixel at a time), the deepest stack
(static, from gcc's -fstack-usage, and measured in the emulator) and the instructions and
estimated cycles of one inference on the core (`mcugen bench`, arm-none-eabi-gcc -O3).
A model whose first layer cannot take rows has no --row-input line. Takes about ten
minutes on one core for every example in both modes.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import pipeline  # noqa: E402
from mcugen.errors import McugenError  # noqa: E402
from mcugen.report import summary as summarize  # noqa: E402
from mcugen.target import bench, targets  # noqa: E402

EX = ROOT / "examples"
EXAMPLES = {
    "vww": (EX / "vww_mobilenet_v1_025.onnx", EX / "vww_calib.npz"),
    "digits": (EX / "digits_mobilenet_v1.onnx", EX / "digits_calib.npz"),
    "digits_v2": (EX / "digits_mobilenet_v2.onnx", EX / "digits_calib.npz"),
    "digits_v3": (EX / "digits_mobilenet_v3.onnx", EX / "digits_calib.npz"),
    "kws": (EX / "kws_dscnn.onnx", EX / "kws_dscnn_calib.npz"),
    "person": (EX / "person_mobilenet_v1_025_gray_int8.tflite", None),
    "v2": (EX / "mobilenet_v2_035_96.onnx", EX / "vww_calib.npz"),
    "v3_small": (EX / "mobilenet_v3_small_075_96.onnx", EX / "vww_calib.npz"),
    "v3_large": (EX / "mobilenet_v3_large_050_96.onnx", EX / "vww_calib.npz"),
}


def measure(label: str, row_input: bool, core: str, cross: targets.CrossCompiler) -> dict | None:
    model, calib = EXAMPLES[label]
    try:
        compiled = pipeline.build(model, calib, row_input=row_input)
    except McugenError as e:  # the model's first layer cannot take rows
        return dict(example=label, mode="rows", refused=str(e))
    plan = compiled.plan
    macs = [layer["macs"] for layer in summarize(compiled.graph, plan, compiled.optimize)["layers"]]
    result = bench.bench(str(model), compiled, label, targets.TARGETS[core], cross, macs).to_dict()
    return dict(example=label, mode="rows" if row_input else "whole", arena=plan.arena_size,
                lower_bound=plan.lower_bound, pipeline=plan.pipeline, stack=result["ram"]["stack"],
                stack_measured=result["ram"]["stack_measured"], instructions=result["instructions"],
                cycles=result["cycles"], bit_exact=result["output_bit_exact"])


def row(d: dict) -> str:
    if "refused" in d:
        return f"{d['example']:<10}{d['mode']:<7}refused: {d['refused']}"
    return (f"{d['example']:<10}{d['mode']:<7}{d['arena']:>9,}{d['lower_bound']:>9,}{d['stack']:>7,}"
            f"{d['stack_measured']:>7,}{d['instructions']:>14,}{d['cycles']:>14,}  {'yes' if d['bit_exact'] else 'NO'}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--core", default="cortex-m4", choices=sorted(targets.TARGETS))
    ap.add_argument("--models", nargs="+", default=list(EXAMPLES), choices=list(EXAMPLES))
    args = ap.parse_args()
    cross = targets.find_cross("arm-none-eabi-gcc")  # the figures are quoted with arm-none-eabi-gcc
    rows = [measure(label, mode, args.core, cross) for label in args.models for mode in (False, True)]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    print(f"{'example':<10}{'mode':<7}{'arena':>9}{'bound':>9}{'stack':>7}{'meas.':>7}"
          f"{'instructions':>14}{'est. cycles':>14}  bit-exact   ({args.core})")
    for d in rows:
        print(row(d))
    return 0


if __name__ == "__main__":
    sys.exit(main())
