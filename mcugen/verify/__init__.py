"""Verification: the generated C run on samples and compared byte for byte with the numpy
reference of the same integer arithmetic (int8.py), or within bounds of onnxruntime and the
float reference (float32.py); onnxruntime's own int8 run of a QDQ model (ort_compare.py)."""

import sys

from mcugen.verify.int8 import (  # noqa: F401  the package's interface
    HostRunner,
    Result,
    TargetRunner,
    accuracy,
    from_file_type,
    make_inputs,
    onnx_layout,
    onnxruntime_outputs,
    run_c,
    runner_for,
    to_file_type,
    verify,
)


class _CallablePackage(type(sys.modules[__name__])):
    """mcugen.verify(...) is the Python API's verify (mcugen/api.py), and mcugen.verify this package."""

    def __call__(self, *args, **kwargs):
        from mcugen import api

        return api.verify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
