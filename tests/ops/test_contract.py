"""Every registered op provides what mcugen/ops/base.py requires, and the passes and the
planner learn about ops only from the ops themselves."""

import types

import numpy as np
import pytest

from mcugen import ops
from mcugen.ir import Graph, Node, Tensor
from mcugen.ops import base
from mcugen.passes import fold_batchnorm, fuse_activation, remove_reshape


@pytest.mark.parametrize("kind", sorted(ops.REGISTRY))
def test_every_op_provides_the_contract(kind):
    op = ops.get(kind)
    assert kind == op.KIND
    for hook in base.REQUIRED:
        assert callable(getattr(op.module, hook, None)), f"{kind} lacks {hook}"
    for hook in base.OPTIONAL:
        assert callable(getattr(op, hook))
    assert op.CHANNEL_AXIS is None or isinstance(op.CHANNEL_AXIS, int)
    for fact in ("TAKES_ACTIVATION", "TAKES_PAD"):
        assert isinstance(getattr(op, fact), bool)
    assert op.RESHAPE_READ in base.RESHAPE_READS
    assert set(op.C_KERNELS) == {"s8", "f32"}  # every op compiles in both precisions
    for suffix, kernel in {**op.C_KERNELS, **op.STREAM_C_KERNELS}.items():
        assert kernel.function.endswith("_" + suffix) and kernel.function.startswith("mcugen_")
        assert all(needed in ops.REGISTRY for needed in kernel.needs)
    if op.STREAM_KERNEL is not None:  # a streaming op states its own schedule and scratch
        for hook in ("can_stream", "stream_access", "stream_scratch", "stream_window_bytes"):
            assert hook in vars(op.module), f"{kind} streams but keeps the default {hook}"


def _module(**hooks) -> types.ModuleType:
    m = types.ModuleType("fake_op")
    m.KIND = "fake"
    for name in base.REQUIRED:
        setattr(m, name, lambda *args: None)
    m.C_KERNELS = {"s8": base.CKernel("mcugen_fake_s8")}
    for name, value in hooks.items():
        setattr(m, name, value)
    return m


def test_a_module_missing_a_required_hook_is_refused():
    m = _module()
    del m.error_bound
    with pytest.raises(TypeError, match="error_bound"):
        base.Op(m)


def test_a_module_without_c_kernels_is_refused():
    m = _module()
    del m.C_KERNELS
    with pytest.raises(TypeError, match="C_KERNELS"):
        base.Op(m)


def test_a_bad_reshape_read_is_refused():
    with pytest.raises(TypeError, match="RESHAPE_READ"):
        base.Op(_module(RESHAPE_READ="sideways"))


def test_defaults_of_the_optional_hooks_and_facts():
    def access(*args):
        return None

    op = base.Op(_module(access=access))
    assert op.scratch(None, (1, 2), (1, 2)) == 0
    assert op.copy_candidate(None, (1, 2), (1, 2)) == 0 and op.copy_fields(None) == {}
    assert op.can_stream(None, None, (1, 2)) is False
    assert op.float_access is access  # the float kernel walks memory as the int8 one
    assert (op.CHANNEL_AXIS, op.TAKES_ACTIVATION, op.TAKES_PAD, op.RESHAPE_READ) == (None, False, False, None)
    node = Node("n", "fake", ["x"], ["y"], {"weight": np.ones(2), "bias": np.zeros(2), "act": (0, 1)})
    assert [name for name, _ in op.float_arrays(node)] == ["weight", "bias"]
    with pytest.raises(AttributeError):
        op.no_such_hook  # noqa: B018


def _chain(op_kind, attrs, then):
    tensors = {n: Tensor(n, (1, 4, 4, 2)) for n in ("x", "y", "z")}
    nodes = [Node("a", op_kind, ["x"], ["y"], attrs), Node("b", then[0], ["y"], ["z"], then[1])]
    return Graph(tensors, nodes, "x", "z")


WINDOW = dict(kernel=(3, 3), strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1))


def test_fuse_activation_asks_the_op(monkeypatch):
    clip = ("clip", dict(low=0.0, high=6.0))
    graph = _chain("max_pool", dict(WINDOW), clip)
    fuse_activation.run(graph)
    assert [n.op for n in graph.nodes] == ["max_pool"] and graph.nodes[0].attrs["act"] == (0.0, 6.0)
    monkeypatch.setattr(ops.max_pool, "TAKES_ACTIVATION", False)
    graph = _chain("max_pool", dict(WINDOW), clip)
    fuse_activation.run(graph)
    assert [n.op for n in graph.nodes] == ["max_pool", "clip"]  # left for normalize() to report


def test_fold_batchnorm_uses_the_op_s_channel_axis(monkeypatch):
    weight = np.ones((3, 3, 2))
    bn = ("batch_norm", dict(scale=np.array([2.0, 3.0]), shift=np.array([1.0, -1.0])))
    graph = _chain("depthwise_conv", dict(WINDOW, weight=weight, bias=np.zeros(2)), bn)
    fold_batchnorm.run(graph)
    assert [n.op for n in graph.nodes] == ["depthwise_conv"]
    assert np.array_equal(graph.nodes[0].attrs["weight"][0, 0], [2.0, 3.0])  # scaled along axis 2
    assert np.array_equal(graph.nodes[0].attrs["bias"], [1.0, -1.0])
    monkeypatch.setattr(ops.depthwise_conv, "CHANNEL_AXIS", None)
    graph = _chain("depthwise_conv", dict(WINDOW, weight=weight, bias=np.zeros(2)), bn)
    fold_batchnorm.run(graph)
    assert [n.op for n in graph.nodes] == ["depthwise_conv", "depthwise_conv"]  # the BN became its own layer


@pytest.mark.parametrize("read,before,after,free", [
    ("image", (1, 4, 4, 2), (1, 4, 8, 1), False), ("image", (1, 1, 1, 8), (1, 8), True),
    ("last_axis", (1, 4, 4, 2), (1, 16, 2), True), ("last_axis", (1, 4, 4, 2), (1, 8, 4), False),
    ("flat", (1, 4, 4, 2), (1, 32), True), (None, (1, 4, 4, 2), (1, 32), False),
])
def test_remove_reshape_reads_the_op_s_reshape_read(monkeypatch, read, before, after, free):
    monkeypatch.setattr(ops.softmax, "RESHAPE_READ", read)
    assert remove_reshape.reads_alike("softmax", before, after) is free


def test_the_template_op_satisfies_the_contract_and_computes_what_it_says():
    from mcugen.ir import QParams
    from mcugen.ops import _template

    op = base.Op(_template)
    assert _template.KIND not in ops.REGISTRY  # a template, not a registered op
    node = Node("n", op.KIND, ["x"], ["y"], {"act": (-1.0, 2.0)})
    q = QParams(0.05, 3)
    node.params = op.quantize(node, q, op.output_qparams(node, q, q))
    x = np.arange(-128, 128, dtype=np.int8).reshape(1, 256)
    real = q.scale * (op.run_int8(node, x).astype(np.float64) - q.zero_point)
    want = op.run_float(node, q.scale * (x.astype(np.float64) - q.zero_point))
    assert np.max(np.abs(real - want)) <= op.error_bound(None, node, 0.0) + 1e-12  # exact
