"""The digits at the VWW network's input size: 96x96, 3 channels (numpy only, no torch).

``digits_data.load_split`` (scikit-learn's digits, the fixed stratified 80/20 split,
bilinear-upsampled to 32x32, values in [0, 1]) upsampled again to 96x96 by nearest
neighbour (each 32x32 pixel becomes a 3x3 block: exact, and it keeps the calibration
file small) and the grey channel repeated to 3, so it fits the MLPerf Tiny VWW input
[N,3,96,96]. Values stay in [0, 1], as for the other digits models.

No held-out file is shipped for ``vww_digits_mobilenet_v1_025.onnx`` (360 x 3 x 96 x 96
float32 would be 40 MB): rebuild it here instead, in about a second.

    from vww_digits_data import load_heldout
    x_test, y_test = load_heldout()  # float32 [360,3,96,96] in [0, 1], int64 [360]
"""
import numpy as np
from digits_data import SIZE as SIZE_32
from digits_data import load_split

SIZE = 96
FACTOR = SIZE // SIZE_32  # 3


def to_vww(x):
    """N x 1 x 32 x 32 digits -> float32 N x 3 x 96 x 96 (nearest neighbour, grey repeated)."""
    big = np.repeat(np.repeat(x, FACTOR, axis=2), FACTOR, axis=3)
    return np.repeat(big, 3, axis=1).astype(np.float32)


def load_heldout():
    """The whole held-out split of digits_data.load_split at 96x96x3, and its labels."""
    _, _, x_test, y_test = load_split()
    return to_vww(x_test), y_test
