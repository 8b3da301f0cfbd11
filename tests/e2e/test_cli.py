"""The command line: compile, report, verify, help; exit codes; deterministic output."""

import json
import subprocess
import sys

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS, EXAMPLES, VWW

from mcugen import cli, ops

DIGITS_CALIB = EXAMPLES / "digits_calib.npz"


def run(*args):
    proc = subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True)
    return proc.returncode, proc.stdout, proc.stderr


def test_help_lists_every_command_and_option():
    code, out, _ = run("--help")
    assert code == 0
    for command in ("compile", "report", "verify"):
        assert command in out
    for command, options in [("compile", ["--calib", "--calib-percentile", "--name", "-o"]),
                             ("report", ["--json"]),
                             ("verify", ["--calib", "--samples", "--json", "--cc", "--seed"])]:
        code, out, _ = run(command, "--help")
        assert code == 0
        for option in options:
            assert option in out, (command, option)


def test_compile_writes_the_api_and_a_manifest(tmp_path):
    out = tmp_path / "build" / "digits"
    code, stdout, stderr = run("compile", DIGITS, "--calib", DIGITS_CALIB, "-o", out, "--name", "dig")
    assert code == 0, stderr
    assert sorted(p.name for p in out.iterdir()) == ["dig.c", "dig.h", "dig_weights.c", "mcugen.json"]
    header = (out / "dig.h").read_text()
    for macro in ("DIG_ARENA_SIZE", "DIG_INPUT_SIZE 1024", "DIG_OUTPUT_SIZE 10", "DIG_INPUT_SCALE",
                  "DIG_INPUT_ZERO_POINT", "DIG_OUTPUT_SCALE", "DIG_OUTPUT_ZERO_POINT"):
        assert macro in header
    for fn in ("int8_t *dig_input(void);", "void dig_run(void);", "const int8_t *dig_output(void);"):
        assert fn in header
    manifest = json.loads((out / "mcugen.json").read_text())
    assert manifest["files"] == ["dig.c", "dig.h", "dig_weights.c"]
    assert manifest["arena_bytes"] > 0 and manifest["calibration"] == "digits_calib.npz"
    assert "symbolic batch" in stderr  # said once, as a note


def test_compile_is_deterministic_and_replaces_its_own_output(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b, a):  # the second write to `a` replaces mcugen's own earlier output
        assert run("compile", DIGITS, "-o", out, "--name", "dig")[0] == 0
    for f in a.iterdir():
        assert f.read_bytes() == (b / f.name).read_bytes(), f.name


def test_report_json_has_the_documented_keys():
    code, out, _ = run("report", VWW, "--json")
    assert code == 0
    data = json.loads(out)
    for key in ("arena_bytes", "lower_bound_bytes", "weights_bytes", "macs", "layers"):
        assert key in data
    assert data["lower_bound_bytes"] <= data["arena_bytes"]
    assert data["macs"] == sum(layer["macs"] for layer in data["layers"])
    first = data["layers"][0]
    for key in ("op", "input_shape", "output_shape", "macs", "weight_bytes", "output_offset", "output_bytes"):
        assert key in first
    # MobileNet v1 0.25 at 96x96: conv1 is 48*48*8 outputs of 3*3*3 MACs each.
    assert first["macs"] == 48 * 48 * 8 * 27


def test_report_text_shows_totals():
    code, out, _ = run("report", VWW)
    assert code == 0
    for word in ("MACs", "flash (constants)", "RAM (arena)", "lower bound"):
        assert word in out


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_verify_json(tmp_path):
    code, out, stderr = run("verify", DIGITS, "--calib", DIGITS_CALIB, "--samples", "6", "--json")
    assert code == 0, stderr
    data = json.loads(out)
    for key in ("bit_exact", "mismatches", "samples", "top1_agreement", "cosine", "arena_bytes",
                "weights_bytes", "macs"):
        assert key in data
    assert data["bit_exact"] is True and data["mismatches"] == 0 and data["samples"] == 6
    assert data["calibration_samples"] == 3


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_verify_names_the_first_layer_that_differs(monkeypatch, capsys):
    """Break the reference of one layer kind: verify must fail and point at its first layer."""
    real = ops.depthwise_conv.run_int8

    def broken(node, x):  # a big error, so that it survives to the (confident) softmax
        out = real(node, x).astype(np.int16)
        return np.clip(out + 40, -128, 127).astype(np.int8)

    monkeypatch.setattr(ops.depthwise_conv, "run_int8", broken)
    code = cli.main(["verify", str(DIGITS), "--samples", "3", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 1
    assert data["bit_exact"] is False and data["mismatches"] > 0
    assert data["first_bad_layer"]["op"] == "depthwise_conv"
    assert data["first_bad_layer"]["index"] == 1  # conv, then the first depthwise
    assert data["first_bad_layer"]["streamed_inside"] is None


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_verify_names_a_streamed_layer_with_its_consumer(monkeypatch, capsys):
    """Layer 2 of digits (pointwise) runs inside layer 3 (depthwise) and has no output of
    its own: a fault in it is reported at layer 3, naming layer 2 as the other suspect."""
    real = ops.pointwise_conv.run_int8

    def broken(node, x):
        return np.clip(real(node, x).astype(np.int16) + 40, -128, 127).astype(np.int8)

    monkeypatch.setattr(ops.pointwise_conv, "run_int8", broken)
    code = cli.main(["verify", str(DIGITS), "--samples", "3"])
    out = capsys.readouterr().out
    assert code == 1
    assert "first layer that differs: #3 depthwise_conv" in out and "layer #2 runs inside it, streamed" in out


def test_report_needs_no_calibration_and_warns_nothing():
    code, _, stderr = run("report", VWW)
    assert code == 0 and "warning" not in stderr


def test_compile_without_calib_warns(tmp_path):
    code, _, stderr = run("compile", DIGITS, "-o", tmp_path / "o")
    assert code == 0 and "warning: no --calib given" in stderr


def test_readme_lists_exactly_the_supported_onnx_ops():
    from helpers import ROOT

    from mcugen.frontend import IMPORTERS

    text = (ROOT / "README.md").read_text()
    section = text.split("<!-- ops:")[1].split("<!-- /ops -->")[0]
    listed = section.split("ONNX ops:")[1].strip().split(", ")
    assert listed == sorted(IMPORTERS)


@pytest.mark.parametrize("text,value", [("37500", 37500), ("64K", 65536), ("0.5M", 524288), ("36 KiB", 36864)])
def test_ram_limit_units(text, value):
    from mcugen.planner import parse_bytes

    assert parse_bytes(text) == value


def test_ram_limit_refuses_naming_the_peak_layer(tmp_path):
    report = json.loads(run("report", VWW, "--json")[1])
    peak = report["peak_layer"]
    code, _, stderr = run("compile", VWW, "-o", tmp_path / "o", "--ram-limit", "27K")  # the image alone: 27,648
    assert code == 4 and not (tmp_path / "o").exists()  # a limit not met: 4, not bad input
    line = stderr.strip()
    assert len(line.splitlines()) == 1  # refused before calibration warns about anything
    assert "over --ram-limit 27K (27,648 bytes)" in line
    assert f"layer {peak} ({report['layers'][peak]['op']}" in line
    code, _, stderr = run("compile", VWW, "-o", tmp_path / "o", "--ram-limit", "30016", "--calib",
                          EXAMPLES / "vww_calib.npz")
    assert code == 0, stderr
    # Layer by layer, the peak is the 48x48x16 tensor, and 30,016 bytes are not enough.
    code, _, stderr = run("compile", VWW, "-o", tmp_path / "p", "--ram-limit", "30016", "--no-stream")
    assert code == 4 and "layer 2 (pointwise_conv" in stderr and not (tmp_path / "p").exists()
    code, _, stderr = run("report", VWW, "--ram-limit", "lots")
    assert code == 2 and "--ram-limit 'lots'" in stderr


def test_flash_limit_counts_the_constants(tmp_path):
    constants = json.loads(run("report", DIGITS, "--json")[1])["weights_bytes"]
    code, _, stderr = run("compile", DIGITS, "-o", tmp_path / "o", "--flash-limit", str(constants - 1))
    assert code == 4 and not (tmp_path / "o").exists()
    assert f"needs {constants:,} bytes of flash (constants" in stderr and "1 over --flash-limit" in stderr
    code, _, stderr = run("compile", DIGITS, "-o", tmp_path / "o", "--flash-limit", str(constants))
    assert code == 0, stderr
    assert run("report", DIGITS, "--flash-limit", "8 MB")[0] == 0
    code, _, stderr = run("report", DIGITS, "--flash-limit", "lots")
    assert code == 2 and "--flash-limit 'lots'" in stderr


@pytest.mark.parametrize("args, status", [
    (("report", "missing.onnx"), 2),
    (("report", VWW, "--ram-limit", "1K"), 4),
    (("report", VWW, "--bogus-option"), 2)])
def test_json_errors_are_one_json_document(args, status):
    """With --json, stdout is one JSON document even on an error (and stderr the one line)."""
    code, out, stderr = run(*args, "--json")
    assert code == status
    data = json.loads(out)
    assert data["exit_status"] == status and data["error"] == stderr.strip().split(": ", 2)[2]
    assert len(stderr.strip().splitlines()) == 1


def test_report_json_tensors_are_a_valid_plan():
    """Independently of the planner's own checks: from the JSON alone, no two tensors live
    at one layer share a byte unless they are a listed (input, output) overlap at the
    layer joining them, with the output far enough below (forward) or above (backward)."""
    code, out, _ = run("report", DIGITS, "--json")
    data = json.loads(out)
    tensors = {t["name"]: t for t in data["tensors"]}
    allowed = {(o["input"], o["output"]): o["distance"] for o in data["overlaps"]}
    backward = {(o["input"], o["output"]) for o in data["overlaps"] if o["direction"] == "backward"}
    assert data["arena_bytes"] >= max(t["offset"] + t["bytes"] for t in tensors.values())
    for a in tensors.values():
        for b in tensors.values():
            if a is b or a["last_layer"] < b["first_layer"] or b["last_layer"] < a["first_layer"]:
                continue
            if a["offset"] < b["offset"] + b["bytes"] and b["offset"] < a["offset"] + a["bytes"]:
                src, dst = (a, b) if (a["name"], b["name"]) in allowed else (b, a)
                assert (src["name"], dst["name"]) in allowed, (a, b)
                assert src["last_layer"] == dst["first_layer"]
                pair = (src["name"], dst["name"])
                if pair in backward:
                    assert dst["offset"] + dst["bytes"] >= src["offset"] + src["bytes"] + allowed[pair]
                else:
                    assert dst["offset"] <= src["offset"] - allowed[pair]
    assert allowed  # the digits network does overlap layers
    assert backward  # and runs some back to front (its first conv: the image below its output)


def test_report_html_and_svg(tmp_path):
    code, _, stderr = run("report", VWW, "--html", tmp_path / "arena.html", "--plot", tmp_path / "arena.svg")
    assert code == 0, stderr
    svg = (tmp_path / "arena.svg").read_text()
    page = (tmp_path / "arena.html").read_text()
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    report = json.loads(run("report", VWW, "--json")[1])
    tensors = report["tensors"]
    assert len(tensors) >= 31  # the input, 30 layer outputs, and kernels' scratch buffers
    assert svg.count("<title>") == len(tensors)  # one box each
    assert "peak" in svg and f"arena {report['arena_bytes']:,} B" in svg
    assert "<svg" in page and "MobilenetV1/Conv2d_0/Relu6:0" in page
    code, _, _ = run("report", VWW, "--plot", tmp_path / "arena.png")
    assert code == 2


def test_the_picture_shows_the_row_pipeline_s_windows(tmp_path):
    """--row-input: the pipeline's buffer drawn as one box per stage's window and one for
    the kernels' scratch, stacked from its offset without a gap, filling the buffer."""
    import re

    code, _, stderr = run("report", VWW, "--row-input", "--plot", tmp_path / "rows.svg")
    assert code == 0, stderr
    report = json.loads(run("report", VWW, "--row-input", "--json")[1])
    pipe = report["pipeline"]
    boxes = re.findall(r"<title>row pipeline of layers 0\.\.(\d+), (.*?): ([\d,]+) B at offset ([\d,]+)</title>",
                       (tmp_path / "rows.svg").read_text())
    assert len(boxes) == len(pipe["stages"]) + 1 and {b[0] for b in boxes} == {str(pipe["layers"] - 1)}
    sizes = [int(b[2].replace(",", "")) for b in boxes]
    starts = [int(b[3].replace(",", "")) for b in boxes]
    assert sum(sizes) == pipe["scratch_bytes"]
    assert all(starts[k] + sizes[k] == starts[k + 1] for k in range(len(boxes) - 1))
    assert all(f"layer {s['layer']}&#x27;s window: {s['rows']} of" in b[1] for s, b in zip(pipe["stages"], boxes))


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_min_cosine_is_a_gate(tmp_path):
    """Bit-exact but below the gate: exit 4, the JSON says why; at or above it: 0."""
    calib = DIGITS_CALIB
    code, out, _ = run("verify", DIGITS, "--calib", calib, "--samples", "4", "--json", "--min-cosine", "0.999999999")
    data = json.loads(out)
    assert data["bit_exact"] and data["cosine"] < 0.999999999
    assert code == 4 and data["exit_status"] == 4 and "below --min-cosine" in data["error"]
    code, out, _ = run("verify", DIGITS, "--calib", calib, "--samples", "4", "--json", "--min-cosine", "0.5")
    assert code == 0 and json.loads(out)["exit_status"] == 0


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
def test_progress_only_on_a_terminal():
    """verify on a terminal shows its stages on one line, rewritten and wiped; piped, or
    with --json, stderr has none of it."""
    import os
    import pty

    args = ["verify", DIGITS, "--calib", DIGITS_CALIB, "--samples", "2"]
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "mcugen", *map(str, args)], stdout=subprocess.PIPE,
                            stderr=follower, text=True)
    os.close(follower)
    seen = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    out, _ = proc.communicate()
    os.close(leader)
    assert proc.returncode == 0 and "BIT-EXACT" in out
    terminal = seen.decode()
    assert "\rmcugen: building the C and running it on 2 samples" in terminal
    assert "BIT-EXACT" not in terminal  # the result goes to stdout
    _, _, piped = run(*args)
    assert "building the C" not in piped and "\r" not in piped
