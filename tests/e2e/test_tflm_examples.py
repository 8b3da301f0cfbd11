"""The int8 examples made as TFLite models (examples/make_tflite_examples.py): the generated C
gives TensorFlow Lite Micro's bytes exactly, for the .tflite read directly and for its
tf2onnx export (QDQ ONNX), on 100 inputs each (half real held-out samples, half random)."""

import re

import numpy as np
import pytest
from helpers import COMPILERS, EXAMPLES

from mcugen import pipeline
from mcugen.backend import codegen
from mcugen.verify import int8 as verify_int8
from mcugen.verify import tflm

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")
BASES = ["kws_dscnn", "person_mobilenet_v1_025_gray"]
SAMPLES = 100


def model_path(base: str, form: str):
    return EXAMPLES / (f"{base}_int8.tflite" if form == "tflite" else f"{base}_int8_tflite.onnx")


@pytest.mark.parametrize("form", ["tflite", "onnx"])
@pytest.mark.parametrize("base", BASES)
def test_example_gives_tflm_bytes(base, form):
    pytest.importorskip("tflite_micro")
    compiled = pipeline.build(model_path(base, form), EXAMPLES / f"{base}_calib.npz")
    g = compiled.graph
    assert (g.input_type, g.output_type) == ("int8", "int8")
    x, real = verify_int8.make_inputs(compiled, SAMPLES)
    assert real == SAMPLES // 2
    got = verify_int8.run_model(verify_int8.HostRunner(COMPILERS[0]), compiled, "m", x).reshape(SAMPLES, -1)
    expected, _ = verify_int8.reference_outputs(g, x, 0)
    np.testing.assert_array_equal(got, expected)  # the contract: C == mcugen's reference
    figures = tflm.compare(model_path(base, "tflite"), x, got)
    assert figures.get("tflm_samples") == SAMPLES, figures
    assert figures["tflm_identical"] == 1.0, figures


@pytest.mark.parametrize("base", BASES)
def test_tflite_and_its_onnx_export_compile_to_the_same_c(base):
    """The two spellings of one model become the same layers, parameters and weights: the
    C is the same but for the layer names in comments (tf2onnx adds its own suffixes)."""
    texts = []
    for form in ("tflite", "onnx"):
        compiled = pipeline.build(model_path(base, form))
        files = codegen.generate(compiled.graph, compiled.plan, "m", "model")
        texts.append([re.sub(r"/\*.*?\*/", "", files[f], flags=re.S) for f in ("m.c", "m_weights.c")])
    assert texts[0] == texts[1]
