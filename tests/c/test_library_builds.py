"""The kernel library (mcugen/backend/kernels) as C files of their own. Each .c compiles on
its own into an object (-DMCUGEN_EXTERN_KERNELS: external linkage; in a model the kernels are
static), warning-free under the strict flags with gcc and clang, in the plain, the
DSP-emulated and the Cortex-M0 (no long multiply) forms, and with arm-none-eabi-gcc for
Cortex-M4 (its DSP instructions) and Cortex-M0+; cppcheck finds nothing. And the library
is what the ops' C_KERNELS say (codegen.kernels): one file per kernel, each defining its function in its guard,
including only the headers the emitter pastes before it."""

import re
import shutil
import subprocess

import pytest
from helpers import EMULATE_DSP, KERNELS, require

from mcugen.backend import codegen
from mcugen.precision import FLOAT32, INT8, PRECISIONS
from mcugen.target.toolchain import CFLAGS

SOURCES = sorted(KERNELS.glob("*.c"))
HEADERS = sorted(KERNELS.glob("*.h"))
OBJECT = ("-DMCUGEN_EXTERN_KERNELS",)  # every kernel with external linkage, so each object holds its code
VARIANTS = {"plain": (), "dsp": EMULATE_DSP, "cortex-m0-form": ("-DMCUGEN_NO_LONG_MULTIPLY",)}
CORTEX_M = {"cortex-m4": ["-mcpu=cortex-m4", "-mthumb", "-mfloat-abi=hard", "-mfpu=fpv4-sp-d16"],
            "cortex-m0plus": ["-mcpu=cortex-m0plus", "-mthumb", "-mfloat-abi=soft"]}


def compile_each(cc, flags, folder):
    """Every library .c compiled on its own (one translation unit each) into folder."""
    proc = subprocess.run([cc, *CFLAGS, *OBJECT, *flags, "-I", str(KERNELS), "-c", *map(str, SOURCES)],
                          capture_output=True, text=True, cwd=folder)
    assert proc.returncode == 0, proc.stderr[:3000]
    objects = [folder / (source.stem + ".o") for source in SOURCES]
    assert all(o.is_file() for o in objects)
    return objects


def defined_functions(obj, nm="nm"):
    out = subprocess.run([nm, "--defined-only", str(obj)], capture_output=True, text=True, check=True).stdout
    return {line.split()[-1] for line in out.splitlines() if line.split()[1:2] == ["T"]}


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("cc", ["gcc", "clang"])
def test_each_file_compiles_on_its_own(cc, variant, tmp_path):
    require(cc)
    for obj in compile_each(cc, VARIANTS[variant], tmp_path):
        assert obj.stem in defined_functions(obj)  # mcugen_conv_s8.o defines mcugen_conv_s8


@pytest.mark.parametrize("core", CORTEX_M)
def test_each_file_compiles_for_cortex_m(core, tmp_path):
    """arm-none-eabi-gcc: on the Cortex-M4 the int8 kernels take the DSP path (SMLAD)."""
    cc = require("arm-none-eabi-gcc")
    objects = compile_each(cc, CORTEX_M[core], tmp_path)
    probe = tmp_path / "probe.c"
    probe.write_text('#include "mcugen_common_s8.h"\n#ifdef MCUGEN_DSP\nint mcugen_probe_dsp;\n#endif\n')
    compile_probe = [cc, *CFLAGS, *CORTEX_M[core], "-I", str(KERNELS), "-c", str(probe), "-o", str(tmp_path / "p.o")]
    subprocess.run(compile_probe, check=True)
    symbols = subprocess.run(["arm-none-eabi-nm", str(tmp_path / "p.o")], capture_output=True, text=True).stdout
    assert ("mcugen_probe_dsp" in symbols) == (core == "cortex-m4")
    if core == "cortex-m4" and shutil.which("arm-none-eabi-objdump"):
        pointwise = next(o for o in objects if o.stem == "mcugen_pointwise_conv_s8")
        code = subprocess.run(["arm-none-eabi-objdump", "-d", str(pointwise)], capture_output=True, text=True).stdout
        assert "smlad" in code and "sxtb16" in code


ARM_DSP = ("-D__GNUC__", "-D__ARM_FEATURE_DSP", "-D__ARM_FEATURE_SIMD32", "-D__ARM_FEATURE_SAT")
# The builds the kernels are made in, named (a -D makes cppcheck check exactly that one): the
# plain host build (MCUGEN_CPPCHECK: a name nothing tests), the emulated DSP paths, the ARM
# DSP cores, ARMv8-M Mainline (the pointwise kernel's own order), and the Cortex-M0 form.
# --force, every #if combination, took 48 s once the pointwise kernel had its per-core macros.
CPPCHECK_CONFIGURATIONS = {"plain": ("-DMCUGEN_CPPCHECK",), "emulated-dsp": ("-DMCUGEN_EMULATE_DSP",),
                           "arm-dsp": ARM_DSP, "armv8m-main": (*ARM_DSP, "-D__ARM_ARCH_8M_MAIN__"),
                           "cortex-m0-form": ("-D__GNUC__", "-D__ARM_ARCH_6M__", "-DMCUGEN_NO_LONG_MULTIPLY")}


@pytest.mark.parametrize("configuration", CPPCHECK_CONFIGURATIONS)
def test_cppcheck_finds_nothing(configuration):
    """The kernels as objects, in each build they are made in. A library's functions are
    called from elsewhere: unusedFunction does not apply."""
    if not shutil.which("cppcheck"):
        pytest.skip("cppcheck is not installed")
    proc = subprocess.run(["cppcheck", "--enable=all", "--std=c99", "--error-exitcode=1", "--inline-suppr",
                           "--suppress=missingIncludeSystem", "--suppress=unusedFunction", "--quiet", *OBJECT,
                           *CPPCHECK_CONFIGURATIONS[configuration], "-I", str(KERNELS), *map(str, SOURCES)],
                          capture_output=True, text=True)
    assert proc.returncode == 0 and not proc.stderr.strip(), proc.stderr


def includes(path):
    return re.findall(r'^#include "(mcugen_\w+\.[ch])"', path.read_text(), flags=re.M)


@pytest.mark.parametrize("precision", PRECISIONS)
def test_the_library_is_what_codegen_pastes(precision):
    kernels = codegen.kernels(PRECISIONS[precision])
    suffix = "_" + PRECISIONS[precision].suffix
    assert sorted(k.file for k in kernels.values()) == sorted(p.name for p in SOURCES if p.stem.endswith(suffix))
    common = codegen.headers(PRECISIONS[precision])
    for kernel in kernels.values():
        text = (KERNELS / kernel.file).read_text()
        guard = f"MCUGEN_{kernel.function[len('mcugen_'):].upper()}_DEFINED"
        assert f"#ifndef {guard}\n#define {guard}\n" in text, kernel.file
        assert re.search(rf"^MCUGEN_\w+ void {kernel.function}\(", text, flags=re.M), kernel.file
        # Headers only from the ones pasted before the kernels, and each of those pasted after its own.
        assert set(includes(KERNELS / kernel.file)) <= set(common), kernel.file
    for i, header in enumerate(common):
        assert set(includes(KERNELS / header)) <= set(common[:i]), header
    assert {h.name for h in HEADERS} == set(codegen.headers(INT8)) | set(codegen.headers(FLOAT32))
