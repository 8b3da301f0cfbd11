"""The Python API (mcugen/api.py): mcugen.compile, mcugen.report, mcugen.verify. A model as
a path, bytes or an onnx.ModelProto, calibration and an evaluation set as arrays; the same
figures as the CLI; errors as exceptions, gates in the result."""

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from helpers import COMPILERS, DIGITS, EXAMPLES

import mcugen

KWS = EXAMPLES / "kws_dscnn.onnx"


def test_the_api_is_visible():
    for name in ("compile", "report", "verify", "McugenError", "LimitError"):
        assert name in dir(mcugen) and getattr(mcugen, name) is not None
    import importlib

    int8 = importlib.import_module("mcugen.verify.int8")  # the subpackages still import by their full names
    assert callable(mcugen.report) and callable(mcugen.verify) and mcugen.verify.int8 is int8


def test_report_matches_the_cli():
    got = mcugen.report(DIGITS)
    proc = subprocess.run([sys.executable, "-m", "mcugen", "report", str(DIGITS), "--json"], capture_output=True,
                          text=True)
    want = json.loads(proc.stdout)
    assert (got.arena_bytes, got.weights_bytes, got.macs, got.lower_bound_bytes) == (
        want["arena_bytes"], want["weights_bytes"], want["macs"], want["lower_bound_bytes"])


@pytest.mark.parametrize("form", ["path", "bytes", "proto"])
def test_compile_takes_a_path_bytes_or_a_model_proto(form, tmp_path):
    with np.load(EXAMPLES / "digits_calib.npz") as data:
        calib = data["input"]
    model = {"path": DIGITS, "bytes": DIGITS.read_bytes(), "proto": onnx.load(str(DIGITS))}[form]
    built = mcugen.compile(model, tmp_path / "out", name="digits", calib=calib)
    assert built.files == ["digits.c", "digits.h", "digits_weights.c", "mcugen.json"]
    assert all((tmp_path / "out" / f).is_file() for f in built.files)
    reference = mcugen.compile(DIGITS, tmp_path / "ref", name="digits", calib=EXAMPLES / "digits_calib.npz")
    def body(path):  # the first comment names the source file: the given one, or digits.onnx for bytes
        return path.read_text().split("*/", 1)[1]

    assert body(tmp_path / "out" / "digits_weights.c") == body(tmp_path / "ref" / "digits_weights.c")
    assert built.arena_bytes == reference.arena_bytes and not built.warnings


def test_limits_raise_limit_error_and_bad_input_mcugen_error(tmp_path):
    with pytest.raises(mcugen.LimitError, match="over --ram-limit"):
        mcugen.report(DIGITS, ram_limit=1000)
    with pytest.raises(mcugen.LimitError, match="over --flash-limit"):
        mcugen.compile(DIGITS, tmp_path / "o", flash_limit="1K")
    assert not (tmp_path / "o").exists()
    with pytest.raises(mcugen.McugenError, match="expected a path, the file's bytes or an onnx.ModelProto"):
        mcugen.report(12345)
    assert not issubclass(mcugen.McugenError, mcugen.LimitError) and issubclass(mcugen.LimitError, mcugen.McugenError)


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_verify_with_arrays_reports_accuracy_and_gates():
    with np.load(EXAMPLES / "kws_dscnn_heldout.npz") as data:
        x, y = data["x"], data["y"]
    with np.load(EXAMPLES / "kws_dscnn_calib.npz") as data:
        calib = data["input"]
    result = mcugen.verify(KWS, calib=calib, samples=4, eval=(x, y), min_accuracy=0.999)
    assert result.bit_exact and result.accuracy["samples"] == len(y)
    assert result.accuracy["int8"] == pytest.approx(0.9889, abs=1e-4)  # docs/tflite.md: 356 of 360
    assert result.gate is not None and "below --min-accuracy 0.999" in result.gate
    assert mcugen.verify(KWS, calib=calib, samples=4, eval=(x, y), min_accuracy=0.9).gate is None
