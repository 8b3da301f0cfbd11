"""C compilers and running what they build (host only, for now)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from mcugen.errors import McugenError

# The warning set every generated file must pass (design card).
WARNINGS = ["-Wall", "-Wextra", "-Werror", "-pedantic"]
CFLAGS = ["-std=c99", "-O2", *WARNINGS]


def find_cc(preferred: str | None = None) -> str:
    """The host C compiler: --cc, then $CC, then cc, gcc, clang."""
    for candidate in [preferred, os.environ.get("CC"), "cc", "gcc", "clang"]:
        if candidate and shutil.which(candidate):
            return candidate
    raise McugenError("no C compiler found: install gcc or clang, or pass --cc / set CC")


def build(sources: list[Path], output: Path, cc: str, defines: tuple[str, ...] = (),
          flags: list[str] | None = None) -> None:
    cmd = [cc, *(flags or CFLAGS), *(f"-D{d}" for d in defines), "-I", str(sources[0].parent),
           *map(str, sources), "-o", str(output)]
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
