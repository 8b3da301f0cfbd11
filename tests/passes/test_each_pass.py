"""Each pass alone, on a small graph built by hand: the graph before, the graph after.

The end-to-end tests (real ONNX models through the whole pipeline) are in test_passes.py
and test_passes_v2v3.py; these pin down what one rewrite does and what it leaves alone."""

import numpy as np

from mcugen.ir import Graph, Node, QParams, Tensor
from mcugen.passes import (
    fold_batchnorm,
    fold_bias_add,
    fold_elementwise,
    fold_pad,
    fold_qdq,
    fuse_activation,
    remove_identity,
    remove_reshape,
    specialize_pointwise,
)

WINDOW = dict(kernel=(3, 3), strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1))


def chain(shape, *layers, shapes=None) -> Graph:
    """Nodes in a line over tensors t0 -> t1 -> ...; layers are (op, attrs) pairs."""
    shapes = shapes or [shape] * (len(layers) + 1)
    tensors = {f"t{i}": Tensor(f"t{i}", tuple(s)) for i, s in enumerate(shapes)}
    nodes = [Node(f"n{i}", op, [f"t{i}"], [f"t{i + 1}"], dict(attrs), onnx_op=op) for i, (op, attrs) in enumerate(layers)]
    return Graph(tensors, nodes, "t0", f"t{len(layers)}")


def ops_of(graph):
    return [n.op for n in graph.nodes]


def conv(cout=2, cin=2, **extra):
    return ("conv", dict(WINDOW, weight=np.arange(cout * 9 * cin, dtype=float).reshape(cout, 3, 3, cin) / 50,
                         bias=np.arange(cout, dtype=float), **extra))


# ---------------------------------------------------------------------------- remove_identity


def test_identity_goes_and_its_reader_reads_the_source():
    g = chain((1, 4), ("identity", {}), ("lut", dict(steps=(("sigmoid",),))))
    remove_identity.run(g)
    assert ops_of(g) == ["lut"] and g.nodes[0].inputs == ["t0"] and g.output == "t2"


def test_identity_as_the_output_hands_the_output_over():
    g = chain((1, 4), ("lut", dict(steps=(("sigmoid",),))), ("identity", {}))
    remove_identity.run(g)
    assert ops_of(g) == ["lut"] and g.output == "t1" and "t2" not in g.tensors


# ---------------------------------------------------------------------------- fold_pad


def test_a_zero_pad_folds_into_the_conv_it_feeds():
    g = chain((1, 4, 4, 2), ("pad", dict(pads=(1, 0, 2, 3))), conv(),
              shapes=[(1, 4, 4, 2), (1, 7, 7, 2), (1, 7, 7, 2)])
    fold_pad.run(g)
    assert ops_of(g) == ["conv"] and g.nodes[0].attrs["pads"] == (2, 1, 3, 4) and g.nodes[0].inputs == ["t0"]


def test_a_pad_before_an_op_that_takes_no_pad_stays():
    g = chain((1, 4, 4, 2), ("pad", dict(pads=(1, 1, 1, 1))), ("global_avg_pool", {}),
              shapes=[(1, 4, 4, 2), (1, 6, 6, 2), (1, 1, 1, 2)])
    fold_pad.run(g)
    assert ops_of(g) == ["pad", "global_avg_pool"]


# ---------------------------------------------------------------------------- fuse_activation


def test_relu6_fuses_into_the_conv_as_its_clamp():
    g = chain((1, 4, 4, 2), conv(), ("clip", dict(low=0.0, high=6.0)))
    fuse_activation.run(g)
    assert ops_of(g) == ["conv"] and g.nodes[0].attrs["act"] == (0.0, 6.0) and g.output == "t2"


def test_two_clamps_compose_into_one():
    g = chain((1, 4, 4, 2), conv(), ("clip", dict(low=0.0, high=np.inf)), ("clip", dict(low=-1.0, high=6.0)))
    fuse_activation.run(g)
    assert ops_of(g) == ["conv"] and g.nodes[0].attrs["act"] == (0.0, 6.0)


def test_a_clamp_on_a_tensor_with_two_readers_stays():
    g = chain((1, 4, 4, 2), conv(), ("clip", dict(low=0.0, high=6.0)))
    g.nodes.append(Node("other", "lut", ["t1"], ["t3"], dict(steps=())))
    g.tensors["t3"] = Tensor("t3", (1, 4, 4, 2))
    fuse_activation.run(g)
    assert ops_of(g) == ["conv", "clip", "lut"]


def test_a_qdq_saturation_between_composes_with_the_clamp():
    g = chain((1, 4, 4, 2), conv(), ("clip", dict(low=-100.0, high=100.0)))
    g.tensors["t1"].fixed = QParams(0.1, 0)  # holds [-12.8, 12.7]
    fuse_activation.run(g)
    assert np.allclose(g.nodes[0].attrs["act"], (-12.8, 12.7))  # the pair's range, then the clamp's


# ---------------------------------------------------------------------------- fold_batchnorm


def test_batchnorm_folds_into_the_conv_per_output_channel():
    name, attrs = conv()
    g = chain((1, 4, 4, 2), (name, attrs), ("batch_norm", dict(scale=np.array([2.0, 0.5]), shift=np.array([1.0, -1.0]))))
    w, b = attrs["weight"].copy(), attrs["bias"].copy()
    fold_batchnorm.run(g)
    assert ops_of(g) == ["conv"]
    assert np.allclose(g.nodes[0].attrs["weight"][0], 2.0 * w[0]) and np.allclose(g.nodes[0].attrs["weight"][1], 0.5 * w[1])
    assert np.allclose(g.nodes[0].attrs["bias"], [2.0 * b[0] + 1.0, 0.5 * b[1] - 1.0])


def test_batchnorm_after_a_clamp_becomes_a_depthwise_layer():
    g = chain((1, 4, 4, 2), conv(act=(0.0, 6.0)), ("batch_norm", dict(scale=np.array([2.0, 3.0]), shift=np.zeros(2))))
    fold_batchnorm.run(g)
    assert ops_of(g) == ["conv", "depthwise_conv"]
    assert g.nodes[1].attrs["kernel"] == (1, 1) and np.array_equal(g.nodes[1].attrs["weight"].reshape(-1), [2.0, 3.0])


def test_folding_drops_the_model_s_own_weight_integers():
    g = chain((1, 4, 4, 2), conv(weight_scale=np.ones(2), bias_q=np.zeros(2), bias_scale=np.ones(2)),
              ("batch_norm", dict(scale=np.array([2.0, 3.0]), shift=np.zeros(2))))
    fold_batchnorm.run(g)
    assert not {"weight_scale", "bias_q", "bias_scale"} & set(g.nodes[0].attrs)


# ---------------------------------------------------------------------------- fold_bias_add


def test_a_constant_add_after_a_matmul_becomes_its_bias():
    fc = ("fully_connected", dict(weight=np.ones((3, 4)), bias=np.array([1.0, 2.0, 3.0])))
    g = chain((1, 4), fc, ("bias_add", dict(bias=np.array([10.0, 20.0, 30.0]))), shapes=[(1, 4), (1, 3), (1, 3)])
    fold_bias_add.run(g)
    assert ops_of(g) == ["fully_connected"] and np.array_equal(g.nodes[0].attrs["bias"], [11.0, 22.0, 33.0])


# ---------------------------------------------------------------------------- fold_elementwise


def test_two_tables_in_a_row_are_one():
    g = chain((1, 8), ("lut", dict(steps=(("affine", 1.0, 3.0),))), ("lut", dict(steps=(("clip", 0.0, 6.0),))))
    fold_elementwise.run(g)
    assert ops_of(g) == ["lut"] and g.nodes[0].attrs["steps"] == (("affine", 1.0, 3.0), ("clip", 0.0, 6.0))


def test_x_times_a_table_of_x_is_one_table():
    """The older exporters' HardSwish: x * (Clip(x + 3, 0, 6) / 6)."""
    g = chain((1, 8), ("lut", dict(steps=(("affine", 1.0, 3.0), ("clip", 0.0, 6.0), ("affine", 1 / 6, 0.0)))))
    g.nodes.append(Node("m", "mul", ["t0", "t1"], ["t2"], {}))
    g.tensors["t2"] = Tensor("t2", (1, 8))
    g.output = "t2"
    fold_elementwise.run(g)
    assert ops_of(g) == ["lut"] and g.nodes[0].attrs["steps"][-1] == ("mul_input",) and g.output == "t2"
    x = np.linspace(-5, 5, 11)
    from mcugen.ops import lut
    assert np.allclose(lut.evaluate(g.nodes[0].attrs["steps"], x), x * np.clip(x + 3, 0, 6) / 6)


# ---------------------------------------------------------------------------- remove_reshape


def test_a_flatten_before_a_fully_connected_node_is_free_in_nhwc():
    g = chain((1, 1, 1, 8), ("reshape", dict(perm=None)), ("fully_connected", dict(weight=np.eye(8), bias=np.zeros(8))),
              shapes=[(1, 1, 1, 8), (1, 8), (1, 8)])
    remove_reshape.run(g)
    assert ops_of(g) == ["fully_connected"] and g.nodes[0].inputs == ["t0"]


def test_a_spatial_flatten_moves_into_the_weight_columns():
    perm = np.array([0, 2, 1, 3])  # the flattened feature j is memory element perm[j]
    weight = np.arange(8, dtype=float).reshape(2, 4)
    g = chain((1, 2, 2, 1), ("reshape", dict(perm=perm)), ("fully_connected", dict(weight=weight.copy(), bias=np.zeros(2))),
              shapes=[(1, 2, 2, 1), (1, 4), (1, 2)])
    remove_reshape.run(g)
    assert ops_of(g) == ["fully_connected"]
    x = np.arange(4.0)  # memory order
    assert np.allclose(g.nodes[0].attrs["weight"] @ x, weight @ x[perm])


def test_a_reshape_that_moves_the_image_stays():
    g = chain((1, 4, 4, 2), ("reshape", dict(perm=None)), conv(cin=1),
              shapes=[(1, 4, 4, 2), (1, 4, 8, 1), (1, 4, 8, 2)])
    remove_reshape.run(g)
    assert ops_of(g) == ["reshape", "conv"]


# ---------------------------------------------------------------------------- specialize_pointwise


def test_a_1x1_conv_becomes_pointwise_with_o_by_i_weights():
    weight = np.arange(6, dtype=float).reshape(3, 1, 1, 2)
    g = chain((1, 4, 4, 2), ("conv", dict(kernel=(1, 1), strides=(1, 1), dilations=(1, 1), pads=(0, 0, 0, 0),
                                          weight=weight, bias=np.zeros(3))),
              shapes=[(1, 4, 4, 2), (1, 4, 4, 3)])
    specialize_pointwise.run(g)
    assert ops_of(g) == ["pointwise_conv"] and g.nodes[0].attrs["weight"].shape == (3, 2)
    assert "kernel" not in g.nodes[0].attrs


def test_a_padded_1x1_conv_stays_a_conv():
    g = chain((1, 4, 4, 2), ("conv", dict(kernel=(1, 1), strides=(1, 1), dilations=(1, 1), pads=(1, 1, 1, 1),
                                          weight=np.ones((3, 1, 1, 2)), bias=np.zeros(3))),
              shapes=[(1, 4, 4, 2), (1, 6, 6, 3)])
    specialize_pointwise.run(g)
    assert ops_of(g) == ["conv"]


# ---------------------------------------------------------------------------- fold_qdq


def test_a_qdq_pair_leaves_its_parameters_on_the_tensor():
    q = (0.05, 3, np.dtype(np.int8))
    g = chain((1, 4, 4, 2), conv(), ("quantize_linear", dict(q=q)), ("dequantize_linear", dict(q=q)),
              ("global_avg_pool", {}), shapes=[(1, 4, 4, 2)] * 4 + [(1, 1, 1, 2)])
    fold_qdq.run(g)
    assert ops_of(g) == ["conv", "global_avg_pool"]
    assert g.tensors[g.nodes[0].output].fixed == QParams(0.05, 3)


def test_a_qdq_pair_of_another_scale_is_left_for_the_error():
    g = chain((1, 4, 4, 2), conv(), ("quantize_linear", dict(q=(0.05, 3, np.dtype(np.int8)))),
              ("dequantize_linear", dict(q=(0.1, 3, np.dtype(np.int8)))))
    fold_qdq.run(g)
    assert ops_of(g) == ["conv", "quantize_linear", "dequantize_linear"]
