"""--row-input: the row pipeline's windows (sizes worked out by hand), its C run bit-exact
on the host (plain, DSP paths, M0 requantization), the rows asked for once each and in
order, the VWW arena under 16 KiB, the C API of a row build and the refusals."""

import dataclasses
import subprocess
import sys

import numpy as np
import pytest
from helpers import COMPILERS, DIGITS, EMULATE_DSP, EXAMPLES, VWW, init, model, save
from onnx import helper

from mcugen import pipeline, planner, reference
from mcugen.backend import codegen
from mcugen.errors import McugenError
from mcugen.planner import Execution, rows
from mcugen.target import toolchain
from mcugen.verify import int8 as verify_int8

NO_LONG_MULTIPLY = ("-DMCUGEN_NO_LONG_MULTIPLY",)


def small_model(folder, stride=2, kernel=3, pads=(1, 1, 1, 1)):
    """input 2x10x8 (NCHW) -> conv 3x3/2 pad 1 to 4 channels -> depthwise 3x3 pad 1 ->
    pointwise to 6 -> global average pool: 5x4 maps after the conv."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Conv", ["input", "w0", "b0"], ["c0"], kernel_shape=[kernel, kernel], strides=[stride, stride],
                         pads=list(pads)),
        helper.make_node("Relu", ["c0"], ["r0"]),
        helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], kernel_shape=[1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"]),
        helper.make_node("GlobalAveragePool", ["r2"], ["output"]),
    ]
    inits = [init("w0", rng.normal(0, 0.5, (4, 2, kernel, kernel))), init("b0", rng.normal(0, 0.1, 4)),
             init("w1", rng.normal(0, 0.5, (4, 1, 3, 3))), init("b1", rng.normal(0, 0.1, 4)),
             init("w2", rng.normal(0, 0.5, (6, 4, 1, 1))), init("b2", rng.normal(0, 0.1, 6))]
    return save(model(nodes, (1, 2, 10, 8), (1, 6, 1, 1), inits), folder)


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    path = small_model(tmp_path_factory.mktemp("rows"))
    calib = np.random.default_rng(2).uniform(-1, 1, (8, 2, 10, 8)).astype(np.float32)
    return pipeline.build(path, calib, row_input=True)


def test_windows_of_a_small_pipeline_by_hand(small):
    g = small.graph
    assert [n.op for n in g.nodes[:3]] == ["conv", "depthwise_conv", "pointwise_conv"]
    assert rows.max_depth(g) == 3  # the global average pool cannot run on rows
    # conv 3x3/2 on 10 rows of 8 pixels x 2 channels (16 B a row) keeps 3 rows: 48 B;
    # the depthwise 3x3/1 on 5 rows of 4 x 4 (16 B) keeps 3: 48 B; the pointwise keeps 1 row: 16 B.
    got = [(s.window_rows, s.row_bytes, s.window_bytes) for s in rows.stages(g, 3)]
    assert got == [(3, 16, 48), (3, 16, 48), (1, 16, 16)]
    assert rows.scratch_bytes(g, 3) >= 48 + 48 + 16
    # depth 3: only the windows, the kernels' scratch and the last 5x4x6 output live (no input)
    bufs = planner.buffers(g, Execution(pipeline=3))
    assert g.input not in {b.name for b in bufs}
    live0 = [b for b in bufs if b.first <= 2 <= b.last]
    assert sorted(b.size for b in live0) == sorted([rows.scratch_bytes(g, 3), 5 * 4 * 6])


def test_a_stage_that_would_skip_rows_is_refused(tmp_path):
    """A 1x1 conv of stride 2 never reads the odd rows: the pull loop cannot skip them."""
    path = small_model(tmp_path, stride=2, kernel=1, pads=(0, 0, 0, 0))
    g, _ = pipeline.front(path)
    assert rows.rows_read(10, 1, 2, 0, 5) == {0, 2, 4, 6, 8}
    assert rows.stage(g, 0) is None and rows.max_depth(g) == 0
    with pytest.raises(McugenError, match="--row-input: the first layer"):
        pipeline.build(path, row_input=True)


def test_float32_is_refused():
    with pytest.raises(McugenError, match="--row-input is for int8"):
        pipeline.build(DIGITS, precision="float32", row_input=True)


def test_the_cli_refuses_with_exit_status_2():
    proc = subprocess.run([sys.executable, "-m", "mcugen", "report", str(DIGITS), "--row-input", "--precision",
                           "float32"], capture_output=True, text=True)
    assert proc.returncode == 2 and "--row-input is for int8" in proc.stderr


def test_vww_row_input_arena_fits_16_kib():
    g, _ = pipeline.front(VWW)
    depth = planner.decide_pipeline(g)
    plan = planner.plan(g, pipeline=depth)
    whole = planner.plan(g)
    assert plan.arena_size <= 16384 < whole.arena_size
    assert plan.arena_size >= plan.lower_bound and not planner.conflicts(plan.buffers, plan.offsets, plan.overlaps)
    # every depth was weighed: none has a smaller bound
    assert all(planner.decide.bound(g, Execution(pipeline=d)) >= plan.lower_bound
               for d in range(1, rows.max_depth(g) + 1))


def at_depth(compiled, depth):
    """The same build with a pipeline of `depth` layers, whatever decide_pipeline prefers."""
    return dataclasses.replace(compiled, plan=planner.plan(compiled.graph, pipeline=depth))


@pytest.mark.parametrize("depth", [1, 2, 3])
@pytest.mark.parametrize("flags", [(), EMULATE_DSP, NO_LONG_MULTIPLY], ids=["plain", "dsp", "cortex-m0-form"])
@pytest.mark.parametrize("cc", COMPILERS)
def test_small_pipeline_is_bit_exact(small, cc, flags, depth):
    small = at_depth(small, depth)
    x = np.random.default_rng(3).integers(-128, 128, (4, 10, 8, 2)).astype(np.int8)
    got = np.frombuffer(verify_int8.run_c(small, "rw", x, cc, extra_flags=flags), np.int8)
    assert np.array_equal(got, reference.run_int8(small.graph, x).reshape(-1))


CAMERA = """#include <stdio.h>
#include <string.h>
#include "{p}.h"
static int32_t asked[4 * {P}_INPUT_HEIGHT];
static int32_t count;
void {p}_input_row(int32_t row, {p}_input_t *dst)
{{
    asked[count++] = row;
    memset(dst, 0, {P}_INPUT_ROW_SIZE);
}}
int main(void)
{{
    {p}_run();
    for (int32_t i = 0; i < count; ++i) {{
        printf("%ld\\n", (long)asked[i]);
    }}
    return 0;
}}
"""


def camera_rows(compiled, name, tmp_path, cc="gcc", extra=""):
    for fname, text in codegen.generate(compiled.graph, compiled.plan, name, "test").items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "main.c").write_text(CAMERA.format(p=name, P=name.upper()) + extra)
    sources = [tmp_path / f"{name}.c", tmp_path / f"{name}_weights.c", tmp_path / "main.c"]
    toolchain.build(sources, tmp_path / "cam", cc, flags=toolchain.CFLAGS)
    out = subprocess.run([str(tmp_path / "cam")], capture_output=True, text=True, check=True).stdout
    return [int(v) for v in out.split()]


@pytest.mark.parametrize("depth", [1, 3])
def test_rows_are_asked_for_once_each_in_order(small, tmp_path, depth):
    assert camera_rows(at_depth(small, depth), "cam", tmp_path) == list(range(10))


@pytest.mark.slow
def test_vww_row_input_bit_exact_and_rows_in_order(tmp_path):
    compiled = pipeline.build(VWW, EXAMPLES / "vww_calib.npz", row_input=True)
    assert compiled.plan.arena_size <= 16384
    x, _ = verify_int8.make_inputs(compiled, 2)
    got = np.frombuffer(verify_int8.run_c(compiled, "vww", x, "gcc"), np.int8)
    assert np.array_equal(got, reference.run_int8(compiled.graph, x).reshape(-1))
    assert camera_rows(compiled, "vww", tmp_path) == list(range(96))


def test_a_row_build_has_no_input_buffer(small, tmp_path):
    files = codegen.generate(small.graph, small.plan, "rw", "test")
    header = files["rw.h"]
    assert "void rw_input_row(int32_t row, rw_input_t *dst);" in header and "#define RW_ROW_INPUT 1" in header
    for fname, text in files.items():
        (tmp_path / fname).write_text(text)
    (tmp_path / "bad.c").write_text('#include "rw.h"\nint8_t *f(void);\nint8_t *f(void) { return rw_input(); }\n')
    proc = subprocess.run(["gcc", *toolchain.CFLAGS, "-c", str(tmp_path / "bad.c"), "-o", str(tmp_path / "bad.o")],
                          capture_output=True, text=True)
    assert proc.returncode != 0 and "rw_input_does_not_exist_with_row_input" in proc.stderr
    whole = pipeline.build(DIGITS)
    text = codegen.generate(whole.graph, whole.plan, "dg", "test")["dg.h"]
    assert "input_row" not in text and "*dg_input(void);" in text


class CorruptingRunner:
    """The host runner, with the first byte of every trace flipped: the first traced layer
    differs from the reference."""

    def run(self, compiled, name, x, trace=False):
        out = bytearray(verify_int8.run_c(compiled, name, x, "gcc", trace))
        out[0] ^= 0x55
        return bytes(out)


def test_first_bad_layer_falls_back_to_the_whole_input_trace(small):
    """A row build traces no output inside its pipeline: the first traced output is the
    pipeline's last (layer 2), and the whole-input build's trace names layer 0."""
    deep = at_depth(small, 3)
    x = np.random.default_rng(4).integers(-128, 128, (1, 10, 8, 2)).astype(np.int8)
    bad = verify_int8.first_bad_layer(deep, "rw", x[0], CorruptingRunner())
    assert bad["index"] == 0 and bad["row_pipeline"] == 3
