"""Users' data in (mcugen/samples.py): --calib as .npz, .npy or a folder of images with
preprocessing; labelled sets for verify --eval; integer arrays handled explicitly."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS, EXAMPLES, VWW

from mcugen import pipeline
from mcugen.errors import McugenError
from mcugen.quant import quantize
from mcugen.samples import Preprocess

Image = pytest.importorskip("PIL.Image")


def front(path):
    return pipeline.front(path)[0]


def gray(folder, name, size, value):
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full(size[::-1], value, np.uint8), "L").save(folder / name)


def test_an_image_folder_is_resized_and_preprocessed(tmp_path):
    """Any size, resized to the input (32x32x1, NCHW); (pixel * scale - mean) / std; sorted by name."""
    for name, size, value in [("b.png", (10, 7), 200), ("a.bmp", (40, 40), 51), ("c.jpg", (32, 32), 0)]:
        gray(tmp_path / "calib", name, size, value)
    (tmp_path / "calib" / "notes.txt").write_text("not an image")
    graph = front(DIGITS)
    cal = quantize.read_calibration(tmp_path / "calib", graph, Preprocess(mean=(0.5,), std=(0.25,)))
    assert cal.samples.shape == (3, 1, 32, 32) and cal.samples.dtype == np.float32
    for sample, value in zip(cal.samples, (51, 200, 0)):  # a.bmp, b.png, c.jpg
        np.testing.assert_allclose(sample, (value / 255 - 0.5) / 0.25, atol=1e-6 if value != 0 else 0.02)


@pytest.mark.parametrize("bgr", [False, True])
def test_rgb_images_per_channel_mean_std_and_bgr(tmp_path, bgr):
    folder = tmp_path / "calib"
    folder.mkdir()
    Image.fromarray(np.broadcast_to(np.array([10, 20, 30], np.uint8), (50, 60, 3)).copy(), "RGB").save(folder / "x.png")
    pre = Preprocess(pixel_scale=1.0, mean=(1, 2, 3), std=(1, 2, 4), bgr=bgr)
    x = quantize.read_calibration(folder, front(VWW), pre).samples  # VWW: NCHW [3, 96, 96]
    assert x.shape == (1, 3, 96, 96)
    channels = (30, 20, 10) if bgr else (10, 20, 30)
    want = [(v - m) / s for v, m, s in zip(channels, (1, 2, 3), (1, 2, 4))]
    np.testing.assert_allclose(x[0].mean(axis=(1, 2)), want)


def test_npy_and_npz_give_the_same_samples(tmp_path):
    with np.load(EXAMPLES / "digits_calib.npz") as data:
        x = data["input"]
    np.save(tmp_path / "c.npy", x)
    graph = front(DIGITS)
    np.testing.assert_array_equal(quantize.read_calibration(tmp_path / "c.npy", graph).samples,
                                  quantize.read_calibration(EXAMPLES / "digits_calib.npz", graph).samples)


def test_integer_arrays_for_a_float_model_are_explicit(tmp_path):
    """uint8 arrays are pixels (preprocessed, default / 255); other integers are refused, never
    silently taken as real values."""
    graph = front(DIGITS)
    pixels = np.arange(4 * 32 * 32).reshape(4, 1, 32, 32) % 256
    np.save(tmp_path / "u8.npy", pixels.astype(np.uint8))
    np.testing.assert_allclose(quantize.read_calibration(tmp_path / "u8.npy", graph).samples, pixels / 255, rtol=1e-6)
    np.save(tmp_path / "i16.npy", pixels.astype(np.int16))
    with pytest.raises(McugenError, match="int16 integers for a model with a float input"):
        quantize.read_calibration(tmp_path / "i16.npy", graph)


@pytest.mark.parametrize("pre, words", [(Preprocess(mean=(0.1, 0.2)), "--mean has 2 values"),
                                        (Preprocess(std=(0.0,)), "--std values must not be 0"),
                                        (Preprocess(bgr=True), "--bgr needs a 3-channel input")])
def test_bad_preprocessing_is_one_clear_error(tmp_path, pre, words):
    gray(tmp_path / "calib", "a.png", (8, 8), 3)
    with pytest.raises(McugenError, match=words):
        quantize.read_calibration(tmp_path / "calib", front(DIGITS), pre)


def test_a_corrupt_image_and_an_empty_folder_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(McugenError, match="no images"):
        quantize.read_calibration(tmp_path / "empty", front(DIGITS))
    gray(tmp_path / "bad", "a.png", (8, 8), 3)
    (tmp_path / "bad" / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(McugenError, match=r"b\.png: not a readable image"):
        quantize.read_calibration(tmp_path / "bad", front(DIGITS))


def mcugen(*args):
    proc = subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_eval_on_a_class_folder_and_on_its_npz_agree_and_gate(tmp_path):
    """The held-out digits as PNG files in one folder per class, and as an .npz of the same
    uint8 pixels: the same accuracies; --min-accuracy gates on the C's."""
    with np.load(EXAMPLES / "digits_heldout.npz") as data:
        x, y = data["input"][:60], data["labels"][:60]
    pixels = np.round(x * 255).astype(np.uint8)
    for i, (image, label) in enumerate(zip(pixels, y)):
        (tmp_path / "eval" / f"digit_{label}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(image[0], "L").save(tmp_path / "eval" / f"digit_{label}" / f"{i:03}.png")
    np.savez(tmp_path / "eval.npz", x=pixels, y=y)
    base = ["verify", DIGITS, "--calib", EXAMPLES / "digits_calib.npz", "--samples", "2", "--json"]
    code, out, err = mcugen(*base, "--eval", tmp_path / "eval")
    folder = json.loads(out)["accuracy"]
    assert code == 0, err
    code, out, err = mcugen(*base, "--eval", tmp_path / "eval.npz")
    arrays = json.loads(out)["accuracy"]
    assert code == 0, err
    assert folder["samples"] == arrays["samples"] == 60 and folder["bit_exact"]
    assert (folder["float"], folder["int8"]) == (arrays["float"], arrays["int8"]) and folder["int8"] > 0.8
    assert [c["name"] for c in folder["per_class"]] == [f"digit_{k}" for k in range(10)]
    assert [c["int8"] for c in folder["per_class"]] == [c["int8"] for c in arrays["per_class"]]
    assert sum(c["int8"] for c in folder["per_class"]) == round(folder["int8"] * 60)
    code, out, err = mcugen(*base, "--eval", tmp_path / "eval.npz", "--min-accuracy", "1.01")
    assert code == 4 and "below --min-accuracy 1.01" in json.loads(out)["error"]
    code, _, err = mcugen(*base, "--min-accuracy", "0.5")
    assert code == 2 and "--min-accuracy needs --eval" in err


def test_an_eval_npz_names_its_arrays_x_y_or_input_labels(tmp_path):
    """Keras' x and y, or input and labels as the shipped held-out sets name them: the same
    set either way; anything else is named in one line."""
    from pathlib import Path

    from mcugen.samples import DEFAULT, InputShape, read_labelled

    spec = InputShape((1, 8, 8), "NCHW", True)
    x = np.random.default_rng(0).random((5, 1, 8, 8)).astype(np.float32)
    y = np.array([0, 2, 1, 2, 0])
    np.savez(tmp_path / "xy.npz", x=x, y=y)
    np.savez(tmp_path / "named.npz", input=x, labels=y)
    np.savez(tmp_path / "other.npz", images=x, y=y)
    for name in ("xy.npz", "named.npz"):
        got = read_labelled(tmp_path / name, spec, DEFAULT)
        np.testing.assert_array_equal(got.x, x)
        np.testing.assert_array_equal(got.y, y)
    with pytest.raises(McugenError, match=r"other.npz: an evaluation .npz needs arrays 'x'.*holds \['images', 'y'\]"):
        read_labelled(Path(tmp_path / "other.npz"), spec, DEFAULT)
