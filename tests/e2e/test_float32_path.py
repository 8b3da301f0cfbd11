"""--precision float32 end to end: the arena planned with 4-byte elements and run at its
tightest overlaps, the generated float C (strict C99 under gcc and clang, no malloc, const
float weights, prefixed symbols, deterministic), the float API, and the command line:
compile, report, verify and the Cortex-M build (M4 with its FPU; M0+ refused)."""

import importlib.util
import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS, EXAMPLES, V3, VWW, require
from helpers.chains import build_chain, draw_specs, reshaped, tightest_plan
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen import pipeline, planner, reference
from mcugen.backend import codegen, float32
from mcugen.pipeline import Compiled
from mcugen.precision import FLOAT32
from mcugen.target.toolchain import CFLAGS
from mcugen.verify import run_c

DIGITS_CALIB = EXAMPLES / "digits_calib.npz"


def mcugen(*args):
    proc = subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


# ---------------------------------------------------------------------------- the arena


def as_float(graph, rng):
    """build_chain's int8-style weights as float weights of unit gain, with a bias; the
    tensors without quantization, as float32 graphs have them."""
    for tensor in graph.tensors.values():
        tensor.q = None
    for node in graph.nodes:
        if "weight" in node.attrs:
            w = node.attrs["weight"]
            channels = w.shape[-1] if node.op == "depthwise_conv" else w.shape[0]
            node.attrs["weight"] = w / (127.0 * np.sqrt(w.size // channels))
            node.attrs["bias"] = rng.normal(0, 0.2, channels)
    return graph


def check_float_chain(graph, rng, samples=2):
    """Run the float C at the tightest overlaps with a trace; every layer must match the
    reference (which never overlaps), so a kernel that overwrites what it still reads fails."""
    plan = tightest_plan(graph, FLOAT32)
    x = rng.uniform(-1, 1, size=(samples, *graph.shape(graph.input)[1:])).astype(np.float32)
    compiled = Compiled(graph, plan, graph=graph, precision=FLOAT32)
    dump = np.frombuffer(run_c(compiled, "ov", x, COMPILERS[0], trace=True), np.float32)
    want = reference.run_float(graph, x, keep=True)
    sizes = [graph.tensors[n.output].size for n in graph.nodes]
    per_sample = sum(sizes) + sizes[-1]  # every layer's trace, then the output
    assert dump.size == samples * per_sample
    for s in range(samples):
        offset = s * per_sample
        for i, node in enumerate(graph.nodes):
            got = dump[offset: offset + sizes[i]].reshape(1, -1)
            offset += sizes[i]
            error = float32.relative_errors(got, want[node.output][s].reshape(1, -1))[0]
            assert error <= 1e-5, f"layer {i} ({node.op}) overlapped by {plan.overlaps.get((node.input, node.output))}"


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@settings(max_examples=6, deadline=None)
@given(st.data())
def test_float_chains_run_at_their_tightest_overlap(data):
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = (1, data.draw(st.integers(3, 8)), data.draw(st.integers(3, 8)), data.draw(st.integers(1, 6)))
    specs = draw_specs(data, 8)
    tail = data.draw(st.sampled_from([[], [("global_avg_pool",), ("fully_connected", 7), ("softmax",)]]))
    graph = as_float(build_chain(reshaped(specs, shape, rng) + tail, shape, rng), rng)
    check_float_chain(graph, rng)


def test_float_plan_is_the_int8_plan_in_4_byte_elements():
    graph, _ = pipeline.front(DIGITS)
    int8, f32 = planner.plan(graph, stream=False), planner.plan(graph, FLOAT32)  # float32 never streams
    assert f32.elem_bytes == 4 and all(offset % 4 == 0 for offset in f32.offsets.values())
    # The same tensors, 4 bytes an element; only the int8 kernels have scratch buffers.
    assert [b.size for b in f32.buffers] == [4 * b.size for b in int8.buffers if not b.scratch]
    assert planner.conflicts(f32.buffers, f32.offsets, f32.overlaps) == []
    assert f32.lower_bound <= f32.arena_size <= 4 * int8.arena_size
    # Overlap distances come from the float kernels' own loop order (float_access where it
    # differs from the int8 kernel's), which check_float_chain runs at its tightest.
    assert f32.overlaps


# ---------------------------------------------------------------------------- the generated C


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen32")
    for path, name, precision in ((VWW, "vww", "float32"), (DIGITS, "dig", "float32"), (V3, "v3", "float32"),
                                  (DIGITS, "dig8", "int8")):
        c = pipeline.build(path, precision=precision)
        for fname, text in codegen.generate(c.graph, c.plan, name, path.name).items():
            (folder / fname).write_text(text)
    return folder


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_float_c_is_strict_c99(cc, generated):
    """v3 brings the element-wise helpers, VWW and digits every other kernel; one weights
    file is enough for the float literals (v3's is 13 MB of them)."""
    require(cc)
    for f in ("vww.c", "v3.c", "dig.c", "dig_weights.c"):
        proc = subprocess.run([cc, *CFLAGS, "-c", str(generated / f), "-o", str(generated / f"{f}.{cc}.o")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_float_c_has_no_malloc_and_const_float_weights(generated):
    code = re.sub(r"/\*.*?\*/", "", (generated / "vww.c").read_text(), flags=re.S)
    for word in ("malloc", "free(", "stdio", "double"):
        assert word not in code, word
    weights = (generated / "dig_weights.c").read_text()
    definitions = re.findall(r"^DIG_WEIGHTS_ATTR (?:const )?\w+ dig_l\d+_\w+\[\d+\] DIG_WEIGHTS_ALIGN = \{", weights,
                             flags=re.M)
    assert definitions and all(d.startswith("DIG_WEIGHTS_ATTR const float ") for d in definitions)
    # Every constant is a float literal (f suffix): no double arithmetic sneaks in.
    literals = re.findall(r"[-+]?\d[\d.e+-]*f?\b", weights.split("= {", 1)[1].split("};")[0])
    assert literals and all(t.endswith("f") for t in literals)


def test_float_header_documents_its_api(generated):
    header = (generated / "dig.h").read_text()
    for text in ("float *dig_input(void);", "const float *dig_output(void);", "typedef float dig_value_t;",
                 "#define DIG_PRECISION_FLOAT32 1", "link with -lm"):
        assert text in header, text
    assert "SCALE" not in header and "ZERO_POINT" not in header  # nothing is quantized
    assert "typedef int8_t dig8_value_t;" in (generated / "dig8.h").read_text()


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_a_float_and_an_int8_model_link_into_one_program(generated, tmp_path):
    """Both precisions' public symbols are prefixed; the float one needs -lm."""
    cc = COMPILERS[0]
    main = tmp_path / "main.c"
    main.write_text('#include "dig.h"\n#include "dig8.h"\n'
                    "int main(void) { dig_input()[0] = 0.5f; dig8_input()[0] = 2; dig_run(); dig8_run();\n"
                    "  return (dig_output()[0] > 1.0f) + (dig8_output()[0] == dig8_output()[1] + 300); }\n")
    sources = [generated / f for f in ("dig.c", "dig_weights.c", "dig8.c", "dig8_weights.c")]
    for src in sources:
        obj = tmp_path / f"{src.name}.o"
        subprocess.run([cc, *CFLAGS, "-c", str(src), "-o", str(obj)], check=True)
        symbols = subprocess.run(["nm", "--defined-only", "-g", str(obj)], capture_output=True, text=True).stdout
        prefix = "dig8_" if src.name.startswith("dig8") else "dig_"
        assert all(line.split()[-1].startswith(prefix) for line in symbols.splitlines() if line.strip())
    proc = subprocess.run([cc, *CFLAGS, "-I", str(generated), str(main), *map(str, sources), "-o",
                           str(tmp_path / "both"), "-lm"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert subprocess.run([str(tmp_path / "both")]).returncode == 0


# ---------------------------------------------------------------------------- the command line


def test_compile_float32_is_deterministic_needs_no_calibration_and_says_so(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        code, _, stderr = mcugen("compile", DIGITS, "-o", out, "--name", "dig", "--precision", "float32")
        assert code == 0 and "warning" not in stderr, stderr
    for f in a.iterdir():
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name
    manifest = json.loads((a / "mcugen.json").read_text())
    assert manifest["precision"] == "float32" and manifest["calibration"] is None
    assert "scale" not in manifest["input"] and manifest["arena_bytes"] % 4 == 0


def test_report_float32_counts_4_byte_activations_and_float_weights():
    _, out8, _ = mcugen("report", DIGITS, "--json", "--no-stream")  # float32 never streams
    code, out32, _ = mcugen("report", DIGITS, "--json", "--precision", "float32")
    r8, r32 = json.loads(out8), json.loads(out32)
    assert code == 0 and r32["precision"] == "float32" and r8["precision"] == "int8"
    assert [t["bytes"] for t in r32["tensors"]] == [4 * t["bytes"] for t in r8["tensors"] if not t["scratch"]]
    graph, _ = pipeline.front(DIGITS)
    floats = sum(n.attrs["weight"].size + n.attrs["bias"].size for n in graph.nodes if "weight" in n.attrs)
    assert r32["weights_bytes"] == 4 * floats
    assert r32["macs"] == r8["macs"]


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_verify_float32_within_tolerance_of_onnxruntime():
    code, out, stderr = mcugen("verify", DIGITS, "--precision", "float32", "--calib", DIGITS_CALIB,
                               "--samples", "8", "--json")
    assert code == 0, stderr
    r = json.loads(out)
    assert r["precision"] == "float32" and r["float_reference"] == "onnxruntime"
    assert r["within_tolerance"] and r["within_bound"]
    assert r["bound_vs_onnxruntime"] == r["bound_vs_reference"] == r["tolerance"] == 1e-5
    assert r["max_rel_error_vs_onnxruntime"] <= 1e-5 and r["max_rel_error_vs_reference"] <= 1e-5
    assert r["calibration_samples"] == 4 and r["top1_agreement"] == 1.0


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_verify_float32_names_the_first_layer_beyond_the_bound(monkeypatch, capsys):
    """Scale the depthwise weights the C gets by 1.01: the C is then off from onnxruntime and
    from the reference, so verify must fail (exit 1) and point at the first depthwise layer."""
    from mcugen import cli

    real = float32.arrays
    scaled = lambda node: [(k, a * 1.01 if node.op == "depthwise_conv" else a) for k, a in real(node)]  # noqa: E731
    monkeypatch.setattr(float32, "arrays", scaled)
    code = cli.main(["verify", str(DIGITS), "--precision", "float32", "--samples", "2", "--json"])
    r = json.loads(capsys.readouterr().out)
    assert code == 1 and not r["within_bound"]
    assert r["max_rel_error_vs_onnxruntime"] > r["bound_vs_onnxruntime"]
    assert r["first_bad_layer"]["op"] == "depthwise_conv" and r["first_bad_layer"]["index"] == 1


@pytest.mark.parametrize("args", [["--precision", "float16"], ["--precision", "float32", "--target", "cortex-m0plus"]])
def test_bad_precision_is_one_line(args):
    code, out, stderr = mcugen("verify", DIGITS, *args)
    lines = [line for line in stderr.splitlines() if not line.startswith("mcugen: note:")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("mcugen: error: "), stderr
    assert "float16" in lines[0] or "FPU" in lines[0]


HAVE_TARGET = bool(shutil.which("arm-none-eabi-gcc")) and all(
    importlib.util.find_spec(m) for m in ("unicorn", "elftools", "capstone"))


@pytest.mark.skipif(not HAVE_TARGET, reason="needs arm-none-eabi-gcc and the emulator packages")
def test_float32_on_cortex_m4_uses_its_fpu():
    code, out, stderr = mcugen("verify", DIGITS, "--precision", "float32", "--target", "cortex-m4",
                               "--samples", "3", "--json")
    assert code == 0, stderr
    r = json.loads(out)
    assert r["within_tolerance"] and "-mfloat-abi=hard -mfpu=fpv4-sp-d16" in r["compiler"]
    code, out, stderr = mcugen("bench", DIGITS, "--precision", "float32", "--target", "cortex-m4", "--json")
    assert code == 0, stderr
    b = json.loads(out)
    assert b["output_ok"] and b["precision"] == "float32" and b["output_bit_exact"] is None
    assert b["ram"]["bss"] >= json.loads(mcugen("report", DIGITS, "--json", "--precision", "float32")[1])["arena_bytes"]
    assert b["ram"]["stack"] >= b["ram"]["stack_measured"]  # libm's VPUSH frames are counted
