"""Build the MLPerf Tiny Visual Wake Words network as an ONNX file.

What it builds
--------------
MobileNet v1, width multiplier 0.25, 96x96x3 input, 2 classes -- the
MLPerf Tiny VWW reference (Keras MobileNet v1, 'same' padding) -- written
directly with onnx.helper in the shape tf2onnx would export it:

* conv1 (3x3/2, 3->8) as an explicit Pad node + unpadded Conv (a tf2onnx
  idiom the compiler has to fold), then 13 depthwise-separable blocks
  (depthwise 3x3 + BN + ReLU6, pointwise 1x1 + BN + ReLU6),
* convs without bias, BatchNormalization left unfused (epsilon 1e-3),
  ReLU6 as Clip(x, min, max) with scalar initializer inputs,
* TensorFlow 'same' padding: stride-1 3x3 -> pads [1,1,1,1], stride-2 3x3
  on even inputs -> asymmetric pads [0,0,1,1] (top, left, bottom, right),
* AveragePool 3x3 -> Dropout -> Flatten -> Gemm 256->2 -> Softmax,
* TF-style node/tensor names containing '/' and ':' (the compiler must
  sanitize them), opset 13, ir_version 8, input "input" [1,3,96,96] NCHW.

Realistic BN statistics
-----------------------
Random weights with BN mean 0 / var 1 give activations that either die or
saturate after a few layers, which makes int8 calibration tests meaningless.
Instead the network is built layer by layer with a plain-numpy float forward
pass over 32 calibration images: each BatchNorm's running mean/variance is
set to the actual per-channel mean/variance of its input on that batch, so
every BN really normalizes. Gamma ~ U(0.5, 1.5) and beta ~ N(0.2, 0.3) then
put each channel at a healthy spot of ReLU6 (some zeros, few saturations).
The Gemm is scaled and biased so the two logits differ by O(1) and neither
class wins on every image.

Calibration images are 32 square crops of scikit-learn's two bundled
sample photos (china.jpg, flower.jpg), area-downsampled to 96x96 in numpy,
randomly flipped, scaled to [-1, 1], NCHW; they are saved next to the model.

Run:  python examples/make_vww.py
Needs numpy, onnx, scikit-learn (+ pillow, which load_sample_images uses).
Writes examples/vww_mobilenet_v1_025.onnx and examples/vww_calib.npz.
"""

import os
from collections import Counter

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

SEED = 2024
N_CALIB = 32
IMG = 96
BN_EPS = 1e-3
OUT_DIR = os.path.dirname(os.path.abspath(__file__))
MODEL_PATH = os.path.join(OUT_DIR, "vww_mobilenet_v1_025.onnx")
CALIB_PATH = os.path.join(OUT_DIR, "vww_calib.npz")
INPUT_NAME = "input"
OUTPUT_NAME = "MobilenetV1/Predictions/Softmax:0"

# (depthwise stride, pointwise output channels) of the 13 separable blocks.
BLOCKS = [(1, 16), (2, 32), (1, 32), (2, 64), (1, 64), (2, 128),
          (1, 128), (1, 128), (1, 128), (1, 128), (1, 128),
          (2, 256), (1, 256)]


# ----------------------------------------------------------------------------
# Calibration images
# ----------------------------------------------------------------------------

def area_matrix(src, dst):
    """(dst, src) matrix averaging source pixels into each output bin.

    Exact area averaging for any (non-integer) ratio, so no PIL resize is
    needed: out = A @ img @ A.T per channel.
    """
    edges = np.arange(dst + 1) * (src / dst)
    lo, hi = edges[:-1, None], edges[1:, None]
    pix = np.arange(src)[None, :]
    overlap = np.clip(np.minimum(hi, pix + 1) - np.maximum(lo, pix), 0, None)
    return overlap / overlap.sum(axis=1, keepdims=True)


def make_calib_images(rng):
    """32 random square crops (160..400 px) -> 96x96 float32 NCHW in [-1, 1]."""
    from sklearn.datasets import load_sample_images  # only needed here
    photos = load_sample_images().images  # china.jpg, flower.jpg
    out = []
    for i in range(N_CALIB):
        photo = photos[i % len(photos)].astype(np.float64)  # half of each
        h, w, _ = photo.shape
        size = int(rng.integers(160, 401))
        y = int(rng.integers(0, h - size + 1))
        x = int(rng.integers(0, w - size + 1))
        crop = photo[y:y + size, x:x + size]
        a = area_matrix(size, IMG)
        small = np.einsum("ij,jkc,lk->cil", a, crop, a, optimize=True)  # HWC->CHW
        if rng.random() < 0.5:
            small = small[:, :, ::-1]
        out.append(small / 127.5 - 1.0)
    return np.stack(out).astype(np.float32)


# ----------------------------------------------------------------------------
# Plain-numpy float reference ops (float64 for a clean reference)
# ----------------------------------------------------------------------------

def same_pads(size, stride, k=3):
    """TensorFlow 'same' padding (top, left, bottom, right); extra goes last."""
    out = -(-size // stride)
    total = max((out - 1) * stride + k - size, 0)
    return [total // 2, total // 2, total - total // 2, total - total // 2]


def conv2d(x, w, stride, pads, depthwise=False):
    """NCHW conv by per-tap accumulation: one strided slice per kernel tap."""
    t, l, b, r = pads
    x = np.pad(x, ((0, 0), (0, 0), (t, b), (l, r)))
    k = w.shape[2]
    ho = (x.shape[2] - k) // stride + 1
    wo = (x.shape[3] - k) // stride + 1
    out = 0.0
    for ky in range(k):
        for kx in range(k):
            tap = x[:, :, ky:ky + stride * ho:stride, kx:kx + stride * wo:stride]
            if depthwise:
                out = out + tap * w[None, :, 0, ky, kx, None, None]
            else:
                out = out + np.einsum("nchw,oc->nohw", tap, w[:, :, ky, kx],
                                       optimize=True)
    return out


def batchnorm(x, bn):
    scale = bn["gamma"] / np.sqrt(bn["var"].astype(np.float64) + BN_EPS)
    return (x - bn["mean"][None, :, None, None]) * scale[None, :, None, None] \
        + bn["beta"][None, :, None, None]


def relu6(x):
    return np.clip(x, 0.0, 6.0)


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


# ----------------------------------------------------------------------------
# Architecture
# ----------------------------------------------------------------------------

def layer_specs():
    """Flat list of conv layers: name, kind, cin, cout, stride, pads, in size."""
    specs = [dict(name="MobilenetV1/Conv2d_0", kind="conv", cin=3, cout=8,
                  stride=2, pads=same_pads(IMG, 2), size=IMG)]
    c, size = 8, IMG // 2
    for i, (stride, cout) in enumerate(BLOCKS, start=1):
        specs.append(dict(name=f"MobilenetV1/Conv2d_{i}_depthwise", kind="dw",
                          cin=c, cout=c, stride=stride,
                          pads=same_pads(size, stride), size=size))
        size = -(-size // stride)
        specs.append(dict(name=f"MobilenetV1/Conv2d_{i}_pointwise", kind="pw",
                          cin=c, cout=cout, stride=1, pads=[0, 0, 0, 0],
                          size=size))
        c = cout
    return specs


def weight_shape(spec):
    if spec["kind"] == "dw":
        return (spec["cout"], 1, 3, 3)
    k = 1 if spec["kind"] == "pw" else 3
    return (spec["cout"], spec["cin"], k, k)


def apply_conv(x, spec, w):
    return conv2d(x, w, spec["stride"], spec["pads"], spec["kind"] == "dw")


# ----------------------------------------------------------------------------
# Weights with data-driven BN statistics
# ----------------------------------------------------------------------------

def he_normal(rng, shape):
    fan_in = int(np.prod(shape[1:]))  # depthwise: fan_in = 9 (one channel)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(np.float32)


def fit_bn(rng, y):
    """BN whose running stats are the batch stats of y (so it normalizes)."""
    c = y.shape[1]
    return dict(mean=y.mean(axis=(0, 2, 3)).astype(np.float32),
                var=y.var(axis=(0, 2, 3)).astype(np.float32),
                gamma=rng.uniform(0.5, 1.5, c).astype(np.float32),
                beta=rng.normal(0.2, 0.3, c).astype(np.float32))


def fit_head(rng, feat):
    """Gemm 256->2 with logits differing by O(1) and no class always winning.

    The scale makes the spread of (logit0 - logit1) over the calib batch ~2;
    the bias centres the logits on the batch so argmax isn't constant.
    """
    w = rng.standard_normal((2, feat.shape[1]))
    d = feat @ (w[0] - w[1])
    w *= 2.0 / d.std()
    b = -(feat @ w.T).mean(axis=0) + rng.normal(0.0, 0.1, 2)
    return w.astype(np.float32), b.astype(np.float32)


def build_params(rng, calib, specs):
    """Walk the net in float, fitting each BN to its real input stats."""
    x = calib.astype(np.float64)
    params = []
    for spec in specs:
        w = he_normal(rng, weight_shape(spec))
        y = apply_conv(x, spec, w)
        bn = fit_bn(rng, y)
        params.append(dict(w=w, bn=bn))
        x = relu6(batchnorm(y, bn))
    feat = x.mean(axis=(2, 3))  # the 3x3 average pool
    fc_w, fc_b = fit_head(rng, feat)
    return params, fc_w, fc_b


def forward(x, specs, params, fc_w, fc_b, acts=None):
    """Float reference forward; optionally collects every ReLU6 output."""
    x = x.astype(np.float64)
    for spec, p in zip(specs, params):
        x = relu6(batchnorm(apply_conv(x, spec, p["w"]), p["bn"]))
        if acts is not None:
            acts.append((spec["name"], x))
    feat = x.mean(axis=(2, 3))
    return softmax(feat @ fc_w.T.astype(np.float64) + fc_b)


# ----------------------------------------------------------------------------
# ONNX graph
# ----------------------------------------------------------------------------

class GraphBuilder:
    def __init__(self):
        self.nodes, self.inits = [], []

    def init(self, name, array):
        self.inits.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(self, op, name, inputs, **attrs):
        out = name + ":0"  # TF-style tensor name
        self.nodes.append(helper.make_node(op, inputs, [out], name=name, **attrs))
        return out


def emit_conv_bn_relu6(g, x, spec, p, clip_min, clip_max):
    base = spec["name"]
    pads = spec["pads"]
    if spec["kind"] == "conv":
        # tf2onnx writes asymmetric 'same' padding of the first conv as Pad.
        t, l, b, r = pads
        pad_init = g.init(base + "/Pad/paddings:0",
                          np.array([0, 0, t, l, 0, 0, b, r], np.int64))
        pad_val = g.init(base + "/Pad/constant_value:0",
                         np.array(0.0, np.float32))
        x = g.node("Pad", base + "/Pad", [x, pad_init, pad_val],
                   mode="constant")
        pads = [0, 0, 0, 0]
    conv_name = {"conv": "/Conv2D", "dw": "/depthwise", "pw": "/Conv2D"}
    w_name = {"conv": "/weights:0", "dw": "/depthwise_weights:0",
              "pw": "/weights:0"}
    k = p["w"].shape[2]
    w = g.init(base + w_name[spec["kind"]], p["w"])
    x = g.node("Conv", base + conv_name[spec["kind"]], [x, w],
               kernel_shape=[k, k], strides=[spec["stride"]] * 2, pads=pads,
               dilations=[1, 1],
               group=spec["cin"] if spec["kind"] == "dw" else 1)
    bn = p["bn"]
    bn_in = [
        g.init(base + "/BatchNorm/gamma:0", bn["gamma"]),
        g.init(base + "/BatchNorm/beta:0", bn["beta"]),
        g.init(base + "/BatchNorm/moving_mean:0", bn["mean"]),
        g.init(base + "/BatchNorm/moving_variance:0", bn["var"])]
    x = g.node("BatchNormalization", base + "/BatchNorm/FusedBatchNormV3",
               [x] + bn_in, epsilon=BN_EPS)
    return g.node("Clip", base + "/Relu6", [x, clip_min, clip_max])


def build_onnx(specs, params, fc_w, fc_b):
    g = GraphBuilder()
    # One shared pair of scalar bounds, as tf2onnx's constant dedup leaves it.
    clip_min = g.init("MobilenetV1/Relu6/min:0", np.array(0.0, np.float32))
    clip_max = g.init("MobilenetV1/Relu6/max:0", np.array(6.0, np.float32))
    x = INPUT_NAME
    for spec, p in zip(specs, params):
        x = emit_conv_bn_relu6(g, x, spec, p, clip_min, clip_max)
    x = g.node("AveragePool", "MobilenetV1/Logits/AvgPool_1a/AvgPool", [x],
               kernel_shape=[3, 3], strides=[1, 1], pads=[0, 0, 0, 0])
    x = g.node("Dropout", "MobilenetV1/Logits/Dropout_1b/Identity", [x])
    x = g.node("Flatten", "MobilenetV1/Logits/Flatten", [x], axis=1)
    w = g.init("MobilenetV1/Logits/Conv2d_1c_1x1/weights:0", fc_w)
    b = g.init("MobilenetV1/Logits/Conv2d_1c_1x1/biases:0", fc_b)
    x = g.node("Gemm", "MobilenetV1/Logits/Conv2d_1c_1x1/MatMul", [x, w, b],
               transB=1)
    x = g.node("Softmax", "MobilenetV1/Predictions/Softmax", [x], axis=1)
    assert x == OUTPUT_NAME

    graph = helper.make_graph(
        g.nodes, "mobilenet_v1_025_vww",
        [helper.make_tensor_value_info(INPUT_NAME, TensorProto.FLOAT,
                                       [1, 3, IMG, IMG])],
        [helper.make_tensor_value_info(OUTPUT_NAME, TensorProto.FLOAT, [1, 2])],
        initializer=g.inits)
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 13)],
        producer_name="mcugen-examples/make_vww.py",
        doc_string="MobileNet v1 0.25, 96x96, 2 classes (MLPerf Tiny VWW "
                   "topology), random weights with data-fitted BN stats.")
    model.ir_version = 8  # so older onnxruntime releases can load it
    return model


# ----------------------------------------------------------------------------
# Reporting
# ----------------------------------------------------------------------------

def count_params_macs(specs):
    """Conv/Gemm weights+biases and MACs; BN params reported separately."""
    params = macs = bn = 0
    for s in specs:
        n = int(np.prod(weight_shape(s)))
        out = -(-s["size"] // s["stride"])
        params += n
        macs += n * out * out
        bn += 4 * s["cout"]
    params += 256 * 2 + 2
    macs += 256 * 2 + 9 * 256  # Gemm + average pool adds
    return params, bn, macs


def main():
    data_rng = np.random.default_rng(SEED)
    weight_rng = np.random.default_rng(SEED + 1)  # independent of crop draws

    calib = make_calib_images(data_rng)
    np.savez_compressed(CALIB_PATH, input=calib)

    specs = layer_specs()
    params, fc_w, fc_b = build_params(weight_rng, calib, specs)
    model = build_onnx(specs, params, fc_w, fc_b)
    onnx.checker.check_model(model, full_check=True)
    onnx.save_model(model, MODEL_PATH)

    acts = []
    probs = forward(calib, specs, params, fc_w, fc_b, acts)
    print(f"wrote {MODEL_PATH} ({os.path.getsize(MODEL_PATH)} bytes)")
    print(f"wrote {CALIB_PATH} ({os.path.getsize(CALIB_PATH)} bytes)")
    n_params, n_bn, macs = count_params_macs(specs)
    print(f"params: {n_params} conv/gemm + {n_bn} BN = {n_params + n_bn}; "
          f"MACs: {macs}")
    print("ops:", dict(Counter(n.op_type for n in model.graph.node)))
    print("calib predictions:", np.bincount(probs.argmax(1), minlength=2))
    for name, a in acts:
        print(f"  {name:38s} zero {np.mean(a == 0):5.1%}  "
              f"sat6 {np.mean(a == 6):5.1%}")


if __name__ == "__main__":
    main()
