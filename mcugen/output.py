"""Writing what mcugen makes: the -o folder, all or nothing, with its manifest
(mcugen.json), and single report files. A folder that holds anything mcugen did not write
there is refused, so a mistyped -o cannot delete anyone's work, unless compile is told
--into: then only mcugen's own files are written, replaced or removed there, as the
model's manifest (NAME.mcugen.json) lists them, and nothing else is touched."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from mcugen import __version__
from mcugen.errors import McugenError

MANIFEST = "mcugen.json"


def write_folder(out: Path, files: dict[str, str]) -> None:
    """Write files into `out` all at once: into a temporary sibling, then renamed into place.

    An existing `out` is replaced only when it holds nothing but what an earlier mcugen run
    wrote there (listed in its manifest), so a mistyped -o cannot delete anyone's work.
    """
    check_output_folder(out)
    tmp = out.parent / f".{out.name}.mcugen-tmp-{os.getpid()}"
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        for name, text in files.items():
            (tmp / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp / name).write_text(text, encoding="ascii")
        if out.exists():
            old = out.parent / f".{out.name}.mcugen-old-{os.getpid()}"
            out.rename(old)
            tmp.rename(out)
            shutil.rmtree(old)
        else:
            tmp.rename(out)
    except OSError as exc:
        raise McugenError(f"{out}: cannot write the output folder: {exc.strerror or exc}") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def check_output_folder(out: Path) -> None:
    if not out.exists():
        ancestor = next(p for p in out.absolute().parents if p.exists())
        if not ancestor.is_dir() or not os.access(ancestor, os.W_OK):
            raise McugenError(f"{out}: cannot write the output folder: {ancestor} is not a writable folder")
        return
    if not out.is_dir():
        raise McugenError(f"{out}: exists and is not a folder")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    try:
        listed = set(json.loads((out / MANIFEST).read_text())["files"]) | {MANIFEST}
    except (OSError, ValueError, KeyError, TypeError):
        listed = set()
    listed |= {f.split("/", 1)[0] for f in listed}  # a package's subfolders (zephyr/, src/)
    foreign = [e for e in entries if e not in listed]
    if foreign:
        raise McugenError(
            f"{out}: exists and holds files mcugen did not write there (e.g. {foreign[0]!r}); "
            "choose another -o, empty it, or pass --into to write only mcugen's files into it"
        )


def into_manifest(name: str) -> str:
    return f"{name}.mcugen.json"


def check_into_folder(out: Path, name: str, files: list[str]) -> list[str]:
    """--into: the folder exists; none of the files to write is someone else's (a file of that
    name not listed in the model's previous manifest). Returns the previous manifest's files."""
    if not out.is_dir():
        raise McugenError(f"{out}: --into writes into an existing folder of your project; it is not one")
    previous = _listed(out / into_manifest(name)) | {into_manifest(name)}
    taken = [f for f in files if (out / f).exists() and f not in previous]
    if taken:
        raise McugenError(f"{out}: {taken[0]!r} exists and mcugen did not write it there (its manifest "
                          f"{into_manifest(name)} does not list it); nothing written")
    return sorted(previous)


def write_into(out: Path, files: dict[str, str], previous: list[str]) -> None:
    """--into: write `files` into the project folder `out`, each to a temporary name first and
    then renamed into place; remove what the previous manifest listed and this one does not."""
    temps = []
    try:
        for name, text in files.items():
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            tmp = target.parent / f".{target.name}.mcugen-tmp-{os.getpid()}"
            tmp.write_text(text, encoding="ascii")
            temps.append((tmp, target))
        for tmp, target in temps:
            os.replace(tmp, target)
        for stale in set(previous) - set(files):
            (out / stale).unlink(missing_ok=True)
    except OSError as exc:
        raise McugenError(f"{out}: cannot write into the folder: {exc.strerror or exc}") from None
    finally:
        for tmp, _ in temps:
            tmp.unlink(missing_ok=True)


def _listed(path: Path) -> set[str]:
    try:
        files = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    # a hostile manifest must not name files outside the folder
    return {f for f in files if isinstance(f, str) and not f.startswith(("/", "\\")) and ".." not in f.split("/")}


def manifest(model_path: str, compiled, name: str, files: dict[str, str], summary: dict) -> str:
    """mcugen.json: what was built from what, for the firmware's build and for the next run."""
    g = compiled.graph
    qin, qout = g.tensors[g.input].q, g.tensors[g.output].q  # None in float32
    data = dict(
        generated_by=f"mcugen {__version__}",
        model=Path(model_path).name,
        model_sha256=hashlib.sha256(Path(model_path).read_bytes()).hexdigest(),
        precision=compiled.precision.name,
        optimize=compiled.optimize,
        calibration=calibration_name(compiled),
        name=name,
        files=sorted(files),
        arena_bytes=summary["arena_bytes"],
        lower_bound_bytes=summary["lower_bound_bytes"],
        streamed_layers=summary["streamed_layers"],
        weights_bytes=summary["weights_bytes"],
        macs=summary["macs"],
        input=dict(shape=summary["input"]["shape"], **_scale(qin),
                   onnx_layout=summary["input"]["onnx_layout"], onnx_shape=summary["input"]["onnx_shape"]),
        output=dict(shape=summary["output"]["shape"], **_scale(qout)),
    )
    return json.dumps(data, indent=2, sort_keys=True) + "\n"


def calibration_name(compiled) -> str | None:
    cal = compiled.calibration
    if not compiled.precision.quantized:
        return None  # nothing is calibrated
    if cal is None:
        return "none (QDQ model)"
    return "synthetic" if cal.synthetic else Path(cal.source).name


def _scale(q) -> dict:
    return {} if q is None else dict(scale=q.scale, zero_point=q.zero_point)


def write_file(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise McugenError(f"{path}: cannot write: {exc.strerror or exc}") from None
