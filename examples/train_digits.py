"""Train the mcugen example model: a tiny MobileNet v1 on 32x32 digits.

Trains a MobileNet v1-style network (~10k parameters) on the training split
from ``digits_data.py`` (scikit-learn's digits, upsampled to 32x32), exports
it to ONNX (opset 13, softmax output, dynamic batch) and writes the data the
compiler's examples and tests use:

    examples/digits_mobilenet_v1.onnx  float model, input "input" [N,1,32,32],
                                       output "probs" [N,10]
    examples/digits_calib.npz          "input": 64 training images, for int8
                                       calibration
    examples/digits_heldout.npz        "input", "labels": the whole test split

Run it from the repo root (CPU only, seeded, a few minutes on 2 cores):

    pip install torch==2.13.0
    python examples/train_digits.py

The .onnx and .npz files shipped in examples/ are this script's output, so
nobody needs torch to use them; rerun it only to change the model.
"""
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import torch
import torch.nn.functional as F
from digits_data import load_split
from torch import nn

HERE = Path(__file__).resolve().parent
SEED = 0
EPOCHS = 30
BATCH = 64
MAX_SHIFT = 2  # pixels of random translation used as augmentation


def conv_bn(cin, cout, kernel, stride=1, groups=1):
    """Conv (no bias: BatchNorm has one) + BatchNorm + ReLU6, the MobileNet unit."""
    return nn.Sequential(
        nn.Conv2d(cin, cout, kernel, stride, padding=kernel // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(inplace=True),
    )


def separable(cin, cout, stride):
    """Depthwise 3x3 followed by pointwise 1x1."""
    return nn.Sequential(conv_bn(cin, cin, 3, stride, groups=cin), conv_bn(cin, cout, 1))


class MobileNetV1(nn.Module):
    def __init__(self, classes=10):
        super().__init__()
        self.features = nn.Sequential(
            conv_bn(1, 8, 3, stride=2),  # 32 -> 16
            separable(8, 16, 1),
            separable(16, 32, 2),        # 16 -> 8
            separable(32, 32, 1),
            separable(32, 64, 2),        # 8 -> 4
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, x):
        return self.classifier(self.features(x))  # logits, for the training loss


class WithSoftmax(nn.Module):
    """Export wrapper: the shipped graph ends in softmax probabilities."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return torch.softmax(self.net(x), dim=1)


def seed_everything(seed):
    torch.manual_seed(seed)
    np.random.seed(seed)
    torch.use_deterministic_algorithms(True)


def random_shift(x, gen):
    """Translate each image by up to MAX_SHIFT pixels, filling with background 0."""
    padded = F.pad(x, [MAX_SHIFT] * 4)
    dy, dx = torch.randint(0, 2 * MAX_SHIFT + 1, (2, len(x)), generator=gen)
    h, w = x.shape[-2:]
    return torch.stack([p[:, i:i + h, j:j + w] for p, i, j in zip(padded, dy, dx)])


def accuracy(net, x, y):
    net.eval()
    with torch.no_grad():
        return (net(x).argmax(1) == y).float().mean().item()


def train(x_train, y_train, x_test, y_test, net=None):
    """Adam + cosine schedule, random shifts; the v1 network unless `net` is given (the
    v2, v3 and VWW examples train theirs the same way)."""
    net = MobileNetV1() if net is None else net
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, EPOCHS)
    gen = torch.Generator().manual_seed(SEED)
    for epoch in range(EPOCHS):
        net.train()
        losses = []
        for idx in torch.randperm(len(x_train), generator=gen).split(BATCH):
            loss = F.cross_entropy(net(random_shift(x_train[idx], gen)), y_train[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        sched.step()
        print(f"epoch {epoch + 1:2d}  loss {np.mean(losses):.3f}  "
              f"held-out acc {accuracy(net, x_test, y_test):.4f}")
    return net.eval()


def export(net, path, input_shape=(1, 1, 32, 32), opset=13):
    """TorchScript exporter: folds BatchNorm into the convs and writes one file."""
    torch.onnx.export(
        WithSoftmax(net).eval(), (torch.zeros(*input_shape),), str(path),
        dynamo=False, opset_version=opset,
        input_names=["input"], output_names=["probs"],
        dynamic_axes={"input": {0: "N"}, "probs": {0: "N"}},
    )
    onnx.checker.check_model(onnx.load(str(path)), full_check=True)


def onnx_accuracy(path, x, y):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    probs = sess.run(["probs"], {"input": x})[0]
    return float((probs.argmax(1) == y).mean())


def train_and_export(make_net, name, **export_options):
    """The v2 and v3 examples: seed, train make_net() on the split, write examples/NAME.onnx."""
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()
    start = time.perf_counter()
    net = train(*map(torch.from_numpy, (x_train, y_train, x_test, y_test)), net=make_net())
    seconds = time.perf_counter() - start

    model_path = HERE / f"{name}.onnx"
    export(net, model_path, **export_options)

    params = sum(p.numel() for p in net.parameters())
    print(f"{params} parameters; trained in {seconds:.0f} s; wrote {model_path.name}")
    print(f"ONNX float held-out accuracy: {onnx_accuracy(model_path, x_test, y_test):.4f}")


def main():
    seed_everything(SEED)
    x_train, y_train, x_test, y_test = load_split()
    net = train(*map(torch.from_numpy, (x_train, y_train, x_test, y_test)))

    model_path = HERE / "digits_mobilenet_v1.onnx"
    export(net, model_path)
    calib = np.random.default_rng(SEED).permutation(len(x_train))[:64]
    np.savez(HERE / "digits_calib.npz", input=x_train[calib])
    np.savez(HERE / "digits_heldout.npz", input=x_test, labels=y_test)

    params = sum(p.numel() for p in net.parameters())
    print(f"{params} parameters; wrote {model_path.name}, digits_calib.npz, digits_heldout.npz")
    print(f"ONNX float held-out accuracy: {onnx_accuracy(model_path, x_test, y_test):.4f}")


if __name__ == "__main__":
    main()
