"""Pre-quantize the examples with onnxruntime, in the QDQ format, as users do.

For each example: onnxruntime.quantization.quant_pre_process (shape inference and graph
optimization: BatchNorm folded into the convs, as onnxruntime recommends before
quantizing), then quantize_static with QuantFormat.QDQ, per-channel symmetric int8
weights, MinMax calibration on the example's calibration file, and int8 or uint8
activations. onnxruntime drops the ReLU/ReLU6 after a conv (the quantization range does
its work) and adds opset imports no node uses (com.microsoft, ...).

  vww_mobilenet_v1_025_qdq_{u8,s8}.onnx   MobileNet v1 (VWW), on examples/vww_calib.npz
  mobilenet_v2_035_96_qdq_{u8,s8}.onnx    MobileNet v2, on examples/vww_calib.npz
  digits_mobilenet_v1_qdq_s8.onnx         the trained digits model, on examples/digits_calib.npz
  digits_mobilenet_v2_qdq_{u8,s8}.onnx    the trained digits MobileNet v2, on examples/digits_calib.npz
  digits_mobilenet_v3_qdq_{u8,s8}.onnx    the trained digits MobileNet v3-small, on examples/digits_calib.npz
  vww_digits_mobilenet_v1_025_qdq_{u8,s8}.onnx
                                          MobileNet v1 (VWW) trained on digits at 96x96, on
                                          examples/vww_digits_calib.npz

Run:  python examples/make_qdq.py     (needs onnxruntime; written with onnxruntime 1.32.0)
"""

import os
import sys
import tempfile

import numpy as np
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
from onnxruntime.quantization.shape_inference import quant_pre_process

HERE = os.path.dirname(os.path.abspath(__file__))
TYPES = {"u8": QuantType.QUInt8, "s8": QuantType.QInt8}
JOBS = [("vww_mobilenet_v1_025", "vww_calib.npz", ("u8", "s8")),
        ("mobilenet_v2_035_96", "vww_calib.npz", ("u8", "s8")),
        ("digits_mobilenet_v1", "digits_calib.npz", ("s8",)),
        ("digits_mobilenet_v2", "digits_calib.npz", ("u8", "s8")),
        ("digits_mobilenet_v3", "digits_calib.npz", ("u8", "s8")),
        ("vww_digits_mobilenet_v1_025", "vww_digits_calib.npz", ("u8", "s8"))]


class Samples(CalibrationDataReader):
    """The calibration file's samples, one at a time (the models have batch 1)."""

    def __init__(self, path):
        x = np.load(path)["input"]
        self.feeds = iter([{"input": x[i: i + 1]} for i in range(len(x))])

    def get_next(self):
        return next(self.feeds, None)


def quantize(stem, calib, activations, folder):
    prepared = os.path.join(folder, stem + "_prepared.onnx")
    quant_pre_process(os.path.join(HERE, stem + ".onnx"), prepared, skip_symbolic_shape=True)
    out = os.path.join(HERE, f"{stem}_qdq_{activations}.onnx")
    quantize_static(prepared, out, Samples(os.path.join(HERE, calib)), quant_format=QuantFormat.QDQ,
                    per_channel=True, activation_type=TYPES[activations], weight_type=QuantType.QInt8)
    print(f"wrote {out} ({os.path.getsize(out):,} bytes)")


def main():
    wanted = sys.argv[1:]  # optional: only these stems
    with tempfile.TemporaryDirectory() as folder:
        for stem, calib, kinds in JOBS:
            for activations in kinds:
                if not wanted or stem in wanted:
                    quantize(stem, calib, activations, folder)


if __name__ == "__main__":
    main()
