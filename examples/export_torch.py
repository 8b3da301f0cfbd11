"""Hand-written PyTorch MobileNet v2 (0.35) and v3-small (0.75), 96x96, exported to ONNX
with both of torch's exporters, as users export them.

Same topologies as make_v2.py and make_v3.py, written as PyTorch modules (nn.ReLU6,
nn.Hardswish, nn.Hardsigmoid, nn.AdaptiveAvgPool2d(1), nn.Flatten). The weights are
torch's seeded default initialization; the BatchNorm statistics are fitted to the
calibration photos (examples/vww_calib.npz): one forward pass in training mode with
momentum None makes each running mean and variance the batch's. Then each model is
exported twice:

  *_torchscript.onnx  torch.onnx.export(dynamo=False, opset 17): BatchNorm folded into
                      the convs, Clip with constant inputs, HardSwish/HardSigmoid ops
  *_dynamo.onnx       torch.onnx.export(dynamo=True): the torch.export-based exporter
                      (needs onnxscript), opset 18

Run:  pip install torch==2.13.0 onnxscript; python examples/export_torch.py
The .onnx files in examples/ are this script's output; nothing else needs torch.
"""

import os
import sys

import numpy as np
import torch
from torch import nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_v2 import BLOCKS  # noqa: E402
from make_v3 import BNECK  # noqa: E402
from netbuilder import make_divisible  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CALIB_PATH = os.path.join(HERE, "vww_calib.npz")


def conv_bn(cin, cout, k=1, stride=1, groups=1, act=None):
    layers = [nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    return nn.Sequential(*layers, act()) if act else nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    """v2: expand 1x1 + ReLU6, depthwise 3x3 + ReLU6, linear project 1x1, residual Add."""

    def __init__(self, cin, cout, stride, t):
        super().__init__()
        hidden = cin * t
        layers = [conv_bn(cin, hidden, act=nn.ReLU6)] if t > 1 else []
        layers += [conv_bn(hidden, hidden, 3, stride, hidden, nn.ReLU6), conv_bn(hidden, cout)]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    def __init__(self, alpha=0.35, classes=2):
        super().__init__()
        c = make_divisible(32 * alpha)
        layers = [conv_bn(3, c, 3, 2, act=nn.ReLU6)]
        for t, ch, n, s in BLOCKS:
            for i in range(n):
                out = make_divisible(ch * alpha)
                layers.append(InvertedResidual(c, out, s if i == 0 else 1, t))
                c = out
        layers += [conv_bn(c, 1280, act=nn.ReLU6), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(1280, classes)

    def forward(self, x):
        return torch.softmax(self.classifier(self.features(x)), dim=1)


class SqueezeExcite(nn.Module):
    def __init__(self, channels, squeeze):
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc1, self.fc2 = nn.Conv2d(channels, squeeze, 1), nn.Conv2d(squeeze, channels, 1)
        self.relu, self.gate = nn.ReLU(), nn.Hardsigmoid()

    def forward(self, x):
        return x * self.gate(self.fc2(self.relu(self.fc1(self.pool(x)))))


class Bottleneck(nn.Module):
    """v3: expand 1x1, depthwise k x k, squeeze-and-excitation, linear project, residual Add."""

    def __init__(self, cin, k, expand, cout, se, act, stride):
        super().__init__()
        layers = [conv_bn(cin, expand, act=act)] if expand != cin else []
        layers.append(conv_bn(expand, expand, k, stride, expand, act))
        if se:
            layers.append(SqueezeExcite(expand, make_divisible(expand // 4)))
        layers.append(conv_bn(expand, cout))
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV3Small(nn.Module):
    def __init__(self, alpha=0.75, classes=2):
        super().__init__()
        c = make_divisible(16 * alpha)
        layers = [conv_bn(3, c, 3, 2, act=nn.Hardswish)]
        for k, exp, out, se, nl, stride in BNECK:
            out = make_divisible(out * alpha)
            layers.append(Bottleneck(c, k, make_divisible(exp * alpha), out, se,
                                     nn.ReLU if nl == "RE" else nn.Hardswish, stride))
            c = out
        last = make_divisible(576 * alpha)
        layers += [conv_bn(c, last, act=nn.Hardswish), nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        self.features = nn.Sequential(*layers)
        hidden = make_divisible(1024 * alpha)
        self.classifier = nn.Sequential(nn.Linear(last, hidden), nn.Hardswish(), nn.Dropout(0.2),
                                        nn.Linear(hidden, classes))

    def forward(self, x):
        return torch.softmax(self.classifier(self.features(x)), dim=1)


def fit_batchnorm(net, calib):
    """Running statistics = the calibration batch's, layer by layer in one pass."""
    for m in net.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.reset_running_stats()
            m.momentum = None  # cumulative average: after one batch, the batch's statistics
            nn.init.uniform_(m.weight, 0.5, 1.5)
            nn.init.normal_(m.bias, 0.2, 0.3)
    net.train()
    with torch.no_grad():
        net(calib)
    return net.eval()


def export(net, stem, example):
    paths = []
    for exporter, kwargs in (("torchscript", dict(dynamo=False, opset_version=17)),
                             ("dynamo", dict(dynamo=True, opset_version=18))):
        path = os.path.join(HERE, f"{stem}_{exporter}.onnx")
        torch.onnx.export(net, (example,), path, input_names=["input"], output_names=["probs"], **kwargs)
        paths.append(path)
        print(f"wrote {path} ({os.path.getsize(path):,} bytes)")
    return paths


def main():
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    calib = torch.from_numpy(np.load(CALIB_PATH)["input"])
    for stem, net in (("mobilenet_v2_035_96", MobileNetV2()), ("mobilenet_v3_small_075_96", MobileNetV3Small())):
        export(fit_batchnorm(net, calib), stem, calib[:1])


if __name__ == "__main__":
    main()
