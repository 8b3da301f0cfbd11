"""The digits shaped as the two MLPerf Tiny int8 TFLite models' inputs (numpy + scikit-learn only).

``make_tflite_examples.py`` trains its Keras models on these; this module needs no
TensorFlow, so a test or a benchmark can rebuild the held-out data in about a second.
Both use the fixed stratified 80/20 split of ``digits_data.py`` (scikit-learn's
``load_digits``: 1,437 training and 360 held-out digits), values in [0, 1], NHWC (the
layout Keras and the float ONNX models from tf2onnx take).

- Keyword spotting (DS-CNN): each 8x8 digit is resized bilinearly to 49x10, as a
  49-frame x 10-coefficient MFCC "spectrogram" (each digit row spans about six frames).
  Labels are the digits 0-9; the network keeps MLPerf's 12 outputs ("silence" and
  "unknown" in the speech commands task), so outputs 10 and 11 are never the label.
- Person detection (MobileNet v1 0.25, grayscale 96x96): ``digits_data``'s 32x32 digits
  upsampled 3x by nearest neighbour, as ``vww_digits_data.to_vww``, one channel. Two
  classes, as VWW's "no person" / "person": 0 for the digits 0-4, 1 for 5-9.

    from tflite_digits_data import kws_split, person_split
    x_train, y_train, x_test, y_test = kws_split()     # float32 [N,49,10,1], int64 [N]
    x_train, y_train, x_test, y_test = person_split()  # float32 [N,96,96,1], int64 [N]
"""
import numpy as np
from digits_data import _interp_matrix, load_split
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from vww_digits_data import FACTOR

KWS_SHAPE = (49, 10)     # frames x MFCC coefficients, MLPerf Tiny KWS
KWS_CLASSES = 12         # MLPerf's outputs; the digits use 0-9
PERSON_SIZE = 96         # MLPerf Tiny VWW
PERSON_CLASSES = 2


def to_kws(images):
    """N x 8 x 8 images in [0, 1] -> float32 N x 49 x 10 x 1 (separable bilinear resize)."""
    rows = _interp_matrix(images.shape[1], KWS_SHAPE[0])
    cols = _interp_matrix(images.shape[2], KWS_SHAPE[1])
    return np.einsum("ih,nhw,jw->nij", rows, images, cols)[..., None].astype(np.float32)


def kws_split():
    """(x_train, y_train, x_test, y_test) at 49x10x1; the same split as digits_data.load_split."""
    digits = load_digits()
    x = to_kws(digits.images / 16.0)
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=y)
    return x_train, y_train, x_test, y_test


def to_person(x):
    """digits_data's N x 1 x 32 x 32 -> float32 N x 96 x 96 x 1 (nearest neighbour, NHWC)."""
    big = np.repeat(np.repeat(x[:, 0], FACTOR, axis=1), FACTOR, axis=2)
    return big[..., None].astype(np.float32)


def person_split():
    """(x_train, y_train, x_test, y_test) at 96x96x1, labels 0 (digits 0-4) and 1 (5-9)."""
    x_train, y_train, x_test, y_test = load_split()
    return to_person(x_train), (y_train >= 5).astype(np.int64), to_person(x_test), (y_test >= 5).astype(np.int64)
