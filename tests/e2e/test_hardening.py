"""The hardening guarantees (docs/hardening.md) about the generated C and the output folder: clean under ASan and
UBSan (with adversarial inputs at the accumulator's extremes), clean under cppcheck, and
byte-identical whatever the working folder or Python's hash seed."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS, EXAMPLES, VWW

from mcugen import pipeline, reference
from mcugen.backend import codegen
from mcugen.target.toolchain import SANITIZE
from mcugen.verify import run_c

V3 = EXAMPLES / "mobilenet_v3_small_075_96.onnx"
DIGITS_V2 = EXAMPLES / "digits_mobilenet_v2.onnx"
DIGITS_V3 = EXAMPLES / "digits_mobilenet_v3.onnx"
needs_cc = pytest.mark.skipif(not COMPILERS, reason="no C compiler")


def sanitizer_works(cc: str) -> bool:
    probe = subprocess.run([cc, *SANITIZE, "-x", "c", "-", "-o", os.devnull], input="int main(void){return 0;}",
                           capture_output=True, text=True)
    return probe.returncode == 0


def adversarial_inputs(shape, rng) -> np.ndarray:
    """All -128, all 127, a checkerboard of both, and random: the accumulators' extremes
    come from inputs at the ends of the range with the weights' signs."""
    n = int(np.prod(shape))
    rows = [np.full(n, -128), np.full(n, 127), np.where(np.arange(n) % 2, 127, -128), rng.integers(-128, 128, n)]
    return np.stack(rows).astype(np.int8).reshape(len(rows), *shape)


@needs_cc
# Every kernel the examples use, each model's layers at least once: VWW (the streamed pair,
# padded copies), v3-small (tables, squeeze-excite, residual adds, 5x5 depthwise), digits v2
# (residual adds under gcc); v2 and v3-large add no kernel, only minutes.
@pytest.mark.parametrize("model,cc", [(DIGITS, "gcc"), (DIGITS, "clang"), (VWW, "gcc"), (V3, "clang"),
                                      (DIGITS_V2, "gcc"), (DIGITS_V3, "clang")],
                         ids=lambda v: getattr(v, "stem", v))
def test_examples_are_clean_under_address_and_undefined_sanitizers(model, cc):
    if not shutil.which(cc) or not sanitizer_works(cc):
        pytest.skip(f"{cc} with sanitizers is not available")
    compiled = pipeline.build(model)
    g = compiled.graph
    x = adversarial_inputs(g.shape(g.input)[1:], np.random.default_rng(0))
    # run_c raises if the sanitized runner stops on a finding (exit status != 0).
    got = np.frombuffer(run_c(compiled, "san", x, cc, extra_flags=SANITIZE), np.int8)
    np.testing.assert_array_equal(got.reshape(len(x), -1), reference.run_int8(g, x).reshape(len(x), -1))


@needs_cc
def test_cppcheck_finds_nothing(tmp_path):
    if not shutil.which("cppcheck"):
        pytest.skip("cppcheck is not installed")
    sources = []
    for model, name in ((VWW, "vww"), (DIGITS, "dig"), (V3, "v3")):
        c = pipeline.build(model)
        folder = tmp_path / name
        folder.mkdir()
        for fname, text in codegen.generate(c.graph, c.plan, name, model.name).items():
            (folder / fname).write_text(text)
        (folder / "runner.c").write_text(codegen.runner_source(name))  # uses the API: no "unused function"
        sources.append(folder)
    for folder in sources:
        # The weights files are pure data (and slow to analyse when large): the digits one
        # stands for the template; every model's code is checked.
        files = [f for f in sorted(folder.glob("*.c")) if not f.name.endswith("_weights.c") or folder.name == "dig"]
        for config in cppcheck_configurations(folder.name.upper()):
            proc = subprocess.run(["cppcheck", "--enable=all", "--std=c99", "--error-exitcode=1", "--inline-suppr",
                                   "--suppress=missingIncludeSystem", "--suppress=unmatchedSuppression", "--quiet",
                                   *config, "-I", str(folder), *map(str, files)], capture_output=True, text=True)
            assert proc.returncode == 0 and not proc.stderr.strip(), (config, proc.stderr)


def cppcheck_configurations(name: str) -> list[list[str]]:
    """The builds that matter, named: left alone, cppcheck picks 12 of the many #ifdef
    combinations itself (slowly, and not necessarily these). A -D makes it check exactly
    one; MCUGEN_CPPCHECK is a name nothing tests, for the plain host build."""
    dsp = ["-D__GNUC__", "-D__ARM_FEATURE_DSP", "-D__ARM_FEATURE_SIMD32", "-D__ARM_FEATURE_SAT"]
    return [["-DMCUGEN_CPPCHECK"], ["-DMCUGEN_EMULATE_DSP", f"-D{name}_NO_STATIC_ARENA"], dsp,
            ["-D__GNUC__", "-D__ARM_ARCH_6M__", f"-D{name}_NO_RUN_WITH", f"-D{name}_TRACE"]]


def test_output_is_byte_identical_across_folders_and_hash_seeds(tmp_path):
    """Two compiles of the same model from different working folders, with different
    PYTHONHASHSEED values, give byte-identical output folders."""
    outs = []
    for i, seed in enumerate(("0", "12345")):
        cwd = tmp_path / f"work{i}" / "deeper"
        cwd.mkdir(parents=True)
        env = dict(os.environ, PYTHONHASHSEED=seed)
        proc = subprocess.run([sys.executable, "-m", "mcugen", "compile", str(V3), "-o", "out", "--name", "m",
                               "--calib", str(EXAMPLES / "vww_calib.npz")], cwd=cwd, env=env,
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        outs.append(cwd / "out")
    names = sorted(p.name for p in outs[0].iterdir())
    assert names == sorted(p.name for p in outs[1].iterdir()) and len(names) == 4
    for name in names:
        assert (outs[0] / name).read_bytes() == (outs[1] / name).read_bytes(), name


def test_report_shows_accumulator_headroom():
    proc = subprocess.run([sys.executable, "-m", "mcugen", "report", str(DIGITS), "--json"],
                          capture_output=True, text=True)
    import json

    layers = json.loads(proc.stdout)["layers"]
    weighted = [layer for layer in layers if layer["op"] in ("conv", "depthwise_conv", "pointwise_conv",
                                                             "fully_connected")]
    assert weighted and all(0 < layer["accumulator_bound"] <= 2**31 - 1 for layer in weighted)
    assert all(layer["headroom_bits"] == 31 - int(np.ceil(np.log2(layer["accumulator_bound"] + 1)))
               for layer in weighted)
