"""The generated C against TensorFlow Lite Micro itself, for a model given as a .tflite file.

TFLM's Python package (PyPI's tflite-micro: its reference kernels behind a small
interpreter) runs the same file on the same integer inputs; the share of output bytes
that are equal is reported as `tflm_identical`. mcugen's int8 arithmetic is TFLite's,
op by op (docs/numeric-contract.md), so on a full-int8 model it is 1.0; tests assert it
on the examples. Optional: without the package the figure is None and a note says why.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def interpreter(model: bytes):
    """TFLM's interpreter on the model, or ImportError when tflite-micro is not installed."""
    from tflite_micro.python.tflite_micro import runtime

    return runtime.Interpreter.from_bytes(model)


def run(model: bytes, x_file: np.ndarray) -> np.ndarray:
    """TFLM's outputs, flat per sample, for samples in the file's input type and shape."""
    tflm = interpreter(model)
    shape = tuple(tflm.get_input_details(0)["shape"])
    outs = []
    for sample in x_file:
        tflm.set_input(np.ascontiguousarray(sample).reshape(shape), 0)
        tflm.invoke()
        outs.append(np.array(tflm.get_output(0)).reshape(-1))
    return np.stack(outs)


def compare(path: str | Path, x_file: np.ndarray, c_file: np.ndarray) -> dict:
    """{tflm_identical: share of equal output bytes, tflm_samples}, or a note why not.
    x_file and c_file: the samples and the C's outputs, as the file's input and output bytes."""
    try:
        want = run(Path(path).read_bytes(), x_file)
    except ImportError:
        return dict(notes=["no comparison with TFLite Micro: tflite-micro is not installed (pip install tflite-micro)"])
    except Exception as exc:  # a model mcugen takes but TFLM does not
        return dict(notes=["no comparison with TFLite Micro: it failed: " + " ".join(str(exc).split())[:120]])
    got = c_file.reshape(len(c_file), -1)
    if want.shape != got.shape:
        return dict(notes=[f"no comparison with TFLite Micro: its output has {want.shape[1]} elements, the C's "
                           f"{got.shape[1]}"])
    equal = want.view(np.uint8) == got.view(np.uint8)
    return dict(tflm_identical=float(equal.mean()), tflm_samples=len(got),
                tflm_max_lsb=int(np.abs(want.astype(np.int32) - got.astype(np.int32)).max(initial=0)))
