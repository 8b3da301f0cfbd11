"""Make third-party-style full-int8 models from keras.applications; write each as .tflite and its tf2onnx export.

What: the MobileNet family exactly as Keras defines it (keras.applications), the
architectures most TFLite users start from, converted the way their tutorials do it
(TFLiteConverter, optimizations DEFAULT, a representative dataset, TFLITE_BUILTINS_INT8,
int8 input and output), and the ONNX model that ``python -m tf2onnx.convert --tflite``
makes of each. They are not trained (nothing can be downloaded here, and the point is the
graph and the arithmetic, not the accuracy): weights are Keras' initializers and the
BatchNorm statistics are drawn at random (seeded), so that folding them matters.

    NAME_int8.tflite, NAME_int8_tflite.onnx in OUT (default /tmp/keras_apps), for NAME in
    mobilenet_v1_025_96       MobileNet(alpha=0.25), 96x96x3 (the VWW network)
    mobilenet_v2_035_96       MobileNetV2(alpha=0.35), 96x96x3 (residual adds, ReLU6)
    mobilenet_v3_small_075_96 MobileNetV3Small(alpha=0.75), 96x96x3 (hard-swish, squeeze-excite,
                              the Rescaling preprocessing layer)
    mobilenet_v3_large_min_96 MobileNetV3Large(alpha=0.75, minimalistic=True), 96x96x3

Run it in the TensorFlow virtualenv of make_tflite_examples.py:

    /work/tfenv/bin/python examples/make_keras_apps.py [OUT]

then measure them against TFLite Micro with mcugen's own Python:

    python benchmarks/bench_tflm.py --dir OUT
"""
import os
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
import numpy as np  # noqa: E402
from make_tflite_examples import to_tflite_int8  # noqa: E402  (examples/ is the script's folder)
from tensorflow import keras  # noqa: E402

OPSET = 13
SIZE = 96


def models():
    shape = (SIZE, SIZE, 3)
    common = dict(input_shape=shape, weights=None, classes=10)
    yield "mobilenet_v1_025_96", keras.applications.MobileNet(alpha=0.25, **common), (-1.0, 1.0)
    yield "mobilenet_v2_035_96", keras.applications.MobileNetV2(alpha=0.35, **common), (-1.0, 1.0)
    # MobileNetV3 includes its own preprocessing (Rescaling): it takes pixels in [0, 255]
    yield ("mobilenet_v3_small_075_96", keras.applications.MobileNetV3Small(alpha=0.75, **common),
           (0.0, 255.0))
    yield ("mobilenet_v3_large_min_96",
           keras.applications.MobileNetV3Large(alpha=0.75, minimalistic=True, **common), (0.0, 255.0))


def randomize_batchnorm(model, rng):
    """Statistics a trained model would have: means and variances that are not 0 and 1."""
    for layer in model.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            n = gamma.shape
            layer.set_weights([rng.uniform(0.5, 1.5, n).astype(np.float32), rng.normal(0, 0.2, n).astype(np.float32),
                               rng.normal(0, 0.3, n).astype(np.float32), rng.uniform(0.3, 2.0, n).astype(np.float32)])


def main():
    out = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/keras_apps")
    out.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(0)
    rng = np.random.default_rng(0)
    for name, model, (lo, hi) in models():
        randomize_batchnorm(model, rng)
        tflite_path = out / f"{name}_int8.tflite"
        calib = rng.uniform(lo, hi, (64, SIZE, SIZE, 3)).astype(np.float32)
        tflite_path.write_bytes(to_tflite_int8(model, calib))  # the same converter settings as the examples
        onnx_path = out / f"{name}_int8_tflite.onnx"
        subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite_path), "--opset",
                        str(OPSET), "--output", str(onnx_path)], check=True, capture_output=True)
        print(f"{name}: {tflite_path.stat().st_size:,} B .tflite, {onnx_path.stat().st_size:,} B .onnx")


if __name__ == "__main__":
    main()
