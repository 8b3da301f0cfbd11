"""Properties of the generated C: strict C99 under gcc and clang, no float or malloc in the
inference path, const weights, every public symbol prefixed, two models in one firmware,
ONNX names only in sanitized comments."""

import re
import subprocess

import pytest
from helpers import COMPILERS, DIGITS, VWW, require

from mcugen import pipeline
from mcugen.backend import codegen
from mcugen.target.toolchain import CFLAGS


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gen")
    for path, name in ((VWW, "vww"), (DIGITS, "digits")):
        c = pipeline.build(path)
        for fname, text in codegen.generate(c.graph, c.plan, name, path.name).items():
            (folder / fname).write_text(text)
    return folder


@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_strict_c99_builds(cc, generated):
    require(cc)
    for f in ("vww.c", "vww_weights.c", "digits.c", "digits_weights.c"):
        proc = subprocess.run([cc, *CFLAGS, "-c", str(generated / f), "-o", str(generated / f"{f}.{cc}.o")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_no_float_no_malloc_in_the_inference_code(generated):
    code = (generated / "vww.c").read_text()
    stripped = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    for word in ("float", "double", "malloc", "free(", "stdio", "math.h"):
        assert word not in stripped, word


def test_weights_are_const(generated):
    weights = (generated / "vww_weights.c").read_text()
    definitions = re.findall(r"^VWW_WEIGHTS_ATTR (?:const )?\w+ vww_l\d+_\w+\[\d+\] VWW_WEIGHTS_ALIGN = \{", weights,
                             flags=re.M)
    assert definitions and all(d.startswith("VWW_WEIGHTS_ATTR const ") for d in definitions)


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_public_symbols_are_prefixed_and_two_models_link(generated, tmp_path):
    cc = COMPILERS[0]
    main = tmp_path / "main.c"
    main.write_text('#include "vww.h"\n#include "digits.h"\n'
                    "int main(void) { vww_input()[0] = 1; digits_input()[0] = 2; vww_run(); digits_run();\n"
                    "  return vww_output()[0] + digits_output()[0] > 1000; }\n")
    objects = []
    for f in ("vww.c", "vww_weights.c", "digits.c", "digits_weights.c"):
        obj = tmp_path / f"{f}.o"
        subprocess.run([cc, *CFLAGS, "-c", str(generated / f), "-o", str(obj)], check=True)
        symbols = subprocess.run(["nm", "--defined-only", "-g", str(obj)], capture_output=True, text=True).stdout
        prefix = "vww_" if f.startswith("vww") else "digits_"
        names = [line.split()[-1] for line in symbols.splitlines() if line.strip()]
        assert names and all(n.startswith(prefix) for n in names), names
        objects.append(str(obj))
    proc = subprocess.run([cc, *CFLAGS, "-I", str(generated), str(main), *objects, "-o", str(tmp_path / "both")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert subprocess.run([str(tmp_path / "both")]).returncode == 0


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_two_models_and_a_float_one_in_one_unity_build(generated, tmp_path):
    """Each pasted library file is guarded (its header guard, MCUGEN_<KERNEL>_DEFINED) and
    every file-scope name in NAME.c carries the model's prefix, so one translation unit can
    include two int8 models and a float32 one: each kernel is defined once."""
    c = pipeline.build(DIGITS, precision="float32")
    for fname, text in codegen.generate(c.graph, c.plan, "d32", DIGITS.name).items():
        (tmp_path / fname).write_text(text)
    names = ["vww.c", "vww_weights.c", "digits.c", "digits_weights.c", "d32.c", "d32_weights.c"]
    unity = tmp_path / "unity.c"
    unity.write_text("".join(f'#include "{f}"\n' for f in names) +
                     "int main(void) { vww_input()[0] = 1; digits_input()[0] = 2; d32_input()[0] = 0.5f;\n"
                     "  vww_run(); digits_run(); d32_run();\n"
                     "  return vww_output()[0] + digits_output()[0] > 1000 || !(d32_output()[0] >= 0.0f); }\n")
    proc = subprocess.run([COMPILERS[0], *CFLAGS, "-I", str(generated), "-I", str(tmp_path), str(unity),
                           "-o", str(tmp_path / "unity"), "-lm"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[:3000]
    assert subprocess.run([str(tmp_path / "unity")]).returncode == 0
    assert (generated / "vww.c").read_text().count("#define MCUGEN_CONV_S8_DEFINED") == 1


def test_onnx_names_reach_c_only_inside_comments(generated):
    code = (generated / "vww.c").read_text()
    assert "MobilenetV1/Conv2d_0/Conv2D" in code  # node names are there, for the reader...
    code_only = re.sub(r"/\*.*?\*/", "", code, flags=re.S)
    assert "MobilenetV1" not in code_only  # ...but only in comments
    assert "Relu6:0" not in code  # tensor names never appear at all


@pytest.mark.parametrize("text", ['a*/b', "x\ny", "??/", 'q"uote\\', "é", "/* c */"])
def test_c_comment_is_harmless(text):
    safe = codegen.c_comment(text)
    assert "*" not in safe and "\n" not in safe and "?" not in safe and "\\" not in safe and '"' not in safe
    assert safe.isascii()


def test_hostile_names_compile(tmp_path):
    """A model whose node and tensor names are C-hostile compiles to warning-free C."""
    from helpers import init, model, save
    from onnx import helper

    evil = 'a"*/\n#include </etc/passwd>\\ ??/'
    nodes = [helper.make_node("Conv", ["input", "w"], [evil + "t"], name=evil),
             helper.make_node("Relu", [evil + "t"], ["output"], name=evil + "2")]
    path = save(model(nodes, [1, 2, 4, 4], [1, 3, 4, 4], [init("w", [[[[0.5]]] * 2] * 3)]), tmp_path)
    c = pipeline.build(path)
    files = codegen.generate(c.graph, c.plan, "m", "evil */ name.onnx")
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
        code_only = re.sub(r"/\*.*?\*/", "", text, flags=re.S)
        assert "passwd" not in code_only  # the name survives only inside comments
        allowed = {"#include <stdint.h>", "#include <string.h>", "#include <arm_acle.h>", '#include "m.h"'}
        assert set(re.findall(r"#include\s*\S+", code_only)) <= allowed
    if COMPILERS:
        proc = subprocess.run([COMPILERS[0], *CFLAGS, "-c", str(tmp_path / "m.c"), "-o", str(tmp_path / "m.o")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr


def test_default_name_is_a_c_identifier():
    assert codegen.default_name("models/VWW-v1.0.onnx") == "vww_v1_0"
    assert codegen.default_name("3d.onnx") == "model_3d"
    assert codegen.default_name("int.onnx") == "model_int"


CALLER_OWNED = """#include <stdio.h>
#include <string.h>
#include "digits.h"
/* two arenas of the caller's, in sections of its choosing */
static __attribute__((section(".bss.arena_a"), aligned(DIGITS_ARENA_ALIGN))) int8_t a[DIGITS_ARENA_SIZE];
static __attribute__((section(".bss.arena_b"), aligned(DIGITS_ARENA_ALIGN))) int8_t b[DIGITS_ARENA_SIZE];
int main(void)
{
    int i;
    for (i = 0; i < DIGITS_INPUT_SIZE; i++) {
        digits_input_in(a)[i] = (int8_t)(i % 13 - 6);
        digits_input_in(b)[i] = (int8_t)(i % 7 - 100);
    }
    digits_run_with(b);  /* b first, then a: neither run may disturb the other's arena */
    digits_run_with(a);
    for (i = 0; i < DIGITS_OUTPUT_SIZE; i++) printf("%d ", digits_output_in(a)[i]);
    printf("| ");
    for (i = 0; i < DIGITS_OUTPUT_SIZE; i++) printf("%d ", digits_output_in(b)[i]);
    printf("| %s\\n", DIGITS_MCUGEN_VERSION);
    return 0;
}
"""


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_memory_the_caller_owns(tmp_path):
    """NAME_run_with on two arenas of the caller's, without the built-in one
    (-DDIGITS_NO_STATIC_ARENA), weights placed by DIGITS_WEIGHTS_ATTR: each output is the
    reference's for its own input."""
    import numpy as np

    from mcugen import reference

    c = pipeline.build(DIGITS)
    for fname, text in codegen.generate(c.graph, c.plan, "digits", DIGITS.name).items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "main.c").write_text(CALLER_OWNED)
    flags = [*CFLAGS, "-DDIGITS_NO_STATIC_ARENA", "-DDIGITS_WEIGHTS_ATTR=__attribute__((section(\".rodata.model\")))"]
    proc = subprocess.run([COMPILERS[0], *flags, "-I", str(tmp_path), str(tmp_path / "main.c"), str(tmp_path / "digits.c"),
                           str(tmp_path / "digits_weights.c"), "-o", str(tmp_path / "app")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    text = subprocess.run([str(tmp_path / "app")], capture_output=True, text=True, check=True).stdout
    got_a, got_b, version = text.split("|")
    shape = c.graph.shape(c.graph.input)[1:]
    n = c.graph.tensors[c.graph.input].size
    for got, x in ((got_a, np.arange(n) % 13 - 6), (got_b, np.arange(n) % 7 - 100)):
        want = reference.run_int8(c.graph, x.astype(np.int8).reshape(1, *shape)).reshape(-1)
        assert [int(v) for v in got.split()] == want.tolist()
    assert version.strip() == __import__("mcugen").__version__
    static = (tmp_path / "digits.c").read_text()
    assert "static DIGITS_ARENA_ATTR union" in static and "#ifndef DIGITS_NO_STATIC_ARENA" in static


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_a_weights_file_of_another_compile_does_not_link(tmp_path):
    """digits.c of one compile with digits_weights.c of another (other calibration, so other
    multipliers): the link fails on the missing build symbol instead of running wrong."""
    import numpy as np

    from mcugen.quant import quantize

    one = pipeline.build(DIGITS)
    other = pipeline.build(DIGITS, np.full((4, *quantize.onnx_input_shape(one.graph)), 0.25, np.float32))
    for folder, c in (("one", one), ("other", other)):
        (tmp_path / folder).mkdir()
        for fname, text in codegen.generate(c.graph, c.plan, "digits", DIGITS.name).items():
            (tmp_path / folder / fname).write_text(text)
    (tmp_path / "main.c").write_text('#include "digits.h"\nint main(void) { digits_run(); return 0; }\n')

    def link(weights_from):
        return subprocess.run([COMPILERS[0], *CFLAGS, "-I", str(tmp_path / "one"), str(tmp_path / "main.c"),
                               str(tmp_path / "one" / "digits.c"), str(tmp_path / weights_from / "digits_weights.c"),
                               "-o", str(tmp_path / "app")], capture_output=True, text=True)

    assert link("one").returncode == 0
    mixed = link("other")
    assert mixed.returncode != 0 and "digits_build_" in mixed.stderr


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_cpp17_firmware_uses_the_header(generated, tmp_path):
    """A C++17 firmware includes NAME.h (extern "C", no casts: -Wold-style-cast clean) and
    links the C objects built as C99; docs/c-api.md says why the .c files stay C."""
    require("g++")
    cpp = tmp_path / "main.cpp"
    cpp.write_text('#include "digits.h"\n#include <cstdint>\n'
                   "int main() { digits_value_t *in = digits_input(); in[0] = 3; digits_run();\n"
                   "  return digits_output() != nullptr ? 0 : 1; }\n")
    objects = []
    for f in ("digits.c", "digits_weights.c"):
        obj = tmp_path / f"{f}.o"
        subprocess.run([COMPILERS[0], *CFLAGS, "-c", str(generated / f), "-o", str(obj)], check=True)
        objects.append(str(obj))
    proc = subprocess.run(["g++", "-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-Wold-style-cast",
                           "-I", str(generated), str(cpp), *objects, "-o", str(tmp_path / "app")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert subprocess.run([str(tmp_path / "app")]).returncode == 0
