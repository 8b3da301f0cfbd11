"""Build MobileNet v3-small (width 0.75) and v3-large (width 0.5), 96x96x3, 2 classes, as ONNX.

The torchvision MobileNetV3 topologies, written with onnx.helper in
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

v3-large at width 0.5 has the same parts: stem 3x3/2 -> 8 + HardSwish, fifteen
bottlenecks from torchvision's table (BNECK_LARGE, channels times 0.5), conv 1x1 -> 480
+ HardSwish, Gemm 480 -> 640 + HardSwish, Gemm 640 -> 2, Softmax.

Weights are seeded random; BatchNorm statistics come from the 32 calibration photos of
examples/vww_calib.npz (also this model's calibration set), as in make_v2.py.

Run:  python examples/make_v3.py [small|large]     (needs numpy and onnx; both by default)
Writes examples/mobilenet_v3_small_075_96.onnx and examples/mobilenet_v3_large_050_96.onnx.
"""

import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from netbuilder import NetBuilder, make_divisible  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CALIB_PATH = os.path.join(HERE, "vww_calib.npz")
# torchvision's mobilenet_v3_small: kernel, expansion, out channels, SE, activation, stride
BNECK = [(3, 16, 16, True, "RE", 2), (3, 72, 24, False, "RE", 2), (3, 88, 24, False, "RE", 1),
         (5, 96, 40, True, "HS", 2), (5, 240, 40, True, "HS", 1), (5, 240, 40, True, "HS", 1),
         (5, 120, 48, True, "HS", 1), (5, 144, 48, True, "HS", 1), (5, 288, 96, True, "HS", 2),
         (5, 576, 96, True, "HS", 1), (5, 576, 96, True, "HS", 1)]
# torchvision's mobilenet_v3_large, the same columns
BNECK_LARGE = [(3, 16, 16, False, "RE", 1), (3, 64, 24, False, "RE", 2), (3, 72, 24, False, "RE", 1),
               (5, 72, 40, True, "RE", 2), (5, 120, 40, True, "RE", 1), (5, 120, 40, True, "RE", 1),
               (3, 240, 80, False, "HS", 2), (3, 200, 80, False, "HS", 1), (3, 184, 80, False, "HS", 1),
               (3, 184, 80, False, "HS", 1), (3, 480, 112, True, "HS", 1), (3, 672, 112, True, "HS", 1),
               (5, 672, 160, True, "HS", 2), (5, 960, 160, True, "HS", 1), (5, 960, 160, True, "HS", 1)]
# name: (seed, width, bottlenecks, last conv channels, classifier width, file)
VARIANTS = {"small": (2026, 0.75, BNECK, 576, 1024, "mobilenet_v3_small_075_96"),
            "large": (2027, 0.5, BNECK_LARGE, 960, 1280, "mobilenet_v3_large_050_96")}


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


def build(calib, variant="small"):
    seed, alpha, bneck, last, hidden, name = VARIANTS[variant]
    b = NetBuilder(np.random.default_rng(seed))
    x = b.start(calib)
    x = b.conv_bn(x, "stem", make_divisible(16 * alpha), k=3, stride=2, act="hswish")
    for i, (k, exp, out, se, nl, stride) in enumerate(bneck):
        hs = "hswish" if i % 2 else "hswish_b"  # both older spellings of HardSwish
        x = bottleneck(b, x, f"bneck_{i}", k, make_divisible(exp * alpha), make_divisible(out * alpha), se,
                       "relu" if nl == "RE" else hs, stride)
    x = b.conv_bn(x, "last_conv", make_divisible(last * alpha), act="hswish")
    x = b.gemm(b.head(x, "pool"), "classifier/0", make_divisible(hidden * alpha), act="hswish_b")
    probs, out = b.classifier(x, "classifier/3", 2)
    doc = (f"MobileNet v3-{variant} {alpha}, 96x96, 2 classes; seeded weights, BatchNorm statistics from real "
           "photos.")
    return b.model((probs, out), name, doc), probs


def main():
    calib = np.load(CALIB_PATH)["input"]
    for variant in sys.argv[1:] or list(VARIANTS):
        model, probs = build(calib, variant)
        path = os.path.join(HERE, VARIANTS[variant][-1] + ".onnx")
        onnx.checker.check_model(model, full_check=True)
        onnx.save(model, path)
        print(f"wrote {path} ({os.path.getsize(path):,} bytes, {len(model.graph.node)} nodes)")
        print("predicted classes on the calibration photos:", np.bincount(probs.argmax(1), minlength=2))


if __name__ == "__main__":
    main()
