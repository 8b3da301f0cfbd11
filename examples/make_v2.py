"""Build MobileNet v2 (alpha 0.35, 96x96x3, 2 classes) as an ONNX file.

The Keras MobileNetV2 topology at width 0.35, written with onnx.helper in the shape
tf2onnx exports it: convs without bias and BatchNormalization left unfused, ReLU6 as
Clip with constant inputs (in the last block as Max -> Min), TensorFlow 'same' padding
(asymmetric pads on stride 2), GlobalAveragePool -> Flatten -> Gemm -> Softmax.

  conv 3x3/2 -> 16, then inverted residual blocks (t expansion, c channels, n repeats,
  s stride of the first): (1,8,1,1) (6,8,2,2) (6,16,3,2) (6,24,4,2) (6,32,3,1) (6,56,3,2)
  (6,112,1,1): expand 1x1 + BN + ReLU6 (when t > 1), depthwise 3x3 + BN + ReLU6, project
  1x1 + BN (linear), and a residual Add where the stride is 1 and channels match;
  conv 1x1 -> 1280 + BN + ReLU6, global average pool, Gemm 1280 -> 2, Softmax.

Weights are seeded random; each BatchNorm's statistics are those of its real input on the
32 calibration photos of examples/vww_calib.npz (examples/make_vww.py builds it from
scikit-learn's sample images), so the network is not degenerate. That file is also this
model's calibration set.

Run:  python examples/make_v2.py     (needs numpy and onnx)
Writes examples/mobilenet_v2_035_96.onnx.
"""

import os
import sys

import numpy as np
import onnx

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_vww import same_pads  # noqa: E402
from netbuilder import NetBuilder, make_divisible  # noqa: E402

SEED = 2025
ALPHA = 0.35
HERE = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(HERE, "mobilenet_v2_035_96.onnx")
CALIB_PATH = os.path.join(HERE, "vww_calib.npz")
BLOCKS = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2), (6, 320, 1, 1)]


def inverted_residual(b, x, prefix, t, cout, stride, act):
    cin, size = x[0].shape[1], x[0].shape[2]
    y = x
    if t > 1:
        y = b.conv_bn(y, prefix + "/expand", cin * t, act=act)
    y = b.conv_bn(y, prefix + "/depthwise", cin * t, k=3, stride=stride, groups=cin * t, act=act,
                  pads=same_pads(size, stride))
    y = b.conv_bn(y, prefix + "/project", cout)
    return b.add(x, y, prefix) if stride == 1 and cin == cout else y


def build(calib):
    b = NetBuilder(np.random.default_rng(SEED))
    x = b.start(calib)
    x = b.conv_bn(x, "Conv1", make_divisible(32 * ALPHA), k=3, stride=2, act="relu6", pads=same_pads(96, 2))
    index = 0
    for t, c, n, s in BLOCKS:
        for i in range(n):
            act = "relu6_mm" if index == 16 else "relu6"  # the last block spells ReLU6 as Max/Min
            x = inverted_residual(b, x, f"block_{index}", t, make_divisible(c * ALPHA), s if i == 0 else 1, act)
            index += 1
    x = b.conv_bn(x, "Conv_1", 1280, act="relu6")
    probs, name = b.classifier(b.head(x, "pool"), "Logits", 2)
    doc = "MobileNet v2 0.35, 96x96, 2 classes; seeded weights, BatchNorm statistics from real photos."
    return b.model((probs, name), "mobilenet_v2_035_96", doc), probs


def main():
    calib = np.load(CALIB_PATH)["input"]
    model, probs = build(calib)
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, MODEL_PATH)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH):,} bytes, {len(model.graph.node)} nodes)")
    print("predicted classes on the calibration photos:", np.bincount(probs.argmax(1), minlength=2))


if __name__ == "__main__":
    main()
