"""Build MobileNet v3-small (width 0.75, 96x96x3, 2 classes) as an ONNX file.

The torchvision MobileNetV3-small topology at width 0.75, written with onnx.helper in
the shape older PyTorch exports have (opset 13, no HardSwish op): HardSwish as
x * Clip(x + 3, 0, 6) / 6 (Add, Clip, Mul, Div; every other layer as Mul by 1/6 instead
of Div), HardSigmoid as Clip(x + 3, 0, 6) / 6, BatchNormalization left unfused,
symmetric padding.

  conv 3x3/2 -> 16 + HardSwish, then bottlenecks (kernel, expansion, out, SE, activation,
  stride): (3,16,16,SE,RE,2) (3,56,24,-,RE,2) (3,64,24,-,RE,1) (5,72,32,SE,HS,2)
  (5,184,32,SE,HS,1) x2 (5,88,40,SE,HS,1) (5,112,40,SE,HS,1) (5,216,72,SE,HS,2)
  (5,432,72,SE,HS,1) x2: expand 1x1 + BN + act (when the expansion differs from the
  input), depthwise + BN + act, squeeze-and-excitation (GlobalAveragePool -> 1x1 conv ->
  ReLU -> 1x1 conv -> HardSigmoid -> Mul), project 1x1 + BN, residual Add where the
  stride is 1 and channels match; conv 1x1 -> 432 + HardSwish, global average pool,
  Gemm 432 -> 768 + HardSwish, Gemm 768 -> 2, Softmax.

Weights are seeded random; BatchNorm statistics come from the 32 calibration photos of
examples/vww_calib.npz (also this model's calibration set), as in make_v2.py.

Run:  python examples/make_v3.py     (needs numpy and onnx)
Writes examples/mobilenet_v3_small_075_96.onnx.
"""

import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netbuilder import NetBuilder, make_divisible  # noqa: E402

SEED = 2026
ALPHA = 0.75
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "mobilenet_v3_small_075_96.onnx")
CALIB_PATH = os.path.join(HERE, "vww_calib.npz")
# torchvision's mobilenet_v3_small: kernel, expansion, out channels, SE, activation, stride
BNECK = [(3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
         (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
         (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
         (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]


def bottleneck(b, x, prefix, k, expand, cout, se, act, stride):
    cin = x[0].shape[1]
    y = x
    if expand != cin:
        y = b.conv_bn(y, prefix + "/expand", expand, act=act)
    y = b.conv_bn(y, prefix + "/depthwise", expand, k=k, stride=stride, groups=expand, act=act)
    if se:
        y = b.squeeze_excite(y, prefix + "/se", make_divisible(expand // 4))
    y = b.conv_bn(y, prefix + "/project", cout)
    return b.add(x, y, prefix) if stride == 1 and cin == cout else y


def build(calib):
    b = NetBuilder(np.random.default_rng(SEED))
    x = b.start(calib)
    x = b.conv_bn(x, "stem", make_divisible(16 * ALPHA), k=3, stride=2, act="hswish")
    for i, (k, exp, out, se, nl, stride) in enumerate(BNECK):
        hs = "hswish" if i % 2 else "hswish_b"  # both older spellings of HardSwish
        x = bottleneck(b, x, f"bneck_{i}", k, make_divisible(exp * ALPHA), make_divisible(out * ALPHA), se,
                       "relu" if nl == "RE" else hs, stride)
    x = b.conv_bn(x, "last_conv", make_divisible(576 * ALPHA), act="hswish")
    x = b.gemm(b.head(x, "pool"), "classifier/0", make_divisible(1024 * ALPHA), act="hswish_b")
    probs, name = b.classifier(x, "classifier/3", 2)
    doc = "MobileNet v3-small 0.75, 96x96, 2 classes; seeded weights, BatchNorm statistics from real photos."
    return b.model((probs, name), "mobilenet_v3_small_075_96", doc), probs


def main():
    calib = np.load(CALIB_PATH)["input"]
    model, probs = build(calib)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH):,} bytes, {len(model.graph.node)} nodes)")
    print("predicted classes on the calibration photos:", np.bincount(probs.argmax(1), minlength=2))


if __name__ == "__main__":
    main()
