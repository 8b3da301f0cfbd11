"""Handwritten-digits data set for the mcugen example model.

scikit-learn's bundled ``load_digits()`` (1797 8x8 grayscale digits, pixel
values 0..16) upsampled to 32x32 so it matches the MobileNet-style input the
example network expects. Only numpy and scikit-learn are needed: no download,
no torch, no image library.

    from digits_data import load_split
    x_train, y_train, x_test, y_test = load_split()
    # x_*: float32 N x 1 x 32 x 32 in [0, 1]; y_*: int64 N
"""
import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

SIZE = 32


def _interp_matrix(src, dst):
    """(dst x src) matrix doing 1-D linear interpolation, pixel-centre aligned.

    Same sampling as bilinear resize with align_corners=False: output pixel
    centre i maps to input coordinate (i + 0.5) * src / dst - 0.5, clamped so
    the border pixels are repeated rather than faded to zero.
    """
    pos = np.clip((np.arange(dst) + 0.5) * src / dst - 0.5, 0, src - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, src - 1)
    frac = pos - lo
    m = np.zeros((dst, src), dtype=np.float64)
    m[np.arange(dst), lo] += 1 - frac
    m[np.arange(dst), hi] += frac
    return m


def upsample(images, size=SIZE):
    """Bilinear resize of N x h x w images to N x size x size (separable)."""
    rows = _interp_matrix(images.shape[1], size)
    cols = _interp_matrix(images.shape[2], size)
    return np.einsum("ih,nhw,jw->nij", rows, images, cols)


def load_split():
    """Return (x_train, y_train, x_test, y_test), a fixed stratified 80/20 split."""
    digits = load_digits()
    x = upsample(digits.images / 16.0).astype(np.float32)[:, None]  # NCHW, [0, 1]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=0.2, random_state=0, stratify=y)
    return x_train, y_train, x_test, y_test
