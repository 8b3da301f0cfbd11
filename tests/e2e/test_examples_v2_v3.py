"""The MobileNet v2 and v3 examples, each as built with onnx.helper (older exporters'
idioms) and as exported by torch's two exporters (and v3-large, built with onnx.helper): the same kernels after the passes,
verified bit-exact on 20 samples, with int8 close to float, and planned near the lower
bound with no conflicts."""

import json
import subprocess
import sys

import pytest
from helpers import COMPILERS, EXAMPLES, V2, V3, V3_LARGE, exports
from helpers.planning import corrupts

from mcugen import pipeline, planner

CALIB = EXAMPLES / "vww_calib.npz"
# Seeded random weights make a chaotic network (README, Figures): int8 drifts from float
# layer by layer, the more the deeper. The torch-initialized exports stay closer.
MIN_COSINE = {V2.name: 0.9, V3.name: 0.6, V3_LARGE.name: 0.6}


# The torchscript exports normalize to the same layers (test_every_spelling_...) and are
# checked against onnxruntime in float32 (test_examples_float32.py): verified here are the
# onnx.helper builds and the dynamo exports.
@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("model", [V2, exports(V2)[2], V3, exports(V3)[2], V3_LARGE], ids=lambda p: p.stem)
def test_verifies_bit_exact_on_20_samples(model):
    proc = subprocess.run([sys.executable, "-m", "mcugen", "verify", str(model), "--calib", str(CALIB),
                           "--samples", "20", "--json"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["bit_exact"] and data["samples"] == 20 and data["mismatches"] == 0
    assert data["float_reference"] == "onnxruntime"
    assert data["cosine"] > MIN_COSINE.get(model.name, 0.9)


@pytest.mark.parametrize("network", [V2, V3], ids=lambda p: p.stem)
def test_every_spelling_normalizes_to_the_same_kernels(network):
    """Clip with inputs or Max/Min, HardSwish as an op or as Add/Clip/Mul/Div, HardSigmoid
    as an op or a pattern, GlobalAveragePool or ReduceMean, BatchNorm folded or not,
    Flatten or Reshape: all become the same layers with the same costs."""
    graphs = [pipeline.front(path)[0] for path in exports(network)]
    kinds = [[node.op for node in graph.nodes] for graph in graphs]
    assert kinds[0] == kinds[1] == kinds[2]
    shapes = [[graph.shape(node.output) for node in graph.nodes] for graph in graphs]
    assert shapes[0] == shapes[1] == shapes[2]
    expected = {"add", "mul", "lut"} if network == V3 else {"add"}
    assert expected <= set(kinds[0]) and "clip" not in kinds[0]
    if network == V3:  # every HardSwish and HardSigmoid is one table; SE scales are Muls
        assert kinds[0].count("lut") == 19 + 9 and kinds[0].count("mul") == 9


def test_v3_large_has_its_tables_and_squeeze_excitation():
    """v3-large: 15 bottlenecks, 8 with squeeze-and-excitation; every HardSwish and
    HardSigmoid one table, none left as a clamp."""
    kinds = [node.op for node in pipeline.front(V3_LARGE)[0].nodes]
    assert kinds.count("mul") == 8 and kinds.count("add") == 10 and "clip" not in kinds
    assert kinds.count("lut") == 8 + 21  # the SE gates, and the HardSwish layers


@pytest.mark.parametrize("model", [V2, V3, V3_LARGE], ids=lambda p: p.stem)  # the exports: the same layers
def test_plan_has_no_conflicts_and_is_near_the_lower_bound(model):
    """Layer by layer, within 64 bytes of the bound; streamed (the default), smaller still."""
    graph, _ = pipeline.front(model)
    plan = planner.plan(graph, stream=False)
    assert planner.conflicts(plan.buffers, plan.offsets, plan.overlaps) == []
    assert not corrupts(plan.buffers, plan.offsets, plan.overlaps)  # the independent check
    assert max(len([b for b in plan.buffers if b.first <= s <= b.last]) for s in range(len(graph.nodes))) >= 3
    assert plan.lower_bound <= plan.arena_size <= plan.lower_bound + 64
    assert plan.arena_size < 0.85 * plan.baseline_bytes  # TFLM's greedy-by-size without overlap
    streamed = planner.plan(graph)
    assert planner.conflicts(streamed.buffers, streamed.offsets, streamed.overlaps) == []
    assert not corrupts(streamed.buffers, streamed.offsets, streamed.overlaps)
    assert streamed.arena_size <= plan.arena_size and streamed.lower_bound <= streamed.arena_size
    if "v2" in model.stem:  # the 48x48x48 expansion streams: 110,688 -> under half
        assert streamed.streamed and streamed.arena_size < 0.5 * plan.arena_size
        # issue 14's goal, at the bound its first depthwise layer sets: 48x48x16 in place, one
        # pixel at a time (a row and two pixels of slack)
        assert streamed.arena_size == 48 * 48 * 16 + (48 + 2) * 16 == 37_664
        assert streamed.unpaired == [streamed.peak_step]
