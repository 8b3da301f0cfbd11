"""Verification: the generated C run on samples and compared byte for byte with the numpy
reference of the same integer arithmetic (int8.py), or within bounds of onnxruntime and the
float reference (float32.py); onnxruntime's own int8 run of a QDQ model (ort_compare.py)."""

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
    to_file_type,
    verify,
)
