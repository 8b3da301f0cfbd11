"""Train the MLPerf Tiny VWW network (MobileNet v1 0.25, 96x96x3) on digits.

What: exactly the topology of ``make_vww.py`` -- a 3x3/2 conv (3 -> 8 channels) + BN +
ReLU6, then that script's 13 depthwise-separable blocks (``BLOCKS``: depthwise 3x3 + BN
+ ReLU6, pointwise 1x1 + BN + ReLU6) down to 3x3x256, global average pooling (over the
whole 3x3, as make_vww.py's AveragePool 3x3) and a Linear layer 256 -> 10 -- trained on
the digits of ``digits_data.py`` (32x32), upsampled to 96x96 by nearest neighbour (3x3
pixel blocks) with the grey channel repeated to 3 (``vww_digits_data.py``; values in
[0, 1]). Padding is torch's padding=1, not TensorFlow's 'same' (which is asymmetric on
stride 2). It exports the model to ONNX
(TorchScript exporter, opset 13, softmax output, dynamic batch; ReLU6 becomes Clip,
BatchNorm is folded into the convs, the pool becomes GlobalAveragePool) and writes

    examples/vww_digits_mobilenet_v1_025.onnx  float model, input "input" [N,3,96,96],
                                               output "probs" [N,10]
    examples/vww_digits_calib.npz              "input": 32 training images at 96x96x3,
                                               for int8 calibration

No held-out file: ``vww_digits_data.load_heldout()`` rebuilds the 360 held-out digits
at 96x96x3.

Why: ``make_vww.py``'s network has seeded random weights, and a deep random network is
chaotic, so its int8-vs-float figures say little about a real network. This is the same
topology, the same size (207,600 conv weights, 7.49M MACs), trained: 215,642
parameters with the BatchNorms and the 10-class Linear layer.

How: the training setup of ``train_digits.py``'s ``train()`` (seed, 30
epochs, batch 64, Adam + cosine schedule, random shifts of up to 2 pixels), reused by
training ``Upsample96() -> network`` on the 32x32 digits: each shifted 32x32 batch is
upsampled on the fly (shifts of up to 6 pixels at 96x96), exactly as
``vww_digits_data.to_vww`` does. Only the network is exported.

Run it from the repo root (CPU only, seeded, about two minutes on 2 idle cores; a
second run writes byte-identical files):

    pip install torch==2.13.0
    python examples/train_vww_digits.py

then ``python examples/make_qdq.py vww_digits_mobilenet_v1_025`` for the QDQ versions.
"""
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from digits_data import load_split
from make_vww import BLOCKS
from torch import nn
from train_digits import SEED, conv_bn, export, onnx_accuracy, seed_everything, separable, train
from vww_digits_data import SIZE, load_heldout, to_vww

HERE = Path(__file__).resolve().parent
N_CALIB = 32


class MobileNetV1VWW(nn.Module):
    """make_vww.py's MobileNet v1 0.25 (conv1 + 13 separable blocks), with a 10-class head."""

    def __init__(self, classes=10):
        super().__init__()
        layers, cin = [conv_bn(3, 8, 3, stride=2)], 8  # 96 -> 48
        for stride, cout in BLOCKS:                     # 48 -> 24 -> 12 -> 6 -> 3
            layers.append(separable(cin, cout, stride))
            cin = cout
        self.features = nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(cin, classes))

    def forward(self, x):
        return self.classifier(self.features(x))  # logits, for the training loss


class Upsample96(nn.Module):
    """Training-time front: [N,1,32,32] -> [N,3,96,96], as vww_digits_data.to_vww does.

    Nearest neighbour by an integer factor is exact (pixel (i, j) <- (i // 3, j // 3)),
    so the net trains on exactly what it is tested on.
    """

    def forward(self, x):
        return F.interpolate(x, size=(SIZE, SIZE), mode="nearest").expand(-1, 3, -1, -1)


def macs(net):
    """Multiply-accumulates of one inference: convs and the Linear layer."""
    total, size = 0, SIZE
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            size = -(-size // m.stride[0])
            total += m.weight.numel() * size * size
        elif isinstance(m, nn.Linear):
            total += m.weight.numel()
    return total


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()
    net = MobileNetV1VWW()
    start = time.perf_counter()
    train(*map(torch.from_numpy, (x_train, y_train, x_test, y_test)),
          net=nn.Sequential(Upsample96(), net))  # trains net, behind the 32x32 -> 96x96 front
    seconds = time.perf_counter() - start

    model_path = HERE / "vww_digits_mobilenet_v1_025.onnx"
    export(net.eval(), model_path, input_shape=(1, 3, SIZE, SIZE))
    calib_path = HERE / "vww_digits_calib.npz"
    calib = np.random.default_rng(SEED).permutation(len(x_train))[:N_CALIB]
    np.savez_compressed(calib_path, input=to_vww(x_train[calib]))

    params = sum(p.numel() for p in net.parameters())
    print(f"{params} parameters, {macs(net)} MACs; trained in {seconds:.0f} s")
    for path in (model_path, calib_path):
        print(f"wrote {path.name} ({os.path.getsize(path):,} bytes)")
    x_96, y_96 = load_heldout()
    print(f"ONNX float held-out accuracy (96x96): {onnx_accuracy(model_path, x_96, y_96):.4f}")


if __name__ == "__main__":
    main()
