"""C compilers and running what they build (host only, for now)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from mcugen.errors import McugenError

# The warning set every generated file must pass (docs/c-api.md): -Wconversion
# also brings -Wsign-conversion in C.
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic", "-Wconversion", "-Wshadow"]
CFLAGS = ["-std=c99", "-O2", *WARNINGS]
# verify --sanitize: any invalid access or undefined behaviour aborts the run (exit status != 0).
SANITIZE = ("-fsanitize=address,undefined", "-fno-sanitize-recover=all", "-g")


def find_cc(preferred: str | None = None) -> str:
    """The host C compiler: --cc (which must work), else $CC, cc, gcc, clang."""
    if preferred:
        if not shutil.which(preferred):
            raise McugenError(f"--cc {preferred!r}: no such program")
        return _works(preferred)
    for candidate in [os.environ.get("CC"), "cc", "gcc", "clang"]:
        if candidate and shutil.which(candidate):
            return _works(candidate)
    raise McugenError("no C compiler found: install gcc or clang, or pass --cc / set CC")


def _works(cc: str) -> str:
    """Build a trivial program first, so a broken compiler is the user's problem, not ours."""
    with tempfile.TemporaryDirectory(prefix="mcugen-cc-") as tmp:
        src = Path(tmp) / "ok.c"
        src.write_text("int main(void) { return 0; }\n")
        try:
            proc = subprocess.run([cc, *CFLAGS, str(src), "-o", str(Path(tmp) / "ok")], capture_output=True, text=True)
        except OSError as exc:
            raise McugenError(f"C compiler {cc!r} cannot run: {exc.strerror}") from None
        if proc.returncode != 0:
            raise McugenError(f"C compiler {cc!r} cannot build a trivial C99 program: "
                              f"{(proc.stderr.strip().splitlines() or ['exit status ' + str(proc.returncode)])[0]}")
    return cc


def runner_defines(name: str, trace: bool = False) -> tuple[str, ...]:
    """What verify's own builds define: NAME_run is what they call, so the NAME_run_with
    copy of every layer is left out (it halves the compile time; tests/c runs run_with)."""
    return (f"{name.upper()}_NO_RUN_WITH", *((f"{name.upper()}_TRACE",) if trace else ()))


def build(sources: list[Path], output: Path, cc: str, defines: tuple[str, ...] = (),
          flags: list[str] | None = None, libs: tuple[str, ...] = ()) -> None:
    cmd = [cc, *(flags or CFLAGS), *(f"-D{d}" for d in defines), "-I", str(sources[0].parent),
           *map(str, sources), "-o", str(output), *libs]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        first = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[:300])
        raise BuildError(f"{cc} failed on the generated C: {first}")


def run(binary: Path, stdin: bytes, timeout: float = 600.0) -> bytes:
    proc = subprocess.run([str(binary)], input=stdin, capture_output=True, timeout=timeout)
    if proc.returncode != 0:
        raise BuildError(f"{binary.name} exited with status {proc.returncode}: {proc.stderr.decode()[:200]}")
    return proc.stdout


class BuildError(Exception):
    """The generated C did not build or run: a bug in mcugen, not bad input."""
