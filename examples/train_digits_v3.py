"""Train a tiny MobileNet v3-small on 32x32 digits: the trained SE + HardSwish example.

Trains a MobileNet v3-small-style network (35,634 parameters) on the same training split
as ``train_digits.py`` (``digits_data.py``: scikit-learn's digits, upsampled to
32x32): a 3x3/2 stem conv + BN + HardSwish, five bottleneck blocks in the v3 style
(expand 1x1 + BN + act when the expansion differs from the input, depthwise 3x3 or 5x5
+ BN + act, optional squeeze-and-excitation, project 1x1 + BN with no activation; a
residual Add where the stride is 1 and the channels match), with ReLU in the early
blocks and HardSwish in the later ones as in v3-small; then a 1x1 conv + BN + HardSwish,
global average pooling, Linear + HardSwish and a Linear layer to the 10 classes.

  block (kernel, expansion, out, SE, activation, stride), input 16x16x16:
    (3, 16, 16, SE, ReLU, 1)  residual; no expand conv (expansion == input)
    (3, 48, 24, -,  ReLU, 2)  16 -> 8
    (3, 64, 24, -,  ReLU, 1)  residual
    (5, 72, 32, SE, HS,   2)  8 -> 4
    (5, 80, 32, SE, HS,   1)  residual

Squeeze-and-excitation is AdaptiveAvgPool2d(1) -> 1x1 conv (bias) -> ReLU -> 1x1 conv
(bias) -> Hardsigmoid -> channel-wise multiply, squeezing to a quarter of the channels
rounded to a multiple of 8, as torchvision does. It exports the model to ONNX
(TorchScript exporter, opset 17 so that HardSwish and HardSigmoid are ONNX ops, softmax
output, dynamic batch; BatchNorm is folded into the convs, the pools become
GlobalAveragePool):

    examples/digits_mobilenet_v3.onnx  float model, input "input" [N,1,32,32],
                                       output "probs" [N,10]

It reuses examples/digits_calib.npz and examples/digits_heldout.npz, which
``train_digits.py`` writes, and does not rewrite them. Training setup (seed,
epochs, batch, Adam + cosine schedule, random-shift augmentation) is the same
as for the v1 and v2 models.

Run it from the repo root (CPU only, seeded, a few minutes on 2 cores):

    pip install torch==2.13.0
    python examples/train_digits_v3.py

then ``python examples/make_qdq.py digits_mobilenet_v3`` for the QDQ versions.
"""
from torch import nn
from train_digits import train_and_export

OPSET = 17  # HardSwish and HardSigmoid are ONNX ops from opset 14 on
# kernel, expansion, out channels, squeeze-and-excitation, activation, stride
BNECK = [(3, 16, 16, True, "RE", 1), (3, 48, 24, False, "RE", 2), (3, 64, 24, False, "RE", 1),
         (5, 72, 32, True, "HS", 2), (5, 80, 32, True, "HS", 1)]
ACTS = {"RE": nn.ReLU, "HS": nn.Hardswish}


def make_divisible(v, divisor=8):
    """torchvision's rounding of channel counts: nearest multiple of divisor, not below 90%."""
    rounded = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return rounded + divisor if rounded < 0.9 * v else rounded


def conv_bn_act(cin, cout, kernel, stride=1, groups=1, act=nn.Hardswish):
    """Conv (no bias: BatchNorm has one) + BatchNorm + activation (none when act is None)."""
    layers = [nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
              nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, *([act()] if act else []))


class SqueezeExcitation(nn.Module):
    """Global pool -> 1x1 conv -> ReLU -> 1x1 conv -> Hardsigmoid, scaling each channel."""

    def __init__(self, channels):
        super().__init__()
        squeeze = make_divisible(channels // 4)
        self.scale = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, squeeze, 1), nn.ReLU(),
            nn.Conv2d(squeeze, channels, 1), nn.Hardsigmoid(),
        )

    def forward(self, x):
        return x * self.scale(x)


class Bottleneck(nn.Module):
    """v3 block: [expand 1x1] -> depthwise kxk -> [SE] -> linear project 1x1, plus the input when shapes match."""

    def __init__(self, cin, kernel, expand, cout, se, act, stride):
        super().__init__()
        act = ACTS[act]
        self.residual = stride == 1 and cin == cout
        layers = [conv_bn_act(cin, expand, 1, act=act)] if expand != cin else []
        layers.append(conv_bn_act(expand, expand, kernel, stride, groups=expand, act=act))
        if se:
            layers.append(SqueezeExcitation(expand))
        layers.append(conv_bn_act(expand, cout, 1, act=None))  # linear bottleneck
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV3Small(nn.Module):
    def __init__(self, classes=10, stem=16, last=64, hidden=64):
        super().__init__()
        blocks, cin = [], stem
        for kernel, expand, cout, se, act, stride in BNECK:
            blocks.append(Bottleneck(cin, kernel, expand, cout, se, act, stride))
            cin = cout
        self.features = nn.Sequential(
            conv_bn_act(1, stem, 3, stride=2),    # 32 -> 16, HardSwish
            *blocks,                              # 16 -> 4
            conv_bn_act(cin, last, 1),            # head, HardSwish
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Linear(last, hidden), nn.Hardswish(),
                                        nn.Dropout(0.2), nn.Linear(hidden, classes))

    def forward(self, x):
        return self.classifier(self.features(x))  # logits, for the training loss


def main():
    train_and_export(MobileNetV3Small, "digits_mobilenet_v3", opset=OPSET)


if __name__ == "__main__":
    main()
