"""Train two MLPerf Tiny-shaped Keras models on the digits; write each as float ONNX, full-int8 TFLite and its ONNX.

What: the two models that microcontroller users most often bring, as full-int8 TFLite
files, and the ONNX files made from them (issue 11), trained on scikit-learn's digits
(nothing can be downloaded here; ``tflite_digits_data.py`` shapes them):

- ``kws_dscnn``: MLPerf Tiny's keyword-spotting DS-CNN, input 49x10x1 (frames x MFCC
  coefficients): Conv 10x4 stride 2 'same', 64 channels, BatchNorm + ReLU, four
  depthwise-separable blocks (DepthwiseConv 3x3 'same' + BN + ReLU, Conv 1x1 + BN +
  ReLU), AveragePooling2D((24, 5)) as MLPerf's ``int(49 / 2), int(10 / 2)`` (on the
  25x5 map it drops the last row), Flatten, Dense to 12 classes, softmax. Trained on the
  digits resized to 49x10; outputs 10 and 11 ("silence", "unknown") are never the label.
- ``person_mobilenet_v1_025_gray``: ``keras.applications.MobileNet(alpha=0.25)`` at
  96x96x1, MLPerf Tiny's person-detection shape in grayscale: Conv 3x3/2, 13 separable
  blocks with ReLU6 (ZeroPadding2D ((0,1),(0,1)) + 'valid' before each stride-2
  depthwise conv), GlobalAveragePooling2D (TFLite MEAN), Dropout, Conv 1x1 to 2 classes,
  Reshape, softmax. Trained on the 96x96 digits of ``vww_digits_data.py``, one
  channel, class 1 for the digits 5-9.

Both are trained with Adam and a cosine schedule, on training inputs shifted at random
each epoch (up to 3 frames for KWS, 3 pixels each way for the 96x96 digits), with
BatchNorm momentum 0.9 (Keras' 0.99 lags behind in so few steps): KWS 15 epochs of
batch 32, the person model 20 epochs of batch 64. For each model it writes, into
examples/:

    NAME.onnx                   float model from tf2onnx.convert.from_keras (opset 13):
                                input "input" float32 NHWC [N,H,W,1], softmax output
    NAME_int8.tflite            TFLiteConverter, optimizations DEFAULT, representative
                                dataset (200 training inputs), TFLITE_BUILTINS_INT8 only,
                                int8 input and output
    NAME_int8_tflite.onnx       ``python -m tf2onnx.convert --tflite NAME_int8.tflite
                                --opset 13``: int8 weights behind DequantizeLinear, int8
                                graph input and output
    NAME_calib.npz              "input": training inputs, float32 NHWC in [0, 1], the
                                only array: 64 of them
    kws_dscnn_heldout.npz       "x", "y": the 360 held-out KWS inputs and labels

No held-out file for the person model (360 x 96 x 96 float32 would be 13 MB):
``tflite_digits_data.person_split()`` rebuilds it in about a second, without TensorFlow.

Run it from the repo root in a virtualenv of its own (TensorFlow is never a dependency
of mcugen or of its tests). This combination installs together and works:

    python -m venv /work/tfenv
    /work/tfenv/bin/pip install tensorflow-cpu==2.19.1 keras==3.10.0 tf2onnx==1.17.0 \\
        onnx==1.22.0 protobuf==5.29.6 numpy==2.1.3 scikit-learn
    /work/tfenv/bin/python examples/make_tflite_examples.py [kws|person]

keras 3.10.0 reproduces the shipped files; pip's default (3.15.1 at the time) also
works with TensorFlow 2.19.1 but trains to other weights (the same KWS accuracy).
About 4 minutes of CPU time (5 to 10 minutes on 2 busy cores), most of it training the
person model; it prints the held-out accuracy of the Keras model and of the int8 TFLite
model. Seeded, with TensorFlow's op determinism: a rerun writes byte-identical .tflite
and .npz files. The ONNX files then have the same graph and weights (onnxruntime gives
the same outputs), but tf2onnx numbers the names it makes (``scale__88``,
``const_fold_opt__113``) and picks which of several equal constants to keep in an order
that changes from run to run, so their bytes differ.
"""
import contextlib
import io
import os
import subprocess
import sys
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # tf.data logs a harmless error at each fit

import numpy as np
import tensorflow as tf
import tf2onnx
from tflite_digits_data import KWS_CLASSES, KWS_SHAPE, PERSON_CLASSES, PERSON_SIZE, kws_split, person_split

HERE = Path(__file__).resolve().parent
SEED = 0
OPSET = 13
N_REPRESENTATIVE = 200
N_CALIB = 64
keras = tf.keras
layers = keras.layers


def kws_dscnn(channels=64):
    """MLPerf Tiny's DS-CNN (keyword_spotting/keras_model.py, 'ds_cnn'), without its dropout and L2."""
    inputs = keras.Input((*KWS_SHAPE, 1), name="input")
    x = layers.Conv2D(channels, (10, 4), strides=(2, 2), padding="same", use_bias=False)(inputs)
    x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
    for _ in range(4):
        x = layers.DepthwiseConv2D((3, 3), padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
        x = layers.Conv2D(channels, (1, 1), padding="same", use_bias=False)(x)
        x = layers.ReLU()(layers.BatchNormalization(momentum=0.9)(x))
    x = layers.AveragePooling2D(pool_size=(KWS_SHAPE[0] // 2, KWS_SHAPE[1] // 2))(x)  # (24, 5), as MLPerf
    x = layers.Flatten()(x)
    outputs = layers.Dense(KWS_CLASSES, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs, name="kws_dscnn")


def person_mobilenet():
    """keras.applications.MobileNet, alpha 0.25, at 96x96x1 with 2 classes; BatchNorm momentum 0.9."""
    inputs = keras.Input((PERSON_SIZE, PERSON_SIZE, 1), name="input")
    model = keras.applications.MobileNet(input_tensor=inputs, alpha=0.25, weights=None, classes=PERSON_CLASSES)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            layer.momentum = 0.9
    return model


def shifted(x, rng, max_rows, max_cols):
    """Each NHWC input moved by up to max_rows / max_cols pixels, zero-filled."""
    out = np.zeros_like(x)
    height, width = x.shape[1:3]
    for i, (dy, dx) in enumerate(zip(rng.integers(-max_rows, max_rows + 1, len(x)),
                                     rng.integers(-max_cols, max_cols + 1, len(x)))):
        out[i, max(dy, 0):height + min(dy, 0), max(dx, 0):width + min(dx, 0)] = \
            x[i, max(-dy, 0):height + min(-dy, 0), max(-dx, 0):width + min(-dx, 0)]
    return out


def train(model, x, y, epochs, shift, lr, batch):
    """Adam with a cosine schedule; each epoch sees freshly shifted inputs."""
    rng = np.random.default_rng(SEED)
    steps = epochs * -(-len(x) // batch)
    model.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(lr, steps)),
                  loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    for epoch in range(epochs):
        history = model.fit(shifted(x, rng, *shift), y, batch_size=batch, epochs=epoch + 1, initial_epoch=epoch,
                            shuffle=True, verbose=0)
        print(f"  epoch {epoch + 1}/{epochs}: loss {history.history['loss'][-1]:.4f}, "
              f"accuracy {history.history['accuracy'][-1]:.4f}", flush=True)


def to_tflite_int8(model, x_train):
    """Full-integer quantization: int8 weights and activations, int8 input and output."""
    rng = np.random.default_rng(SEED)
    samples = x_train[rng.permutation(len(x_train))[:N_REPRESENTATIVE]]

    def representative_dataset():
        for sample in samples:
            yield [sample[None]]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative_dataset
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    with contextlib.redirect_stdout(io.StringIO()):  # the SavedModel signature it prints
        return converter.convert()


def tflite_accuracy(path, x, y):
    """Held-out top-1 of the int8 TFLite model (TFLite's interpreter), inputs quantized as it asks."""
    interpreter = tf.lite.Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    scale, zero_point = inp["quantization"]
    hits = 0
    for sample, label in zip(x, y):
        q = np.clip(np.round(sample / scale) + zero_point, -128, 127).astype(np.int8)
        interpreter.set_tensor(inp["index"], q[None])
        interpreter.invoke()
        hits += int(np.argmax(interpreter.get_tensor(out["index"])[0]) == label)
    return hits / len(y)


def make(name, model, split, **training):
    x_train, y_train, x_test, y_test = split
    print(f"{name}: {model.count_params():,} parameters, {len(x_train)} training inputs {x_train.shape[1:]}")
    start = time.perf_counter()
    train(model, x_train, y_train, **training)
    print(f"  trained in {time.perf_counter() - start:.0f} s")
    keras_acc = model.evaluate(x_test, y_test, batch_size=120, verbose=0)[1]

    onnx_path = HERE / f"{name}.onnx"
    spec = tf.TensorSpec((None, *x_train.shape[1:]), tf.float32, name="input")
    tf2onnx.convert.from_keras(model, input_signature=[spec], opset=OPSET, output_path=str(onnx_path))

    tflite_path = HERE / f"{name}_int8.tflite"
    tflite_path.write_bytes(to_tflite_int8(model, x_train))
    tflite_onnx_path = HERE / f"{name}_int8_tflite.onnx"
    subprocess.run([sys.executable, "-m", "tf2onnx.convert", "--tflite", str(tflite_path), "--opset", str(OPSET),
                    "--output", str(tflite_onnx_path)], check=True, capture_output=True)

    calib_path = HERE / f"{name}_calib.npz"
    calib = np.random.default_rng(SEED + 1).permutation(len(x_train))[:N_CALIB]
    np.savez_compressed(calib_path, input=x_train[calib])
    written = [onnx_path, tflite_path, tflite_onnx_path, calib_path]
    if name == "kws_dscnn":
        heldout_path = HERE / f"{name}_heldout.npz"
        np.savez_compressed(heldout_path, x=x_test, y=y_test)
        written.append(heldout_path)
    for path in written:
        print(f"  wrote {path.name} ({path.stat().st_size:,} bytes)")
    print(f"  held-out accuracy ({len(y_test)}): Keras float {keras_acc:.4f}, "
          f"TFLite int8 {tflite_accuracy(tflite_path, x_test, y_test):.4f}", flush=True)


def main():
    start, cpu = time.perf_counter(), time.process_time()
    which = sys.argv[1:] or ["kws", "person"]
    keras.utils.set_random_seed(SEED)
    tf.config.experimental.enable_op_determinism()
    if "kws" in which:
        make("kws_dscnn", kws_dscnn(), kws_split(), epochs=15, shift=(3, 0), lr=2e-3, batch=32)
    if "person" in which:
        keras.utils.set_random_seed(SEED)
        make("person_mobilenet_v1_025_gray", person_mobilenet(), person_split(), epochs=20, shift=(3, 3), lr=3e-3, batch=64)
    print(f"done in {time.perf_counter() - start:.0f} s ({time.process_time() - cpu:.0f} s of CPU)")


if __name__ == "__main__":
    main()
