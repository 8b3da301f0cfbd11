"""compile --package (mcugen/packages.py) and --into (output.py): the glue a firmware build
takes, the CMake package built and run in a consumer project, and writing into a project's
own source folder touching only mcugen's files."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS

from mcugen import pipeline, reference


def mcugen(*args):
    proc = subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_every_package_writes_its_glue(tmp_path):
    out = tmp_path / "digits"
    code, _, err = mcugen("compile", DIGITS, "-o", out, "--name", "digits", *[
        a for kind in ("cmake", "zephyr", "platformio", "arduino") for a in ("--package", kind)])
    assert code == 0, err
    files = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    assert files == ["CMakeLists.txt", "library.json", "library.properties", "mcugen.json", "src/digits.c",
                     "src/digits.h", "src/digits_weights.c", "zephyr/CMakeLists.txt", "zephyr/Kconfig",
                     "zephyr/module.yml"]  # Arduino wants the C under src/
    assert json.loads((out / "mcugen.json").read_text())["files"] == [f for f in files if f != "mcugen.json"]
    library = json.loads((out / "library.json").read_text())
    assert library["name"] == "digits" and library["build"]["srcDir"] == "src"
    assert "zephyr_library_sources(" in (out / "zephyr" / "CMakeLists.txt").read_text()
    assert "name: digits" in (out / "zephyr" / "module.yml").read_text()
    assert "includes=digits.h" in (out / "library.properties").read_text()
    code, _, err = mcugen("compile", DIGITS, "-o", out, "--name", "digits")  # a rerun replaces the whole folder
    assert code == 0, err and not (out / "zephyr").exists()


@pytest.mark.skipif(not shutil.which("cmake") or not COMPILERS, reason="needs cmake and a C compiler")
def test_the_cmake_package_builds_in_a_consumer_project(tmp_path):
    """add_subdirectory + target_link_libraries(app PRIVATE digits), strict warnings: the app's
    output bytes are the reference's."""
    out = tmp_path / "model"
    assert mcugen("compile", DIGITS, "-o", out, "--name", "digits", "--package", "cmake")[0] == 0
    app = tmp_path / "app"
    app.mkdir()
    (app / "CMakeLists.txt").write_text(f"""cmake_minimum_required(VERSION 3.13)
project(consumer C)
add_subdirectory({out.as_posix()} model)
add_executable(app main.c)
target_link_libraries(app PRIVATE digits)
""")
    (app / "main.c").write_text("""#include <stdio.h>
#include "digits.h"
int main(void)
{
    int8_t *in = digits_input();
    for (int i = 0; i < DIGITS_INPUT_SIZE; i++) in[i] = (int8_t)(i % 251 - 125);
    digits_run();
    for (int i = 0; i < DIGITS_OUTPUT_SIZE; i++) printf("%d ", digits_output()[i]);
    return 0;
}
""")
    build = tmp_path / "build"
    flags = "-DCMAKE_C_FLAGS=-Wall -Wextra -Werror -pedantic"
    subprocess.run(["cmake", "-S", app, "-B", build, flags], check=True, capture_output=True)
    subprocess.run(["cmake", "--build", build], check=True, capture_output=True)
    got = [int(v) for v in subprocess.run([build / "app"], capture_output=True, text=True, check=True).stdout.split()]
    compiled = pipeline.build(DIGITS)  # the same synthetic calibration as compile's
    x = (np.arange(compiled.graph.tensors[compiled.graph.input].size) % 251 - 125).astype(np.int8)
    want = reference.run_int8(compiled.graph, x.reshape(1, *compiled.graph.shape(compiled.graph.input)[1:]))
    assert got == want.reshape(-1).tolist()  # a vector output: the C's bytes in order


def test_into_a_project_folder_touches_only_mcugens_files(tmp_path):
    src = tmp_path / "Core" / "Src"
    src.mkdir(parents=True)
    (src / "main.c").write_text("int main(void) { return 0; }\n")
    code, _, err = mcugen("compile", DIGITS, "-o", src, "--name", "digits")
    assert code == 2 and "--into" in err  # without --into, a folder of other files is refused
    code, _, err = mcugen("compile", DIGITS, "-o", src, "--name", "digits", "--into")
    assert code == 0, err
    assert sorted(p.name for p in src.iterdir()) == ["digits.c", "digits.h", "digits.mcugen.json",
                                                     "digits_weights.c", "main.c"]
    assert (src / "main.c").read_text() == "int main(void) { return 0; }\n"
    # a second model beside the first, then the first again: each replaces only its own files
    assert mcugen("compile", DIGITS, "-o", src, "--name", "other", "--into")[0] == 0
    assert mcugen("compile", DIGITS, "-o", src, "--name", "digits", "--into")[0] == 0
    assert {"other.c", "other.h", "other_weights.c", "other.mcugen.json", "main.c"} <= {p.name for p in src.iterdir()}
    # a file of the user's with a name mcugen would write is never overwritten
    (src / "mine.c").write_text("/* mine */\n")
    code, _, err = mcugen("compile", DIGITS, "-o", src, "--name", "mine", "--into")
    assert code == 2 and "'mine.c' exists and mcugen did not write it" in err
    assert (src / "mine.c").read_text() == "/* mine */\n" and not (src / "mine.h").exists()
