"""Makes keras_tiny_int8.tflite and keras_tiny_float.tflite: a small MobileNet-like Keras
network (conv, depthwise, squeeze-and-excite with hard-swish, residual add, global
pooling, a Keras Reshape, dense, softmax) converted by the TFLite converter, full int8
(int8 I/O) and with float I/O; and keras_tiny_expected.npz, TFLite's own outputs of the
int8 file on 8 random int8 inputs. These are files the real converter writes (its
SHAPE/STRIDED_SLICE/PACK shape computations, signature defs, metadata), for
tests/frontend/test_tflite_convert.py.

Needs TensorFlow, which the tests do not:

    python -m venv /tmp/tfenv && /tmp/tfenv/bin/pip install tensorflow-cpu
    /tmp/tfenv/bin/python tests/frontend/data/make_keras_tflite.py
"""

from pathlib import Path

import numpy as np
import tensorflow as tf

HERE = Path(__file__).resolve().parent
L = tf.keras.layers


def network() -> tf.keras.Model:
    x = inputs = tf.keras.Input((24, 24, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False)(x)
    x = L.BatchNormalization()(x)
    x = L.ReLU(6.0)(x)
    y = L.DepthwiseConv2D(3, padding="same")(x)
    y = L.Activation(tf.keras.activations.hard_swish)(y)
    s = L.GlobalAveragePooling2D(keepdims=True)(y)
    s = L.Conv2D(8, 1, activation="hard_sigmoid")(s)
    y = L.Multiply()([y, s])
    y = L.Conv2D(8, 1)(y)
    x = L.Add()([x, y])
    x = L.AveragePooling2D(2)(x)
    x = L.GlobalAveragePooling2D()(x)
    x = L.Reshape((1, 1, 8))(x)
    x = L.Reshape((8,))(x)
    x = L.Dense(10)(x)
    return tf.keras.Model(inputs, L.Softmax()(x))


def randomize(model: tf.keras.Model, rng) -> None:
    """He-scaled weights and varied batch-norm statistics, so activations carry signal."""
    for layer in model.layers:
        ws = layer.get_weights()
        if isinstance(layer, L.BatchNormalization):
            g, b, m, v = ws
            ws = [rng.uniform(0.5, 1.5, g.shape), rng.normal(0, 0.2, b.shape), rng.normal(0, 0.2, m.shape),
                  rng.uniform(0.5, 1.5, v.shape)]
        else:
            fan_in = lambda w: w.shape[0] * w.shape[1] if w.ndim == 4 and w.shape[-1] == 1 else np.prod(w.shape[:-1])  # noqa: E731
            ws = [rng.normal(0, np.sqrt(2.0 / fan_in(w)), w.shape) if w.ndim > 1 else rng.normal(0, 0.1, w.shape) for w in ws]
        layer.set_weights([w.astype(np.float32) for w in ws])


def convert(model, samples, int8_io: bool) -> bytes:
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([s[None]] for s in samples)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    if int8_io:
        converter.inference_input_type = converter.inference_output_type = tf.int8
    return converter.convert()


def main() -> None:
    rng = np.random.default_rng(0)
    model = network()
    randomize(model, rng)
    samples = rng.uniform(-1, 1, (32, 24, 24, 3)).astype(np.float32)
    for name, int8_io in (("int8", True), ("float", False)):
        (HERE / f"keras_tiny_{name}.tflite").write_bytes(convert(model, samples, int8_io))
    interpreter = tf.lite.Interpreter(model_path=str(HERE / "keras_tiny_int8.tflite"))
    interpreter.allocate_tensors()
    inp, out = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    x = rng.integers(-128, 128, (8, 24, 24, 3)).astype(np.int8)
    ys = []
    for sample in x:
        interpreter.set_tensor(inp["index"], sample[None])
        interpreter.invoke()
        ys.append(interpreter.get_tensor(out["index"]).copy())
    np.savez_compressed(HERE / "keras_tiny_expected.npz", x=x, y=np.concatenate(ys))
    print(f"TensorFlow {tf.__version__}: wrote keras_tiny_int8.tflite, keras_tiny_float.tflite, keras_tiny_expected.npz")


if __name__ == "__main__":
    main()
