"""Random float weights and BatchNormalization nodes for hand-built ONNX models."""

import numpy as np
import onnxruntime as ort
from onnx import helper

from helpers import COMPILERS, init, save
from mcugen import layout, pipeline, reference
from mcugen.verify import verify

RNG = np.random.default_rng(0)


def rand(*shape, scale=0.5):
    return RNG.normal(0, scale, size=shape).astype(np.float32)


def bn(name, x, y, c):
    inits = [init(f"{name}_g", RNG.uniform(0.5, 1.5, c)), init(f"{name}_b", rand(c)),
             init(f"{name}_m", rand(c)), init(f"{name}_v", RNG.uniform(0.5, 2.0, c))]
    node = helper.make_node("BatchNormalization", [x, f"{name}_g", f"{name}_b", f"{name}_m", f"{name}_v"], [y],
                            name=name, epsilon=1e-3)
    return node, inits


def check_matches_onnxruntime(case, tmp_path, atol=1e-5):
    """The normalized float graph (case() gives the model and its expected kernels) against
    onnxruntime running the ONNX model."""
    m, expected_ops = case()
    path = save(m, tmp_path)
    graph, _ = pipeline.front(path)
    assert [n.op for n in graph.nodes] == expected_ops
    x = RNG.uniform(-2, 2, size=[4] + [d.dim_value for d in m.graph.input[0].type.tensor_type.shape.dim][1:])
    x = x.astype(np.float32)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    want = np.concatenate([session.run(None, {"input": x[i:i + 1].astype(np.float32)})[0] for i in range(4)])
    got = layout.to_onnx(reference.run_float(graph, layout.input_to_ir(x, graph)))
    np.testing.assert_allclose(got.reshape(want.shape), want, rtol=1e-4, atol=atol)
    assert got.size == want.size


def check_int8_bit_exact(case, tmp_path):
    """The model compiled to int8 C: bit-exact with the reference on 6 samples."""
    path = save(case()[0], tmp_path)
    compiled = pipeline.build(path)
    result = verify(str(path), compiled, "t", samples=6, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer
    assert result.cosine > 0.9  # small models quantize well; a wiring error would not
