"""Chains of layers with hand-set integer parameters, planned at their tightest overlap and
run in C layer by layer against the reference (the overlap and float32 tests)."""


import numpy as np
from hypothesis import strategies as st

from helpers import COMPILERS, EMULATE_DSP
from helpers.kernels import NEAREST_MODES, RESIZE_COORDINATES, resize_attrs
from mcugen import ops, planner, reference
from mcugen.ir import Graph, Node, QParams, Tensor
from mcugen.pipeline import Compiled
from mcugen.planner.execution import LAYER_BY_LAYER, Execution, reads
from mcugen.planner.offsets import overlap
from mcugen.precision import INT8, Precision
from mcugen.verify import run_c

Q = QParams(0.05, 0)


def weighted(op, attrs, weight_shape, channels, taps, rng):
    w = rng.integers(-127, 128, size=weight_shape).astype(np.int8)
    node = Node(op, op, [], [], dict(attrs, weight=w.astype(float)))
    # A shift that keeps typical outputs inside int8, so every input byte matters.
    shift = -int(np.round(np.log2(max(1.0, np.sqrt(taps) * 128 * 73 / 48))))
    node.params = dict(weight=w, bias=rng.integers(-3000, 3000, channels).astype(np.int32),
                       mult=rng.integers(2**30, 2**31 - 1, channels).astype(np.int32),
                       shift=np.full(channels, shift, np.int32),
                       input_zp=int(rng.integers(-20, 20)), output_zp=int(rng.integers(-20, 20)),
                       act_min=-128, act_max=127)
    return node


def make_layer(spec, shape, rng):
    """One layer of kind spec[0] taking `shape`; returns the node."""
    kind, rest = spec[0], spec[1:]
    c = shape[-1]
    if kind in ("conv", "depthwise_conv", "avg_pool"):
        kernel, stride, dilation, pads, cout = rest
        attrs = dict(kernel=(kernel, kernel), strides=(stride, stride), dilations=(dilation, dilation), pads=pads)
        if kind == "conv":
            return weighted("conv", attrs, (cout, kernel, kernel, c), cout, kernel * kernel * c, rng)
        if kind == "depthwise_conv":
            return weighted("depthwise_conv", attrs, (kernel, kernel, c), c, kernel * kernel, rng)
        attrs["dilations"] = (1, 1)
        node = Node("avg_pool", "avg_pool", [], [], dict(attrs, count_include_pad=bool(cout % 2)))
        node.params = dict(input_zp=0, output_zp=0, act_min=-128, act_max=127, count_include_pad=cout % 2)
        return node
    if kind == "pointwise_conv":
        return weighted("pointwise_conv", {}, (rest[0], c), rest[0], c, rng)
    if kind == "global_avg_pool":
        node = Node(kind, kind, [], [], {})
        node.params = ops.global_avg_pool.quantize(node, Q, QParams(0.03, -5))
        return node
    if kind == "resize":  # ("resize", mode, coordinate, nearest_mode, factor): the output side in * factor, 1 to 16
        mode, coordinate, nearest_mode, factor = rest
        out_hw = tuple(min(16, max(1, round(n * factor))) for n in shape[1:3])
        node = Node(kind, kind, [], [], resize_attrs(mode, coordinate, shape[1:3], out_hw, nearest_mode))
        node.params = ops.resize.quantize(node, Q, Q)
        return node
    if kind == "prelu":  # ("prelu",): random slopes, per channel
        node = Node(kind, kind, [], [], dict(slope=rng.uniform(-1.0, 1.0, c)))
        node.params = ops.prelu.quantize(node, Q, QParams(0.03, -5))
        return node
    if kind == "fully_connected":
        return weighted(kind, {}, (rest[0], int(np.prod(shape[1:]))), rest[0], int(np.prod(shape[1:])), rng)
    node = Node("softmax", "softmax", [], [], {})
    node.params = ops.softmax.quantize(node, QParams(0.08, 0), ops.softmax.OUTPUT_Q)
    return node


def build_chain(specs, shape, rng) -> Graph:
    tensors = {"t0": Tensor("t0", shape, Q)}
    nodes = []
    for i, spec in enumerate(specs):
        node = make_layer(spec, shape, rng)
        node.inputs, node.outputs = [f"t{i}"], [f"t{i + 1}"]
        shape = ops.get(node.op).output_shape(node, shape)
        tensors[f"t{i + 1}"] = Tensor(f"t{i + 1}", shape, Q)
        nodes.append(node)
    return Graph(tensors, nodes, "t0", f"t{len(specs)}", source="overlap chain")


def tightest_plan(graph: Graph, precision: Precision = INT8, ex: Execution = LAYER_BY_LAYER,
                  backward=frozenset()) -> planner.Plan:
    """Each output at the safe distance below its input (or just below it when none); the
    layers in `backward` (each must have a back-to-front kernel) with their output's end at
    the safe distance above their input's end, the kernel run back to front."""
    both = planner.overlap_rules(graph, ex, precision)
    rules = {}
    elem_bytes = precision.elem_bytes
    offsets = {graph.input: 0}
    for step, (node, read) in enumerate(zip(graph.nodes, reads(graph, ex))):
        if step in ex.streamed:  # its output never exists whole
            continue
        src, dst = read[0], node.output
        rule = overlap(both[(src, dst)]) if (src, dst) in both else planner.Overlap()
        size = graph.tensors[dst].size * elem_bytes
        if step in backward:
            assert rule.above is not None, f"layer {step} ({node.op}) has no back-to-front kernel here"
            rules[(src, dst)] = planner.Overlap(above=rule.above)
            offsets[dst] = offsets[src] + graph.tensors[src].size * elem_bytes + rule.above - size
            offsets[dst] = planner.align(offsets[dst])  # (rounded up: further above, as the planner would)
            continue
        if rule.below is not None:
            rules[(src, dst)] = rule.below
        offsets[dst] = offsets[src] - (planner.align(size) if rule.below is None else rule.below)
    low = min(offsets.values())
    offsets = {k: v - low for k, v in offsets.items()}
    bufs = planner.buffers(graph, ex, precision)
    top = planner.align(max(offsets[b.name] + b.size for b in bufs if b.name in offsets))
    for b in bufs:  # kernels' scratch buffers: above everything else
        if b.name not in offsets:
            offsets[b.name], top = top, planner.align(top + b.size)
    assert planner.conflicts(bufs, offsets, rules) == []
    size = planner.align(max(offsets[b.name] + b.size for b in bufs))
    return planner.Plan(offsets, size, 0, 0, bufs, rules, "tightest", precision=precision,
                        streamed=sorted(ex.streamed), copies=sorted(ex.copies), backward=sorted(backward),
                        unpaired=sorted(ex.unpaired))


def check_chain(graph: Graph, rng, samples=3, dsp=None, ex: Execution = LAYER_BY_LAYER, backward=frozenset(),
                optimize="speed"):
    """Runs the plain kernels, or the DSP ones (portable build), at the tightest overlap
    (the layers in `backward` run back to front, their output above their input)."""
    plan = tightest_plan(graph, ex=ex, backward=backward)
    x = rng.integers(-128, 128, size=(samples, *graph.shape(graph.input)[1:]), dtype=np.int8)
    if dsp is None:
        dsp = bool(rng.integers(2))
    dump = np.frombuffer(run_c(Compiled(graph, plan, graph=graph, optimize=optimize), "ov", x, COMPILERS[0], trace=True,
                               extra_flags=EMULATE_DSP if dsp else ()), np.int8)
    want = reference.run_int8(graph, x, keep=True)
    sizes = [0 if i in ex.streamed else graph.tensors[n.output].size for i, n in enumerate(graph.nodes)]
    per_sample = sum(sizes) + sizes[-1]  # every layer's trace (a streamed one's is empty), then the output
    assert dump.size == samples * per_sample
    for s in range(samples):
        offset = s * per_sample
        for i, node in enumerate(graph.nodes):
            got = dump[offset: offset + sizes[i]]
            offset += sizes[i]
            if i in ex.streamed:
                continue
            assert np.array_equal(got, want[node.output][s].reshape(-1)), (
                f"layer {i} ({node.op}, {node.attrs.get('kernel')}, {node.attrs.get('strides')}, "
                f"{node.attrs.get('pads')}) overlapped by {plan.overlaps}")
    return plan


def reshaped(specs, shape, rng):
    """Re-derive a valid chain from `specs` starting at `shape` (growing the map as needed)."""
    out = []
    for spec in specs:
        if spec[0] in ("conv", "depthwise_conv", "avg_pool"):
            k, _, d, pads = spec[1:5]
            reach = (k - 1) * d + 1
            while shape[1] + pads[0] + pads[2] < reach or shape[2] + pads[1] + pads[3] < reach:
                grow = ("conv", 1, 1, 1, (2, 2, 2, 2), 3)
                out.append(grow)
                shape = ops.get("conv").output_shape(make_layer(grow, shape, rng), shape)
        out.append(spec)
        shape = ops.get(spec[0]).output_shape(make_layer(spec, shape, rng), shape)
    return out


def draw_specs(data, most: int) -> list:
    """2 to `most` layers for build_chain: pointwise widening/narrowing, 'same'-padded windows
    and resizes up and down."""
    specs = []
    for _ in range(data.draw(st.integers(2, most))):
        kind = data.draw(st.sampled_from(["pointwise_conv", "depthwise_conv", "conv", "avg_pool", "resize", "prelu"]))
        if kind == "prelu":
            specs.append((kind,))
        elif kind == "pointwise_conv":
            specs.append((kind, data.draw(st.integers(1, 24))))
        elif kind == "resize":
            specs.append((kind, data.draw(st.sampled_from(["nearest", "linear"])),
                          data.draw(st.sampled_from(RESIZE_COORDINATES)), data.draw(st.sampled_from(NEAREST_MODES)),
                          data.draw(st.sampled_from([0.5, 0.75, 1.0, 1.5, 2.0]))))
        else:
            k = data.draw(st.integers(1, 3))
            specs.append((kind, k, data.draw(st.integers(1, 2)), 1, (k // 2,) * 4, data.draw(st.integers(1, 8))))
    return specs
