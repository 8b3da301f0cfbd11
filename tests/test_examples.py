"""The shipped examples: verified bit-exact, and quantization keeps the trained digits networks' (v1, v2, v3) accuracy."""

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest

from helpers import COMPILERS, DIGITS, EXAMPLES, VWW
from mcugen import pipeline
from mcugen.layout import to_ir
from mcugen.quantize import quantize_input
from mcugen.verify import run_c

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")


DIGITS_V2 = EXAMPLES / "digits_mobilenet_v2.onnx"
DIGITS_V3 = EXAMPLES / "digits_mobilenet_v3.onnx"


@pytest.mark.parametrize("model,calib", [(VWW, "vww_calib.npz"), (DIGITS, "digits_calib.npz"),
                                         (DIGITS_V2, "digits_calib.npz"), (DIGITS_V3, "digits_calib.npz")], ids=lambda p: getattr(p, "stem", p))
def test_example_verifies_bit_exact_on_20_samples(model, calib):
    proc = subprocess.run([sys.executable, "-m", "mcugen", "verify", str(model), "--calib", str(EXAMPLES / calib),
                           "--samples", "20", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["bit_exact"] and data["samples"] == 20 and data["mismatches"] == 0
    assert data["cosine"] > 0.9


@pytest.mark.parametrize("model", [DIGITS, DIGITS_V2, DIGITS_V3], ids=lambda p: p.stem)
def test_digits_int8_accuracy_within_one_point_of_float(model):
    held = np.load(EXAMPLES / "digits_heldout.npz")
    x, labels = held["input"], held["labels"]
    compiled = pipeline.build(model, EXAMPLES / "digits_calib.npz")
    g = compiled.graph
    xq = quantize_input(to_ir(x), g.tensors[g.input].q)
    out = np.frombuffer(run_c(compiled, "digits", xq, COMPILERS[0]), dtype=np.int8).reshape(len(x), -1)
    int8_accuracy = np.mean(out.argmax(axis=1) == labels)

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    float_accuracy = np.mean(session.run(None, {"input": x})[0].argmax(axis=1) == labels)
    assert float_accuracy > 0.95  # the trained model is a real classifier
    assert abs(int8_accuracy - float_accuracy) <= 0.01, (int8_accuracy, float_accuracy)
