"""Kernels that run back to front, against the real C: their output overlaps their input
from above.

The pointwise and the int8 conv kernels can run either way (dims.backward); the planner
picks the direction per layer from where it placed the tensors (planner.offsets.direction).
Each layer run back to front is placed here with its output's end exactly the distance its
declared loop order (backward_access) allows above its input's end, the tightest packing
from above; the single-arena C runs with a trace and every layer must equal the reference,
which never overlaps anything. A declaration one step too tight is caught.
"""

import itertools

import numpy as np
import pytest
from helpers import COMPILERS
from helpers.chains import build_chain, check_chain, draw_specs, make_layer, reshaped
from hypothesis import given, settings
from hypothesis import strategies as st

from mcugen import ops, planner
from mcugen.ops.base import Access
from mcugen.ops.pointwise_conv import PIXELS_AT_ONCE

pytestmark = pytest.mark.skipif(not COMPILERS, reason="no C compiler")


def above(graph, step):
    node = graph.nodes[step]
    return planner.offsets.overlap(planner.overlap_rules(graph)[(node.input, node.output)]).above


@pytest.mark.parametrize("optimize", ["speed", "size"])
@pytest.mark.parametrize("pixels", [(4, 4), (3, 5), (3, 3)])
def test_widening_pointwise_backward_sits_on_its_input(pixels, optimize):
    """8 -> 16 channels, run from the last group of four pixels down: the input sits at the
    bottom of the output's region, four input pixels of slack (the first group's, read
    while its outputs are written), where the forward kernel puts it at the top. Every map
    size (a partial first group), both weight layouts, plain and DSP builds."""
    rng = np.random.default_rng(sum(pixels))
    graph = build_chain([("pointwise_conv", 16)], (1, *pixels, 8), rng)
    n = pixels[0] * pixels[1]
    groups = -(-n // PIXELS_AT_ONCE)
    # step s (from the end) writes 4 * 16 bytes and reads no input byte within 4 * 8 * s of the end
    want = max((s + 1) * PIXELS_AT_ONCE * 16 - s * PIXELS_AT_ONCE * 8 for s in range(groups))
    assert above(graph, 0) == planner.align(want)
    for dsp in (False, True):
        plan = check_chain(graph, rng, dsp=dsp, backward={0}, optimize=optimize)
        assert plan.offsets["t1"] + 16 * n == plan.offsets["t0"] + 8 * n + above(graph, 0)  # exactly that far


@pytest.mark.parametrize("optimize", ["speed", "size"])
def test_narrowing_pointwise_backward_runs_in_place_at_the_top(optimize):
    """16 -> 8: run back to front, the output's end one group of outputs (4 x 8 bytes) above
    the input's end: the last group's outputs are written while its pixels are read."""
    rng = np.random.default_rng(7)
    graph = build_chain([("pointwise_conv", 8)], (1, 5, 4, 16), rng)
    assert above(graph, 0) == PIXELS_AT_ONCE * 8
    for dsp in (False, True):
        check_chain(graph, rng, dsp=dsp, backward={0}, optimize=optimize)


WINDOWS = [(k, s, d, pads) for k, s, d, pads in itertools.product(
    (1, 2, 3), (1, 2, 3), (1, 2), ((0, 0, 0, 0), (1, 1, 1, 1), (0, 0, 1, 1), (2, 1, 0, 2)))]


def test_every_conv_window_backward_at_its_distance_from_above():
    """Every kernel/stride/dilation/padding combination of the conv kernel, every layer of
    the chain run back to front at exactly its derived distance above (a 1x1 conv padded by
    2 grows the map back between them, backward too); plain and DSP builds."""
    rng = np.random.default_rng(11)
    specs, shape = [], (1, 7, 6, 3)
    for k, s, d, pads in WINDOWS:
        reach = (k - 1) * d + 1
        if shape[1] + pads[0] + pads[2] < reach or shape[2] + pads[1] + pads[3] < reach:
            continue
        spec = ("conv", k, s, d, pads, int(rng.integers(1, 9)))
        specs.append(spec)
        shape = ops.get("conv").output_shape(make_layer(spec, shape, rng), shape)
        if min(shape[1:3]) < 5:
            grow = ("conv", 1, 1, 1, (2, 2, 2, 2), int(rng.integers(2, 5)))
            specs.append(grow)
            shape = ops.get("conv").output_shape(make_layer(grow, shape, rng), shape)
    for start in range(0, len(specs), 40):
        rng2 = np.random.default_rng(start)
        graph = build_chain(reshaped(specs[start: start + 40], (1, 7, 6, 3), rng2), (1, 7, 6, 3), rng2)
        backward = {i for i in range(len(graph.nodes)) if planner.overlap_rules(graph).get(
            (graph.nodes[i].input, graph.nodes[i].output)) is not None and above(graph, i) is not None}
        assert len(backward) > len(graph.nodes) // 2
        check_chain(graph, rng2, dsp=False, backward=backward)
        check_chain(graph, rng2, dsp=True, backward=backward)


def test_the_first_conv_of_an_image_backward():
    """MobileNet's stem, 3x3/2 'same' 3 -> 16 channels: its output overlaps the image from
    above by about as much as it does from below when run forward."""
    rng = np.random.default_rng(3)
    graph = build_chain([("conv", 3, 2, 1, (0, 0, 1, 1), 16)], (1, 24, 24, 3), rng)
    rule = planner.offsets.overlap(planner.overlap_rules(graph)[("t0", "t1")])
    assert rule.above is not None and rule.below is not None
    assert abs(rule.above - rule.below) <= 2 * 24 * 3  # mirror images, up to the padding's side
    for dsp in (False, True):
        check_chain(graph, rng, dsp=dsp, backward={0})


@settings(max_examples=8, deadline=None)
@given(st.data())
def test_random_chains_mixing_both_directions(data):
    """Random chains, each layer that has a back-to-front kernel run either way (drawn),
    every one at its tightest overlap: the tensors wander up and down the arena."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    shape = (1, data.draw(st.integers(3, 9)), data.draw(st.integers(3, 9)), data.draw(st.integers(1, 6)))
    specs = draw_specs(data, 10)
    graph = build_chain(reshaped(specs, shape, rng), shape, rng)
    rules = planner.overlap_rules(graph)
    can = [i for i, n in enumerate(graph.nodes) if (n.input, n.output) in rules and above(graph, i) is not None]
    backward = {i for i in can if data.draw(st.booleans())}
    check_chain(graph, rng, backward=backward, optimize=data.draw(st.sampled_from(["speed", "size"])))


def tighter_by_one_step(hook):
    """A backward_access that claims each step reads only what the next one reads: the
    planner then places the output one step closer than the kernel allows."""
    def declared(node, in_shape, out_shape):
        true = hook(node, in_shape, out_shape)
        first = np.append(true.first_read[1:], true.first_read[-1] + (true.first_read[-1] - true.first_read[-2]))
        return Access(first, true.step_bytes)
    return declared


def test_a_pointwise_declaration_one_step_too_tight_is_caught(monkeypatch):
    """The C tests above would pass a declaration that is too generous; one a step too
    tight must fail them: the output lands on input bytes not yet read (the plain kernel
    reads a group's pixels while it writes their outputs)."""
    rng = np.random.default_rng(1)
    graph = build_chain([("pointwise_conv", 16)], (1, 4, 4, 8), rng)
    honest = above(graph, 0)
    monkeypatch.setattr(ops.pointwise_conv, "backward_access", tighter_by_one_step(ops.pointwise_conv.backward_access))
    assert above(graph, 0) == honest - PIXELS_AT_ONCE * 8
    with pytest.raises(AssertionError, match="layer 0"):
        check_chain(graph, rng, dsp=False, backward={0})


def c_backward_reads(node, in_shape, out_shape):
    """One past the highest input byte each step of mcugen_conv_s8's backward loop reads,
    its loop line for line (mcugen_conv_s8.c: pixels from the last, each window's taps
    inside the input; change both together); 0 for a window wholly in the padding."""
    (kh, kw), (sh, sw), (pt, pl) = node.attrs["kernel"], node.attrs["strides"], node.attrs["pads"][:2]
    dh, dw = node.attrs["dilations"]
    _, in_h, in_w, in_c = in_shape
    ends = []
    for oy in reversed(range(out_shape[1])):
        for ox in reversed(range(out_shape[2])):
            taps = [(oy * sh - pt + ky * dh, ox * sw - pl + kx * dw) for ky in range(kh) for kx in range(kw)]
            inside = [(iy * in_w + ix + 1) * in_c for iy, ix in taps if 0 <= iy < in_h and 0 <= ix < in_w]
            ends.append(max(inside, default=0))
    return np.array(ends)


@pytest.mark.parametrize("k,s,d,pads", WINDOWS, ids=lambda v: str(v).replace(" ", ""))
def test_conv_backward_access_is_the_kernel_s_read_schedule(k, s, d, pads):
    """The conv kernel gathers a pixel's window before it writes the pixel, so a declaration
    off by one step cannot corrupt anything the C test could see; it is checked here
    against the loop instead: every step reads no higher than declared, exactly as high
    where the window's bottom-right tap is inside the input (else the declaration claims
    the nearest byte inside, which is safe), and one step tighter is caught."""
    rng = np.random.default_rng(0)
    shape = (1, 7, 6, 3)
    if shape[1] + pads[0] + pads[2] < (k - 1) * d + 1 or shape[2] + pads[1] + pads[3] < (k - 1) * d + 1:
        pytest.skip("the window does not fit")
    graph = build_chain([("conv", k, s, d, pads, 5)], shape, rng)
    node, out = graph.nodes[0], graph.shape("t1")
    size = int(np.prod(shape[1:]))
    declared = size - ops.conv.backward_access(node, shape, out).first_read  # one past the highest byte, per step
    read = c_backward_reads(node, shape, out)
    assert np.all(read <= declared)
    oy, ox = np.meshgrid(np.arange(out[1]), np.arange(out[2]), indexing="ij")
    last_y, last_x = (oy * s - pads[0] + (k - 1) * d)[::-1, ::-1].ravel(), (ox * s - pads[1] + (k - 1) * d)[::-1, ::-1].ravel()
    exact = (last_y < shape[1]) & (last_x < shape[2]) & (last_y >= 0) & (last_x >= 0)
    assert np.array_equal(read[exact], declared[exact])
    if len(read) > 1:
        tighter = size - tighter_by_one_step(ops.conv.backward_access)(node, shape, out).first_read
        assert np.any(read > tighter)
