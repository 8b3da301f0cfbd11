"""Reading .tflite files: TFLite's FlatBuffers format, checked byte by byte (flatbuf.py,
schema.py), converted to the ONNX QDQ model that tf2onnx would write (convert.py), which
mcugen's ONNX frontend then reads like any other. See docs/tflite.md."""

from __future__ import annotations

from pathlib import Path

import onnx

from mcugen.frontend.tflite.convert import CONVERTERS, PRODUCER, convert
from mcugen.frontend.tflite.schema import IDENTIFIER

__all__ = ["CONVERTERS", "PRODUCER", "convert", "converted_from_tflite", "is_tflite", "read"]


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


def converted_from_tflite(model: onnx.ModelProto) -> bool:
    """Is this ONNX model a .tflite file's conversion: mcugen's own, or tf2onnx's
    (``--tflite``), which says so in the graph's doc string ("converted from m.tflite")?
    Ops whose int8 arithmetic TFLite defines its own way (Resize) then take TFLite's."""
    if model.producer_name == PRODUCER:
        return True
    doc = model.graph.doc_string.strip().lower()
    return model.producer_name == "tf2onnx" and doc.startswith("converted from ") and doc.endswith(".tflite")
