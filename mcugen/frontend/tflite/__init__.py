"""Reading .tflite files: TFLite's FlatBuffers format, checked byte by byte (flatbuf.py,
schema.py), converted to the ONNX QDQ model that tf2onnx would write (convert.py), which
mcugen's ONNX frontend then reads like any other. See docs/tflite.md."""

from __future__ import annotations

from pathlib import Path

import onnx

from mcugen.frontend.tflite.convert import CONVERTERS, PRODUCER, convert
from mcugen.frontend.tflite.schema import IDENTIFIER

__all__ = ["CONVERTERS", "PRODUCER", "convert", "is_tflite", "read"]


def is_tflite(path: str | Path) -> bool:
    """A .tflite file, or any file but a .onnx one with TFLite's identifier at bytes 4..8."""
    path = Path(path)
    if path.suffix.lower() == ".tflite":
        return True
    if path.suffix.lower() == ".onnx" or not path.is_file():
        return False
    try:
        with open(path, "rb") as f:
            return f.read(8)[4:8] == IDENTIFIER
    except OSError:
        return False


def read(path: Path) -> onnx.ModelProto:
    """The .tflite file at `path` as an ONNX model; messages name the file."""
    return convert(path.read_bytes(), path.name)
