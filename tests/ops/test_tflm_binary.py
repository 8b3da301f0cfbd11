"""ADD and MUL of two int8 tensors: mcugen's reference and C kernels give TFLite Micro's
bytes (tests/helpers/tflm.py), on random quantization parameters and inputs."""

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import tflite_builder as tb  # noqa: E402
from helpers import tflm  # noqa: E402

from mcugen.ir import Node  # noqa: E402

PARAMETER_SETS = 8
ACTS = list(tb.ACTIVATIONS)


@pytest.mark.parametrize("op, kind", [(tb.tfl.BuiltinOperator.ADD, "add"), (tb.tfl.BuiltinOperator.MUL, "mul")])
def test_binary_is_tflms(op, kind):
    """Residual Add (both inputs to twice the larger scale, 20 bits of headroom) and Mul,
    of equal shapes or, for Mul, by one value per channel (squeeze-and-excitation)."""
    rng = np.random.default_rng(20240521 + op)
    found = tflm.comparison(kind)
    for i in range(PARAMETER_SETS):
        shape = (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), int(rng.integers(1, 9)))
        b_shape = (1, 1, 1, shape[3]) if kind == "mul" and i % 2 else shape
        qa, qb = tflm.draw_q(rng), tflm.draw_q(rng)
        if kind == "add":
            qout = tflm.draw_q(rng, max(qa.scale, qb.scale) / 2, 4 * max(qa.scale, qb.scale))
        else:
            qout = tflm.draw_q(rng, qa.scale * qb.scale * 8, qa.scale * qb.scale * 512)
        act = ACTS[int(rng.integers(len(ACTS)))]
        a, b = tflm.samples(rng, shape), tflm.samples(rng, b_shape)
        want = tb.run(tb.binary(op, shape, b_shape, *map(tflm.pair, (qa, qb, qout)), act), a, b)
        node = Node(kind, kind, [], [], {} if act is None else {"act": act})
        found.add(tflm.quantized(node, [shape, b_shape], [qa, qb], qout), [a, b], want)
    found.check_c()
