""".tflite files are untrusted input: truncated and byte-corrupted files (seeded, many)
give a McugenError, never another exception and never a hang; through the CLI, exit
status 2, one line on stderr, nothing written."""

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_models as tm  # noqa: E402

from mcugen import pipeline  # noqa: E402
from mcugen.errors import McugenError  # noqa: E402

CASES = 400
CASE_SECONDS = 10  # a case past this is a hang
DATA = Path(__file__).resolve().parent / "data"
INTERESTING = [0, 1, 2, 3, 4, 7, 8, 0x7F, 0x80, 0xFF, 0x7FFF, 0xFFFF, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF]


class Hang(BaseException):
    """From the alarm; a BaseException so that no handler in mcugen swallows it."""


def corrupt(data: bytes, rng: random.Random) -> bytes:
    """Truncated, a few bytes flipped, or a 32-bit word (an offset, a length, an index)
    set to an edge value."""
    out = bytearray(data)
    kind = rng.randrange(3)
    if kind == 0:
        return bytes(out[: rng.randrange(len(out))])
    if kind == 1:
        for _ in range(rng.randint(1, 4)):
            out[rng.randrange(len(out))] = rng.randrange(256)
        return bytes(out)
    pos = rng.randrange(0, len(out) - 4, 2)
    out[pos: pos + 4] = rng.choice(INTERESTING).to_bytes(4, "little")
    return bytes(out)


SEEDS = [tm.conv_relu6(), tm.classifier(float_io=True), (DATA / "keras_tiny_float.tflite").read_bytes()]
"""An int8 model (stopped by the ONNX frontend's input check today), a float-I/O one that
mcugen compiles, so corrupted files that still read go all the way through, and a file
TensorFlow's converter wrote (signature defs, metadata, shape computations)."""


def test_corrupted_files_give_one_mcugen_error(tmp_path):
    rng = random.Random(2026)
    outcomes = {"refused": 0, "compiled": 0}
    previous = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Hang()))
    slowest = 0.0
    try:
        for case in range(CASES):
            data = corrupt(rng.choice(SEEDS), rng)
            path = tmp_path / f"case{case % 8}.tflite"
            path.write_bytes(data)
            start = time.perf_counter()
            signal.alarm(CASE_SECONDS)
            try:
                pipeline.build(path)
                outcomes["compiled"] += 1
            except McugenError as exc:
                assert "\n" not in str(exc) and str(exc), (case, str(exc))
                outcomes["refused"] += 1
            except Hang:
                pytest.fail(f"case {case} ran past {CASE_SECONDS} s")
            except Exception as exc:  # anything else is a bug: show the case
                (tmp_path / "crash.tflite").write_bytes(data)
                pytest.fail(f"case {case}: {type(exc).__name__}: {exc} (file kept as crash.tflite)")
            finally:
                signal.alarm(0)
            slowest = max(slowest, time.perf_counter() - start)
    finally:
        signal.signal(signal.SIGALRM, previous)
    print(f"\n{CASES} corrupted .tflite files: {outcomes}, slowest {slowest:.2f} s")
    assert outcomes["refused"] > CASES // 2 and outcomes["compiled"] > 0  # both sides exercised


@pytest.mark.parametrize("how", ["truncated", "not-tflite", "corrupt-offset"])
def test_cli_refuses_a_bad_tflite_with_one_line(how, tmp_path):
    data = tm.conv_relu6()
    bad = {"truncated": data[: len(data) // 2],
           "not-tflite": b"this is not a model\n" * 20,
           "corrupt-offset": b"\xff\xff\xff\x7f" + data[4:]}[how]
    path = tmp_path / "bad.tflite"
    path.write_bytes(bad)
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "mcugen", "compile", str(path), "-o", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mcugen: error: bad.tflite: "), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["bad.tflite"]
