"""Train a tiny MobileNet v2 on 32x32 digits: the trained inverted-residual example.

Trains a MobileNet v2-style network (22,258 parameters) on the same training split
as ``train_digits.py`` (``digits_data.py``: scikit-learn's digits, upsampled to
32x32): a 3x3/2 stem conv, six inverted residual blocks (expand 1x1 + BN + ReLU6,
depthwise 3x3 + BN + ReLU6, project 1x1 + BN with no activation), four of them
stride 1 with equal in/out channels and so a residual Add, a 1x1 conv + ReLU6
head, global average pooling and a Linear layer to the 10 classes. It exports
the model to ONNX (TorchScript exporter, opset 13, softmax output, dynamic
batch; ReLU6 becomes Clip, BatchNorm is folded into the convs):

    examples/digits_mobilenet_v2.onnx  float model, input "input" [N,1,32,32],
                                       output "probs" [N,10]

It reuses examples/digits_calib.npz and examples/digits_heldout.npz, which
``train_digits.py`` writes, and does not rewrite them. Training setup (seed,
epochs, batch, Adam + cosine schedule, random-shift augmentation) is the same
as for the v1 model.

Run it from the repo root (CPU only, seeded, a few minutes on 2 cores):

    pip install torch==2.13.0
    python examples/train_digits_v2.py

then ``python examples/make_qdq.py digits_mobilenet_v2`` for the QDQ versions.
"""
from torch import nn
from train_digits import conv_bn, train_and_export


class InvertedResidual(nn.Module):
    """Expand 1x1 -> depthwise 3x3 -> linear project 1x1, plus the input when shapes match."""

    def __init__(self, cin, cout, stride, expand):
        super().__init__()
        hidden = cin * expand
        self.residual = stride == 1 and cin == cout
        self.block = nn.Sequential(
            conv_bn(cin, hidden, 1),
            conv_bn(hidden, hidden, 3, stride, groups=hidden),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),  # linear bottleneck: no activation
        )

    def forward(self, x):
        y = self.block(x)
        return x + y if self.residual else y


class MobileNetV2(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 8, 3, stride=2),           # 32 -> 16
            InvertedResidual(8, 8, 1, 2),         # residual
            InvertedResidual(8, 16, 2, 4),        # 16 -> 8
            InvertedResidual(16, 16, 1, 4),       # residual
            InvertedResidual(16, 24, 2, 4),       # 8 -> 4
            InvertedResidual(24, 24, 1, 4),       # residual
            InvertedResidual(24, 24, 1, 4),       # residual
            conv_bn(24, 64, 1),                   # head
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x):
        return self.classifier(self.features(x))  # logits, for the training loss


def main():
    train_and_export(MobileNetV2, "digits_mobilenet_v2")


if __name__ == "__main__":
    main()
