"""Cortex-M targets: what each core is, and building the generated C into an ELF for it.

TARGETS is the one table of cores. A build is the generated model C, a runner (the
emulator's main, templates/target/runner.c.j2), the start-up file and the linker script
(templates/target/startup.c, link.ld), compiled one file at a time (so each gets its
-fstack-usage .su file) and linked into one ELF.

The cross compiler is arm-none-eabi-gcc: it is what most firmware is built with, and the
benchmark figures are quoted with it. When it is absent, PyPI's `ziglang` (zig cc is
clang, and targets Thumb without a system toolchain) is the fallback, if importable.

Flags, for every target: -O3 (the speed figures are for the fastest build), -mthumb,
-mcpu=<core> (this alone decides the instruction set: the emulator runs any Thumb-2
instruction), -mfloat-abi=soft: the int8 path uses no float, M0+ has no FPU, and the
FPU of M4/M7/M33 is optional, so one ELF runs on every variant of the core and the start-up
code never has to enable an FPU (soft is also arm-none-eabi-gcc's default, so the figures
compare with builds that give only -mcpu). Plus -ffunction-sections -fdata-sections and
--gc-sections, so the ELF holds only what is called, and the warning set of the host
builds (-Wall -Wextra -Werror -pedantic, -std=c99).

--precision float32 is for parts with an FPU: M4, M7 and M33 builds take -mfloat-abi=hard
and the core's single-precision FPU (-mfpu=fpv4-sp-d16 on the M4, fpv5-sp-d16 on the M7
and M33, which every M4F/M7/M33F variant has), link libm, and the start-up code enables
the FPU. M0+ has none and is refused, as is the ziglang fallback (float32 target builds are
arm-none-eabi-gcc's).

The memory map is link.ld's (QEMU's mps2-an386), except for a core whose QEMU board has its
memory elsewhere (the M33's mps2-an505): linker_script moves the two regions, and the
emulator maps them where the ELF says (__flash_origin, __ram_origin).
"""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from mcugen.backend import codegen
from mcugen.errors import McugenError
from mcugen.precision import INT8, Precision
from mcugen.target import toolchain
from mcugen.target.toolchain import WARNINGS, BuildError

HOST = "host"

# The memory map (templates/target/link.ld): QEMU's mps2-an386 board, 4 MiB of code memory
# and 4 MiB of SRAM. A target whose QEMU board has its memory elsewhere moves the two regions.
FLASH_BASE, FLASH_SIZE = 0x00000000, 4 << 20
RAM_BASE, RAM_SIZE = 0x20000000, 4 << 20
# mps2-an505 (Cortex-M33) boots in the Secure state from 0x10000000: the Secure aliases of its
# 4 MiB of code SSRAM (0x10000000) and of the 4 MiB of SSRAM2/3 (0x38000000).
AN505_FLASH, AN505_RAM = 0x10000000, 0x38000000


@dataclass(frozen=True)
class Target:
    name: str
    gcc_cpu: str  # arm-none-eabi-gcc -mcpu
    zig_cpu: str  # zig cc -mcpu (LLVM's spelling)
    arch: str
    dsp: bool  # the DSP extension (SMLAD, SXTB16, SSAT, ...): __ARM_FEATURE_DSP
    qemu_board: str | None  # a qemu-system-arm board with this core, for cross-checks
    fpu: str | None = None  # arm-none-eabi-gcc -mfpu of its single-precision FPU; None: no FPU
    flash_base: int = FLASH_BASE  # where link.ld puts the code memory and the SRAM
    ram_base: int = RAM_BASE

    def info(self) -> dict:
        return dict(name=self.name, cpu=self.gcc_cpu, arch=self.arch, dsp=self.dsp, fpu=self.fpu)


TARGETS = {
    t.name: t
    for t in (
        Target("cortex-m0plus", "cortex-m0plus", "cortex_m0plus", "ARMv6-M", False, None),
        Target("cortex-m4", "cortex-m4", "cortex_m4", "ARMv7E-M", True, "mps2-an386", "fpv4-sp-d16"),
        Target("cortex-m7", "cortex-m7", "cortex_m7", "ARMv7E-M", True, "mps2-an500", "fpv5-sp-d16"),
        Target("cortex-m33", "cortex-m33", "cortex_m33", "ARMv8-M Mainline", True, "mps2-an505", "fpv5-sp-d16",
               AN505_FLASH, AN505_RAM),
    )
}
TARGET_NAMES = [HOST, *TARGETS]


def get(name: str) -> Target | None:
    """The target called `name`; None for the host."""
    if name == HOST:
        return None
    if name not in TARGETS:
        raise McugenError(f"--target {name!r} is not known; choose one of: {', '.join(TARGET_NAMES)}")
    return TARGETS[name]


# ---------------------------------------------------------------------------- the cross compiler

COMMON_FLAGS = ["-std=c99", "-O3", *WARNINGS, "-ffunction-sections", "-fdata-sections", "-fstack-usage"]


@dataclass(frozen=True)
class CrossCompiler:
    kind: str  # "gcc" (arm-none-eabi-gcc) or "zig" (python -m ziglang cc)
    command: tuple[str, ...]
    version: str

    def compile_flags(self, target: Target, precision: Precision = INT8) -> list[str]:
        if self.kind == "gcc":
            return [f"-mcpu={target.gcc_cpu}", "-mthumb", *float_abi(target, precision), *COMMON_FLAGS]
        return ["-target", "thumb-freestanding-eabi", f"-mcpu={target.zig_cpu}", "-mfloat-abi=soft", *COMMON_FLAGS]

    def link_flags(self, script: Path) -> list[str]:
        # No C library start files: startup.c is the whole start-up. newlib-nano and libgcc
        # (gcc) or zig's compiler_rt (linked by default for a freestanding target) supply
        # memcpy/memset and the 64-bit helpers the compiler calls (__aeabi_lmul on M0+).
        if self.kind == "gcc":
            return ["-nostartfiles", "--specs=nano.specs", "-Wl,--gc-sections", "-T", str(script)]
        return ["-Wl,--gc-sections", "-T", str(script)]

    def describe(self, target: Target, precision: Precision = INT8) -> str:
        cpu = target.gcc_cpu if self.kind == "gcc" else target.zig_cpu
        thumb = " -mthumb" if self.kind == "gcc" else " -target thumb-freestanding-eabi"
        return f"{self.version} -O3 -mcpu={cpu}{thumb} {' '.join(float_abi(target, precision))}"


def float_abi(target: Target, precision: Precision) -> list[str]:
    """Soft float for int8 (no FPU needed); the core's FPU for float32."""
    if precision.needs_fpu:
        return ["-mfloat-abi=hard", f"-mfpu={target.fpu}"]
    return ["-mfloat-abi=soft"]


def check_precision(target: Target, cross: CrossCompiler, precision: Precision) -> None:
    """float32 target builds need an FPU and arm-none-eabi-gcc; refuse anything else early."""
    if not precision.needs_fpu:
        return
    if target.fpu is None:
        raise McugenError(f"--precision float32 needs a core with an FPU: {target.name} has none "
                          "(use cortex-m4, cortex-m7 or cortex-m33, or int8)")
    if cross.kind != "gcc":
        raise McugenError("--precision float32 on a Cortex-M target needs arm-none-eabi-gcc "
                          "(Debian: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi)")


def find_cross(preferred: str | None = None) -> CrossCompiler:
    """arm-none-eabi-gcc (or --cc, which must be a gcc for ARM, or 'zig'), else ziglang."""
    if preferred == "zig":
        return _zig() or _missing("--cc zig: the 'ziglang' Python package is not installed (pip install ziglang)")
    if preferred:
        if not shutil.which(preferred):
            raise McugenError(f"--cc {preferred!r}: no such program")
        return _gcc(preferred)
    if shutil.which("arm-none-eabi-gcc"):
        return _gcc("arm-none-eabi-gcc")
    return _zig() or _missing(
        "no ARM cross compiler: install arm-none-eabi-gcc (Debian: apt-get install gcc-arm-none-eabi "
        "libnewlib-arm-none-eabi) or the 'ziglang' Python package (pip install ziglang)")


def _missing(message: str):
    raise McugenError(message)


def _gcc(program: str) -> CrossCompiler:
    version = _first_line([program, "--version"])
    if "arm" not in subprocess.run([program, "-dumpmachine"], capture_output=True, text=True).stdout:
        raise McugenError(f"--cc {program!r} is not a compiler for ARM (its -dumpmachine does not say arm)")
    match = re.search(r"(\d+\.\d+\.\d+)", version)
    return CrossCompiler("gcc", (program,), f"{Path(program).name} {match.group(1) if match else version}")


def _zig() -> CrossCompiler | None:
    if importlib.util.find_spec("ziglang") is None:
        return None
    command = (sys.executable, "-m", "ziglang", "cc")
    version = _first_line([sys.executable, "-m", "ziglang", "version"])
    return CrossCompiler("zig", command, f"zig cc {version}")


def _first_line(cmd: list[str]) -> str:
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise McugenError(f"{cmd[0]} cannot run: {exc}") from None
    return (proc.stdout.strip().splitlines() or [cmd[0]])[0]


# ---------------------------------------------------------------------------- building

@dataclass
class Build:
    """An ELF and what the build left beside it (.su files, objects) for the figures."""
    elf: Path
    folder: Path
    target: Target
    compiler: str  # the description: compiler, version and flags
    model_objects: list[Path] = field(default_factory=list)  # the generated C only

    @property
    def stack_usage_files(self) -> list[Path]:
        return sorted(self.folder.glob("*.su"))


def target_file(name: str) -> str:
    return (codegen.templates_dir() / "target" / name).read_text()


def linker_script(target: Target) -> str:
    """link.ld with the target's memory map (the file itself holds mps2-an386's, for the firmware example)."""
    text = target_file("link.ld")
    for region, base in (("FLASH", target.flash_base), ("RAM", target.ram_base)):
        text, n = re.subn(rf"^(\s*{region} .*ORIGIN = )0x[0-9A-Fa-f]+", rf"\g<1>0x{base:08X}", text, flags=re.M)
        assert n == 1, region
    return text


def runner_source(name: str, row_input: bool = False) -> str:
    """The emulator's main; row_input: it implements NAME_input_row (a fake camera)."""
    return codegen.environment().get_template("target/runner.c.j2").render(p=name, P=name.upper(),
                                                                            row_input=row_input)


def build_elf(files: dict[str, str], name: str, target: Target, cross: CrossCompiler, folder: Path,
              trace: bool = False, precision: Precision = INT8, row_input: bool = False) -> Build:
    """Write the generated files, the runner and the start-up into `folder`; build the ELF.
    row_input: a --row-input build (the plan's pipeline), whose runner is a fake camera."""
    check_precision(target, cross, precision)
    for fname, text in files.items():
        (folder / fname).write_text(text)
    (folder / "runner.c").write_text(runner_source(name, row_input))
    (folder / "startup.c").write_text(target_file("startup.c"))
    (folder / "link.ld").write_text(linker_script(target))
    model = [folder / f"{name}.c", folder / f"{name}_weights.c"]
    defines = [f"-D{d}" for d in toolchain.runner_defines(name, trace)]
    objects = [_compile(cross, target, src, defines, precision)
               for src in [*model, folder / "runner.c", folder / "startup.c"]]
    elf = folder / f"{name}.elf"
    libs = list(precision.libs)
    _run(cross, [*cross.command, *cross.compile_flags(target, precision), *cross.link_flags(folder / "link.ld"),
                 *map(str, objects), *libs, "-o", str(elf)], "link")
    return Build(elf, folder, target, cross.describe(target, precision), objects[:2])


def _compile(cross: CrossCompiler, target: Target, source: Path, defines: list[str], precision: Precision) -> Path:
    obj = source.with_suffix(".o")
    _run(cross, [*cross.command, *cross.compile_flags(target, precision), *defines, "-I", str(source.parent), "-c",
                 str(source), "-o", str(obj)], source.name)
    return obj


def _run(cross: CrossCompiler, cmd: list[str], what: str) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(cmd[-1]).parent)
    if proc.returncode == 0:
        return
    if "overflowed" in proc.stderr:
        raise McugenError(f"the model does not fit the emulated board's {FLASH_SIZE >> 20} MiB of flash "
                          f"and {RAM_SIZE >> 20} MiB of RAM: {_first_error(proc.stderr)}")
    raise BuildError(f"{cross.version} failed on {what}: {_first_error(proc.stderr)}")


def _first_error(stderr: str) -> str:
    return next((line for line in stderr.splitlines() if "error" in line), stderr.strip()[:300])
