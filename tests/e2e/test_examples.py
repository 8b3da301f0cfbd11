"""The shipped examples: verified bit-exact, and quantization keeps the trained digits networks'
(v1, v2, v3, and the VWW network trained on digits) accuracy."""

import json
import subprocess
import sys

import numpy as np
import onnxruntime as ort
import pytest
from helpers import COMPILERS, DIGITS, EXAMPLES, VWW

from mcugen import pipeline
from mcugen.layout import to_ir
from mcugen.quant.quantize import quantize_input
from mcugen.verify import run_c

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")


DIGITS_V2 = EXAMPLES / "digits_mobilenet_v2.onnx"
DIGITS_V3 = EXAMPLES / "digits_mobilenet_v3.onnx"
VWW_DIGITS = EXAMPLES / "vww_digits_mobilenet_v1_025.onnx"  # the VWW network itself, trained on digits


def heldout(model):
    """The held-out digits at the model's input size, and their labels."""
    if model == VWW_DIGITS:  # 96x96x3: rebuilt, not shipped (40 MB)
        sys.path.insert(0, str(EXAMPLES))
        from vww_digits_data import load_heldout

        return load_heldout()
    held = np.load(EXAMPLES / "digits_heldout.npz")
    return held["input"], held["labels"]


@pytest.mark.parametrize("model,calib", [(VWW, "vww_calib.npz"), (DIGITS, "digits_calib.npz"),
                                         (DIGITS_V2, "digits_calib.npz"), (DIGITS_V3, "digits_calib.npz"),
                                         (VWW_DIGITS, "vww_digits_calib.npz")], ids=lambda p: getattr(p, "stem", p))
def test_example_verifies_bit_exact_on_20_samples(model, calib):
    proc = subprocess.run([sys.executable, "-m", "mcugen", "verify", str(model), "--calib", str(EXAMPLES / calib),
                           "--samples", "20", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["bit_exact"] and data["samples"] == 20 and data["mismatches"] == 0
    assert data["cosine"] > 0.9


@pytest.mark.parametrize("model", [DIGITS, DIGITS_V2, DIGITS_V3, VWW_DIGITS], ids=lambda p: p.stem)
def test_digits_int8_accuracy_within_one_point_of_float(model):
    x, labels = heldout(model)
    calib = "vww_digits_calib.npz" if model == VWW_DIGITS else "digits_calib.npz"
    compiled = pipeline.build(model, EXAMPLES / calib)
    g = compiled.graph
    xq = quantize_input(to_ir(x), g.tensors[g.input].q)
    out = np.frombuffer(run_c(compiled, "digits", xq, COMPILERS[0]), dtype=np.int8).reshape(len(x), -1)
    int8_accuracy = np.mean(out.argmax(axis=1) == labels)

    session = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    float_accuracy = np.mean(np.concatenate([session.run(None, {"input": x[i: i + 60]})[0]
                                             for i in range(0, len(x), 60)]).argmax(axis=1) == labels)
    assert float_accuracy > 0.95  # the trained model is a real classifier
    assert abs(int8_accuracy - float_accuracy) <= 0.01, (int8_accuracy, float_accuracy)


RUN_BOTH = """#include <stdio.h>
#include <string.h>
#include "m.h"
static int8_t own[M_ARENA_SIZE] __attribute__((aligned(M_ARENA_ALIGN)));
int main(void)
{
    int s, i, differ = 0;
    for (s = 0; s < 3; s++) {
        for (i = 0; i < M_INPUT_SIZE; i++) {
            m_input()[i] = m_input_in(own)[i] = (int8_t)((i * (s + 3)) % 251 - 125);
        }
        m_run();
        m_run_with(own);
        differ += memcmp(m_output(), m_output_in(own), M_OUTPUT_SIZE) != 0;
        for (i = 0; i < M_OUTPUT_SIZE; i++) printf("%d ", m_output()[i]);
    }
    printf("| %d\\n", differ);
    return 0;
}
"""


@pytest.mark.parametrize("model", [VWW, DIGITS_V3], ids=lambda p: p.stem)
def test_run_with_gives_run_s_bytes(model, tmp_path):
    """verify's builds leave out the NAME_run_with copy of the layers (-DNAME_NO_RUN_WITH);
    here both copies run side by side on whole examples (a streamed pair in VWW; residual
    adds, squeeze-excite and tables in digits v3): the caller-arena copy gives NAME_run's
    bytes, which are the reference's."""
    from mcugen import reference
    from mcugen.backend import codegen
    from mcugen.target.toolchain import CFLAGS

    c = pipeline.build(model)
    for fname, text in codegen.generate(c.graph, c.plan, "m", model.name).items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "main.c").write_text(RUN_BOTH)
    sources = [str(tmp_path / f) for f in ("main.c", "m.c", "m_weights.c")]
    subprocess.run([COMPILERS[0], *CFLAGS, "-I", str(tmp_path), *sources, "-o", str(tmp_path / "both")], check=True)
    outputs, differ = subprocess.run([str(tmp_path / "both")], capture_output=True, text=True,
                                     check=True).stdout.split("|")
    assert int(differ) == 0
    n = c.graph.tensors[c.graph.input].size
    x = np.stack([((np.arange(n) * (s + 3)) % 251 - 125) for s in range(3)]).astype(np.int8)
    want = reference.run_int8(c.graph, x.reshape(3, *c.graph.shape(c.graph.input)[1:])).reshape(-1)
    assert [int(v) for v in outputs.split()] == want.tolist()
    # Without the second copy there is no m_run_with to link against, and asking for
    # neither copy is an error, not a model that cannot run.
    one = subprocess.run([COMPILERS[0], *CFLAGS, "-DM_NO_RUN_WITH", "-I", str(tmp_path), *sources, "-o",
                          str(tmp_path / "one")], capture_output=True, text=True)
    assert one.returncode != 0 and "m_run_with" in one.stderr
    neither = subprocess.run([COMPILERS[0], *CFLAGS, "-DM_NO_RUN_WITH", "-DM_NO_STATIC_ARENA", "-c",
                              str(tmp_path / "m.c"), "-o", str(tmp_path / "m.o")], capture_output=True, text=True)
    assert neither.returncode != 0 and "no way to run the model" in neither.stderr


@pytest.mark.parametrize("model,calib", [
    (DIGITS_V2, "digits_calib.npz"), (DIGITS_V3, "digits_calib.npz"), (VWW_DIGITS, "vww_digits_calib.npz"),
    (EXAMPLES / "kws_dscnn.onnx", "kws_dscnn_calib.npz"),
    (EXAMPLES / "person_mobilenet_v1_025_gray_int8_tflite.onnx", "person_mobilenet_v1_025_gray_calib.npz"),
    (EXAMPLES / "mobilenet_v3_small_075_96.onnx", "vww_calib.npz"),
    # fused inverted-residual blocks after the pipeline (v2), and in both modes (v3-large)
    (EXAMPLES / "mobilenet_v2_035_96.onnx", "vww_calib.npz"),
    (EXAMPLES / "mobilenet_v3_large_050_96.onnx", "vww_calib.npz")], ids=lambda p: getattr(p, "stem", p))
def test_example_verifies_bit_exact_with_row_input(model, calib):
    """--row-input on the examples tests/planner/test_row_input.py does not build (VWW and
    digits are there): the C, fed row by row by the runner's fake camera, gives the
    reference's bytes; the arena is no larger than with the whole input."""
    def verify(*extra):
        proc = subprocess.run([sys.executable, "-m", "mcugen", "verify", str(model), "--calib", str(EXAMPLES / calib),
                               "--samples", "3", "--json", *extra], capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return json.loads(proc.stdout)

    rows = verify("--row-input")
    assert rows["bit_exact"] and rows["samples"] == 3 and rows["mismatches"] == 0
    graph = pipeline.front(model)[0]
    assert pipeline.planner.plan(graph, pipeline=pipeline.planner.decide_pipeline(graph)).arena_size <= \
        pipeline.planner.plan(graph).arena_size
