"""Bad input: one clear line on stderr, exit status 2, no traceback, nothing written."""

import subprocess
import sys

import pytest
from helpers import VWW, init, model, save
from onnx import helper

HOSTILE = 'evil"name*/\n/* \\ ??/ int main(void){return 1;}'


def mcugen(*args, cwd=None):
    proc = subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True, cwd=cwd)
    return proc.returncode, proc.stdout, proc.stderr


def assert_refused(args, words, out_dir=None):
    code, stdout, stderr = mcugen(*args)
    assert code == 2, (code, stderr)
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("mcugen: error: ")
    assert "Traceback" not in stderr
    for word in words:
        assert word in lines[0], lines[0]
    if out_dir is not None:
        assert not out_dir.exists()
        assert not any(p.name.startswith(f".{out_dir.name}.mcugen") for p in out_dir.parent.iterdir())
    return lines[0]


def unsupported_op_model(name="weird"):
    nodes = [helper.make_node("Sin", ["input"], ["output"], name=name)]
    return model(nodes, [1, 3, 4, 4], [1, 3, 4, 4])


@pytest.mark.parametrize("command", ["compile", "report", "verify"])
def test_missing_file(command, tmp_path):
    extra = ["-o", tmp_path / "out"] if command == "compile" else []
    assert_refused([command, tmp_path / "nope.onnx", *extra], ["nope.onnx", "no such file"],
                   tmp_path / "out" if extra else None)


def test_not_onnx(tmp_path):
    path = tmp_path / "notes.onnx"
    path.write_text("this is not a model\n" * 50)
    assert_refused(["compile", path, "-o", tmp_path / "out"], ["notes.onnx"], tmp_path / "out")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.onnx"
    path.write_bytes(b"")
    assert_refused(["report", path], ["empty.onnx"])


def test_truncated_onnx(tmp_path):
    path = tmp_path / "cut.onnx"
    path.write_bytes(VWW.read_bytes()[:300_000])
    assert_refused(["compile", path, "-o", tmp_path / "out"], ["cut.onnx"], tmp_path / "out")


def test_unsupported_op_names_node_op_and_opset(tmp_path):
    path = save(unsupported_op_model(), tmp_path)
    line = assert_refused(["compile", path, "-o", tmp_path / "out"], ["node 'weird'", "(Sin, opset 13)",
                          "is not supported; supported:", "Conv"], tmp_path / "out")
    assert "Softmax" in line


def test_every_unsupported_op_is_named_in_the_one_line(tmp_path):
    nodes = [helper.make_node("Sin", ["input"], ["a"], name="first"),
             helper.make_node("Cos", ["a"], ["b"], name="second"),
             helper.make_node("Relu", ["b"], ["c"], name="fine"),
             helper.make_node("Erf", ["c"], ["output"], name="third")]
    path = save(model(nodes, [1, 3, 4, 4], [1, 3, 4, 4]), tmp_path)
    assert_refused(["compile", path, "-o", tmp_path / "out"],
                   ["node 'first' (Sin, opset 13) is not supported", "nor are 2 other nodes: 'second' (Cos), 'third' (Erf)",
                    "; supported:"], tmp_path / "out")


def test_hostile_name_stays_on_one_line(tmp_path):
    path = save(unsupported_op_model(HOSTILE), tmp_path)
    line = assert_refused(["report", path], ["(Sin, opset 13)"])
    assert "\\n" in line  # the newline is shown escaped, not obeyed


def test_two_inputs(tmp_path):
    m = model([helper.make_node("Add", ["input", "second"], ["output"], name="add")], [1, 3], [1, 3])
    m.graph.input.append(helper.make_tensor_value_info("second", 1, [1, 3]))
    assert_refused(["report", save(m, tmp_path)], ["2 inputs", "exactly one"])


def test_unknown_spatial_size(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["output"], name="gap")]
    m = model(nodes, None, ["N", 3, 1, 1], input_dims=["N", 3, "height", "width"])
    assert_refused(["compile", save(m, tmp_path), "-o", tmp_path / "out"],
                   ["unknown size in dimension 2", "height", "static input shape"], tmp_path / "out")


def test_batch_larger_than_one(tmp_path):
    nodes = [helper.make_node("GlobalAveragePool", ["input"], ["output"], name="gap")]
    assert_refused(["report", save(model(nodes, [4, 3, 5, 5], [4, 3, 1, 1]), tmp_path)], ["batch 4"])


def test_grouped_conv(tmp_path):
    nodes = [helper.make_node("Conv", ["input", "w"], ["output"], name="gconv", group=2)]
    m = model(nodes, [1, 4, 5, 5], [1, 4, 5, 5], [init("w", [[[[1.0]]], [[[1.0]]]] * 2 * 1)])
    m.graph.initializer[0].CopyFrom(init("w", __import__("numpy").ones((4, 2, 1, 1))))
    assert_refused(["report", save(m, tmp_path)], ["node 'gconv'", "group=2"])


def test_external_data_outside_the_model_folder(tmp_path):
    m = model([helper.make_node("Conv", ["input", "w"], ["output"], name="c")], [1, 1, 3, 3], [1, 1, 3, 3],
              [init("w", [[[[2.0]]]])])
    w = m.graph.initializer[0]
    w.ClearField("raw_data")
    w.ClearField("float_data")
    w.data_location = 1  # EXTERNAL
    entry = w.external_data.add()
    entry.key, entry.value = "location", "../../../../etc/passwd"
    path = tmp_path / "model.onnx"
    path.write_bytes(m.SerializeToString())
    assert_refused(["compile", path, "-o", tmp_path / "out"], ["external data", "inside the model's folder"],
                   tmp_path / "out")


def test_bad_calibration_file(tmp_path):
    assert_refused(["verify", VWW, "--calib", tmp_path / "none.npz"], ["none.npz", "no such calibration file"])
    import numpy as np

    np.savez(tmp_path / "wrong.npz", input=np.zeros((4, 96, 96, 3), np.float32))  # NHWC, not NCHW
    assert_refused(["verify", VWW, "--calib", tmp_path / "wrong.npz"], ["(N, 3, 96, 96)"])


@pytest.mark.parametrize("name", ["int", "9lives", "a-b", "x" * 40, "ünï"])
def test_bad_name(name, tmp_path):
    assert_refused(["compile", VWW, "-o", tmp_path / "out", "--name", name], ["--name"], tmp_path / "out")


def test_output_folder_with_foreign_files_is_left_alone(tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.tex").write_text("years of work")
    assert_refused(["compile", VWW, "-o", out], ["thesis.tex", "did not write"])
    assert (out / "thesis.tex").read_text() == "years of work"


def test_output_path_is_a_file(tmp_path):
    target = tmp_path / "file"
    target.write_text("x")
    assert_refused(["compile", VWW, "-o", target], ["not a folder"])


def test_unknown_option_is_one_line():
    assert_refused(["report", VWW, "--frobnicate"], ["unrecognized arguments"])
    assert_refused(["compile", VWW], ["required", "-o"])


def test_nan_weights(tmp_path):
    import numpy as np

    w = np.ones((2, 3, 1, 1), np.float32)
    w[1, 2] = np.nan
    m = model([helper.make_node("Conv", ["input", "w"], ["output"], name="c")], [1, 3, 4, 4], [1, 2, 4, 4],
              [init("w", w)])
    assert_refused(["report", save(m, tmp_path)], ["constant 'w'", "NaN"])


def test_a_layer_that_could_overflow_int32_is_refused(tmp_path):
    """140,000 inputs of full-scale weights: 128 * 127 * 140,000 > 2**31."""
    import numpy as np

    n = 140_000
    nodes = [helper.make_node("Flatten", ["input"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w"], ["output"], name="huge_fc", transB=1)]
    m = model(nodes, [1, n], [1, 2], [init("w", np.where(np.arange(2 * n) % 2, 1.0, -1.0).reshape(2, n))])
    assert_refused(["compile", save(m, tmp_path), "-o", tmp_path / "out"],
                   ["node 'huge_fc'", "accumulator could overflow"], tmp_path / "out")


def test_bad_cc(tmp_path):
    assert_refused(["verify", VWW, "--cc", "/no/such/cc"], ["--cc", "no such program"])
    assert_refused(["verify", VWW, "--cc", "false"], ["cannot build a trivial C99 program"])


def test_output_below_a_file(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_refused(["compile", VWW, "-o", blocker / "out"], ["cannot write the output folder"])


@pytest.mark.parametrize("args,words", [(["--seed", "-1"], ["--seed"]), (["--samples", "0"], ["--samples"]),
                                        (["--samples", "100000000"], ["--samples"])])
def test_bad_verify_numbers(args, words):
    assert_refused(["verify", VWW, *args], words)
