"""Writing what mcugen makes: the -o folder, all or nothing, with its manifest
(mcugen.json), and single report files. A folder that holds anything mcugen did not write
there is refused, so a mistyped -o cannot delete anyone's work."""

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
    foreign = [e for e in entries if e not in listed]
    if foreign:
        raise McugenError(
            f"{out}: exists and holds files mcugen did not write there (e.g. {foreign[0]!r}); "
            "choose another -o or empty it"
        )


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
