"""Loading an ONNX file (or a .tflite file, converted to ONNX) defensively: a missing,
truncated or hostile file, hostile names, external data outside the model's folder all
become one McugenError naming what and where."""

from __future__ import annotations

from pathlib import Path

import onnx

from mcugen.errors import McugenError, quote
from mcugen.frontend import tflite

# ---------------------------------------------------------------------------- loading


def load(path: str | Path) -> onnx.ModelProto:
    """Read and check an ONNX file; external data is read only from the model's folder."""
    path = Path(path)
    if not path.exists():
        raise McugenError(f"{path}: no such file")
    if not path.is_file():
        raise McugenError(f"{path}: not a file")
    model = _read_tflite(path) if tflite.is_tflite(path) else _read_onnx(path)
    _hardswish_opset(model)
    try:
        onnx.checker.check_model(model)
    except Exception as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise McugenError(f"{path}: invalid ONNX model: {first[:200]}") from None
    return model


HARDSWISH_OPSET = 14  # where ONNX introduced HardSwish


def _hardswish_opset(model: onnx.ModelProto) -> None:
    """tf2onnx writes a .tflite's HARD_SWISH as HardSwish even at --opset 13, which the
    checker refuses. Such a model is read at opset 14: what changed from 13 to 14 (more
    types for Add/Mul/Relu, Reshape's allowzero defaulting to the old behaviour,
    BatchNormalization's training outputs) leaves inference of the ops mcugen imports alone."""
    if not any(n.op_type == "HardSwish" and n.domain in ("", "ai.onnx") for n in model.graph.node):
        return
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx") and imp.version < HARDSWISH_OPSET:
            imp.version = HARDSWISH_OPSET


def _read_onnx(path: Path) -> onnx.ModelProto:
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # protobuf raises several unrelated types on garbage input
        raise McugenError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    if not model.HasField("graph") or not model.graph.node:
        raise McugenError(f"{path}: not an ONNX model (no graph or no nodes)")
    _check_names(model, path)
    _load_external_data(model, path)
    return model


def _read_tflite(path: Path) -> onnx.ModelProto:
    """A .tflite file, converted to the ONNX QDQ model tf2onnx would write (frontend/tflite/)."""
    try:
        return tflite.read(path)
    except OSError as exc:
        raise McugenError(f"{path}: cannot read the file ({exc.strerror or type(exc).__name__})") from None


def _check_names(model: onnx.ModelProto, path: Path) -> None:
    """Names that are not valid UTF-8 come back from protobuf as bytes: a corrupt file."""
    g = model.graph
    names = [g.name] + [v.name for v in list(g.input) + list(g.output) + list(g.value_info)]
    names += [t.name for t in g.initializer]
    for n in g.node:
        names += [n.name, n.op_type, n.domain, *n.input, *n.output, *(a.name for a in n.attribute)]
    if any(not isinstance(name, str) for name in names):
        raise McugenError(f"{path}: a name in the model is not valid UTF-8 (a corrupt file)")


def _load_external_data(model: onnx.ModelProto, path: Path) -> None:
    folder = path.resolve().parent
    for tensor in model.graph.initializer:
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        location = next((e.value for e in tensor.external_data if e.key == "location"), "")
        target = (folder / location).resolve()
        if not target.is_relative_to(folder) or not target.is_file():
            raise McugenError(
                f"{path}: initializer {quote(tensor.name)} points at external data "
                f"{quote(location)}, which is not a file inside the model's folder"
            )
    try:
        onnx.load_external_data_for_model(model, str(folder))
    except Exception as exc:
        raise McugenError(f"{path}: cannot read external data ({type(exc).__name__})") from None


# ---------------------------------------------------------------------------- import
