"""Benchmark: mcugen against TensorFlow Lite Micro on the TFLite examples (not a test; prints figures).

    python benchmarks/bench_tflm.py [--samples 200] [--json] [--dir DIR]

For each example made by examples/make_tflite_examples.py, given as the full-int8 .tflite
and as its tf2onnx export: does mcugen compile it, the share of output bytes equal to
TFLM's (the C built on the host, TFLM's reference kernels from PyPI's tflite-micro, on
real held-out samples then random ones), and RAM: mcugen's arena against TFLM's
(RecordingMicroAllocator: the head holds the activations, the tail the interpreter's
persistent data; both are RAM a TFLM firmware needs, code and stack aside).

``--dir DIR`` measures every ``NAME_int8.tflite`` in DIR instead (and ``NAME_int8_tflite.onnx``
beside it, when there is one): the models examples/make_keras_apps.py makes. They ship no
calibration file, and need none: the model's own quantization is used, and the samples
are random inputs.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import pipeline  # noqa: E402
from mcugen.errors import McugenError  # noqa: E402
from mcugen.verify import int8 as verify_int8  # noqa: E402
from mcugen.verify import tflm  # noqa: E402

EXAMPLES = ["kws_dscnn", "person_mobilenet_v1_025_gray"]


def tflm_arena(path: Path) -> dict:
    """TFLM's arena, as its recording allocator prints it (on the C stdout or stderr, captured here)."""
    it = tflm.interpreter(path.read_bytes())
    details = it.get_input_details(0)
    it.set_input(np.zeros(details["shape"], details["dtype"]), 0)
    it.invoke()
    with tempfile.TemporaryFile() as f:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(f.fileno(), 1)
        saved_err = os.dup(2)
        os.dup2(f.fileno(), 2)
        try:
            it.print_allocations()
            ctypes.CDLL(None).fflush(None)  # the C stdio buffer, before stdout is put back
        finally:
            os.dup2(saved, 1)
            os.dup2(saved_err, 2)
            os.close(saved_err)
            os.close(saved)
        f.seek(0)
        text = f.read().decode(errors="replace")
    found = {k: int(v) for k, v in re.findall(r"Arena allocation (total|head|tail) (\d+) bytes", text)}
    return dict(total=found.get("total"), head=found.get("head"), tail=found.get("tail"))


def one(folder: Path, base: str, form: str, samples: int) -> dict:
    path = folder / (f"{base}_int8.tflite" if form == "tflite" else f"{base}_int8_tflite.onnx")
    calib = folder / f"{base}_calib.npz"
    row = dict(model=path.name)
    try:
        compiled = pipeline.build(path, calib if calib.exists() else None)
    except McugenError as exc:
        return dict(row, compiles=False, why=str(exc))
    g = compiled.graph
    x, real = verify_int8.make_inputs(compiled, samples)
    got = verify_int8.run_model(verify_int8.HostRunner("cc"), compiled, "m", x).reshape(len(x), -1)
    figures = tflm.compare(folder / f"{base}_int8.tflite", x, got)
    arena = tflm_arena(folder / f"{base}_int8.tflite")
    return dict(row, compiles=True, layers=len(g.nodes), samples=len(x), real_samples=real,
                tflm_identical=figures.get("tflm_identical"), tflm_max_lsb=figures.get("tflm_max_lsb"),
                arena_bytes=compiled.plan.arena_size, tflm_arena_bytes=arena["total"],
                tflm_arena_head=arena["head"], tflm_arena_tail=arena["tail"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dir", type=Path, help="measure every NAME_int8.tflite in this folder instead")
    args = parser.parse_args()
    folder = args.dir or ROOT / "examples"
    bases = EXAMPLES if args.dir is None else sorted(p.name[:-len("_int8.tflite")] for p in folder.glob("*_int8.tflite"))
    rows = [one(folder, base, form, args.samples) for base in bases for form in ("tflite", "onnx")
            if form == "tflite" or (folder / f"{base}_int8_tflite.onnx").exists()]
    if args.json:
        print(json.dumps(rows, indent=2))
        return
    print(f"{'model':<48} {'compiles':>8} {'= TFLM':>8} {'max LSB':>7} {'arena B':>8} {'TFLM arena B':>13} {'ratio':>6}")
    for r in rows:
        if not r["compiles"]:
            print(f"{r['model']:<48} {'no':>8}  {r['why']}")
            continue
        ratio = r["tflm_arena_bytes"] / r["arena_bytes"] if r["tflm_arena_bytes"] else float("nan")
        print(f"{r['model']:<48} {'yes':>8} {r['tflm_identical']:>8.2%} {r['tflm_max_lsb']:>7} {r['arena_bytes']:>8,} "
              f"{r['tflm_arena_bytes']:>13,} {ratio:>5.2f}x")


if __name__ == "__main__":
    main()
