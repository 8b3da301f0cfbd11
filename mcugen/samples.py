"""Samples from users' files: calibration data and labelled evaluation sets.

What a firmware team has is a folder of images, or arrays from its own pipeline. Either
becomes float32 samples in the model file's input layout ([N, ...] as the ONNX input,
NCHW or NHWC, without the batch), which is what calibration and verify take:

- ``.npz``: the array named after the model input, or the only array (calibration); ``x``
  and ``y`` (an evaluation set).
- ``.npy``: one array of samples.
- a folder of images (PNG, JPEG, BMP; Pillow, the ``images`` extra): each decoded, made RGB
  (or grayscale for a one-channel model), resized to the input's height and width
  (bilinear), then preprocessed. For an evaluation set, one subfolder per class; the
  sorted subfolder names are the class indices, as torchvision's ImageFolder and Keras'
  image_dataset_from_directory number them.

Preprocessing (``Preprocess``) applies to images and to uint8 arrays for a model with a
float input: ``(pixel * pixel_scale - mean) / std`` per channel, channels in RGB order, or
BGR with ``bgr``. Float arrays are taken as they are (already preprocessed). A model whose
own input is int8/uint8 takes integer arrays of its input type as its own bytes
(quant/quantize.py); other integer arrays for a float model are refused, so that 0..255
pixels are never silently taken as real values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mcugen.errors import McugenError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
MAX_IMAGES = 100_000  # bounds memory and time against a huge folder
MAX_CLASSES = 10_000


@dataclass(frozen=True)
class Preprocess:
    """How pixels become the model's input values (defaults: RGB, x / 255)."""

    pixel_scale: float = 1.0 / 255.0
    mean: tuple[float, ...] = (0.0,)  # one value, or one per channel
    std: tuple[float, ...] = (1.0,)
    bgr: bool = False

    def apply(self, pixels: np.ndarray, channel_axis: int) -> np.ndarray:
        """pixels [N, ...] (any numbers), channels along `channel_axis` (of a sample)."""
        x = pixels.astype(np.float64) * self.pixel_scale
        channels = x.shape[1 + channel_axis]
        if self.bgr:
            if channels != 3:
                raise McugenError(f"--bgr needs a 3-channel input; this one has {channels}")
            x = np.flip(x, axis=1 + channel_axis)
        shape = [1] * x.ndim
        shape[1 + channel_axis] = channels
        mean, std = (self._per_channel(v, channels, name) for v, name in ((self.mean, "--mean"), (self.std, "--std")))
        return ((x - mean.reshape(shape)) / std.reshape(shape)).astype(np.float32)

    @staticmethod
    def _per_channel(values, channels: int, name: str) -> np.ndarray:
        v = np.asarray(values, dtype=np.float64)
        if v.size not in (1, channels):
            raise McugenError(f"{name} has {v.size} values; the input has {channels} channels (give 1 or {channels})")
        if name == "--std" and np.any(v == 0):
            raise McugenError("--std values must not be 0")
        return np.broadcast_to(v, (channels,))


DEFAULT = Preprocess()


@dataclass
class Labelled:
    """An evaluation set: samples as calibration takes them, their labels and class names."""

    x: np.ndarray  # float32, the model file's input layout, [N, ...]
    y: np.ndarray  # int64 class indices
    classes: list[str] = field(default_factory=list)
    source: str = ""


@dataclass(frozen=True)
class InputShape:
    """The model file's input, as samples must have it."""

    shape: tuple[int, ...]  # without the batch
    layout: str  # "NCHW", "NHWC" (images) or "vector"
    float_input: bool  # False: the model's own input is int8/uint8

    @property
    def channel_axis(self) -> int:
        return 0 if self.layout == "NCHW" else len(self.shape) - 1

    @property
    def image_hwc(self) -> tuple[int, int, int] | None:
        if self.layout == "NCHW" and len(self.shape) == 3:
            c, h, w = self.shape
            return h, w, c
        if self.layout == "NHWC" and len(self.shape) == 3:
            return tuple(self.shape)
        return None


def read_arrays(path: Path, what: str) -> dict[str, np.ndarray]:
    """The arrays of a .npz or .npy file (a .npy as {"": array})."""
    try:
        if path.suffix.lower() == ".npy":
            return {"": np.load(path, allow_pickle=False)}
        with np.load(path, allow_pickle=False) as data:
            return {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise McugenError(f"{path}: no such {what} file") from None
    except Exception as exc:
        raise McugenError(f"{path}: not a readable .npz or .npy file ({type(exc).__name__})") from None


def from_array(x: np.ndarray, where: str, spec: InputShape, pre: Preprocess) -> np.ndarray:
    """Array samples as the model takes them: float as they are, uint8 pixels preprocessed
    (float input), the model's own integers kept (integer input: quant/quantize.py)."""
    if x.dtype.kind not in "fiu" or tuple(x.shape[1:]) != spec.shape or len(x) == 0:
        raise McugenError(f"{where} has shape {tuple(x.shape)} and dtype {x.dtype}; expected samples of shape "
                          f"(N, {', '.join(map(str, spec.shape))})")
    if x.dtype.kind == "f" or not spec.float_input:
        return x
    if x.dtype != np.uint8:
        raise McugenError(f"{where} holds {x.dtype} integers for a model with a float input: give float32 values "
                          "as the model takes them, or uint8 pixels (then --pixel-scale, --mean, --std apply)")
    if spec.layout == "vector":
        return pre.apply(x[:, None], 0)[:, 0] if x.ndim == 1 else pre.apply(x, len(spec.shape) - 1)
    return pre.apply(x, spec.channel_axis)


def read_images(folder: Path, spec: InputShape, pre: Preprocess) -> np.ndarray:
    """Every image directly in `folder`, sorted by name, as samples."""
    files = _image_files(folder)
    if not files:
        raise McugenError(f"{folder}: no images ({', '.join(IMAGE_SUFFIXES)}) in the folder")
    return _load(files, spec, pre)


def read_labelled(path: Path, spec: InputShape, pre: Preprocess) -> Labelled:
    """An evaluation set: a folder with one subfolder of images per class, or a .npz with x and y."""
    if path.is_dir():
        classes = sorted(p.name for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
        if not classes:
            raise McugenError(f"{path}: no class subfolders (one subfolder of images per class)")
        if len(classes) > MAX_CLASSES:
            raise McugenError(f"{path}: {len(classes):,} class subfolders; at most {MAX_CLASSES:,}")
        files, labels = [], []
        for index, name in enumerate(classes):
            found = _image_files(path / name)
            files += found
            labels += [index] * len(found)
        if not files:
            raise McugenError(f"{path}: no images ({', '.join(IMAGE_SUFFIXES)}) in its class subfolders")
        return Labelled(_load(files, spec, pre), np.array(labels, dtype=np.int64), classes, str(path))
    arrays = read_arrays(path, "evaluation")
    # x and y as Keras names them; input and labels as the examples' held-out sets do.
    x, y = (next((arrays[k] for k in keys if k in arrays), None) for keys in (("x", "input"), ("y", "labels")))
    if x is None or y is None:
        raise McugenError(f"{path}: an evaluation .npz needs arrays 'x' (samples) and 'y' (labels), or 'input' "
                          f"and 'labels'; it holds {sorted(arrays)}")
    return from_arrays(x, y, str(path), spec, pre)


def from_arrays(x: np.ndarray, y: np.ndarray, source: str, spec: InputShape, pre: Preprocess) -> Labelled:
    """An evaluation set from arrays: samples as from_array takes them, one label each;
    the classes are named by their indices."""
    x = from_array(np.asarray(x), f"{source}: array 'x'", spec, pre)
    y = np.asarray(y)
    if y.dtype.kind not in "iu" or y.shape != (len(x),) or (len(y) and y.min() < 0):
        raise McugenError(f"{source}: array 'y' must hold one non-negative integer label per sample "
                          f"({len(x)}); it has shape {tuple(y.shape)} and dtype {y.dtype}")
    count = int(y.max()) + 1 if len(y) else 0
    return Labelled(x, y.astype(np.int64), [str(i) for i in range(count)], source)


def _image_files(folder: Path) -> list[Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    if len(files) > MAX_IMAGES:
        raise McugenError(f"{folder}: {len(files):,} images; at most {MAX_IMAGES:,} are read")
    return files


def _load(files: list[Path], spec: InputShape, pre: Preprocess) -> np.ndarray:
    hwc = spec.image_hwc
    if hwc is None:
        raise McugenError(f"{files[0].parent}: images need a model whose input is an image; this one takes "
                          f"{list(spec.shape)}")
    h, w, c = hwc
    if c not in (1, 3):
        raise McugenError(f"{files[0].parent}: images make 1 or 3 channels; the model's input has {c}")
    try:
        from PIL import Image
    except ImportError:
        raise McugenError("reading images needs Pillow: pip install \"mcugen[images]\" (or pillow)") from None
    pixels = np.empty((len(files), h, w, c), dtype=np.uint8)
    for i, path in enumerate(files):
        try:
            with Image.open(path) as image:
                image = image.convert("L" if c == 1 else "RGB").resize((w, h), Image.Resampling.BILINEAR)
                pixels[i] = np.asarray(image, dtype=np.uint8).reshape(h, w, c)
        except Exception as exc:  # Pillow raises many kinds on a corrupt file
            raise McugenError(f"{path}: not a readable image ({type(exc).__name__})") from None
    x = pre.apply(pixels, 2)  # NHWC here
    return x.transpose(0, 3, 1, 2).copy() if spec.layout == "NCHW" else x
