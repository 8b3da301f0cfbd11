"""PRELU (one alpha per channel, any alpha zero point): mcugen's int8 gives TFLite Micro's
bytes, op by op (the reference and the C kernel, tests/helpers/tflm.py) and through the
.tflite import of a one-op model (verify's tflm_identical on 100 random inputs)."""

import numpy as np
import pytest

pytest.importorskip("tflite_micro")

from helpers import COMPILERS, tflm  # noqa: E402
from helpers import tflite_builder as tb  # noqa: E402

from mcugen import pipeline  # noqa: E402
from mcugen.ir import Node  # noqa: E402
from mcugen.verify import verify  # noqa: E402

PARAMETER_SETS = 24
MODEL_SETS = 6
ALPHA_SHAPES = {4: lambda c: [(c,), (1, 1, c), (1, 1, 1, c), (1,)], 2: lambda c: [(c,), (1, c), (1,)]}


def _case(rng):
    """(input shape, alpha shape, int8 alphas, alpha (scale, zero point), qin, qout)."""
    c = int(rng.integers(1, 9))
    shape = (1, int(rng.integers(1, 6)), int(rng.integers(1, 6)), c) if rng.random() < 0.75 else (1, c)
    alpha_shape = ALPHA_SHAPES[len(shape)](c)[int(rng.integers(0, len(ALPHA_SHAPES[len(shape)](c))))]
    alpha_q = rng.integers(-128, 128, alpha_shape).astype(np.int8)
    alpha = (float(np.float32(np.exp(rng.uniform(np.log(1e-3), np.log(0.05))))), int(rng.integers(-128, 128)))
    qin = tflm.draw_q(rng, 1e-3, 0.5)
    return shape, alpha_shape, alpha_q, alpha, qin, tflm.centered(rng, qin, 0.3, 3.0)


def _model(shape, alpha_shape, alpha_q, alpha, qin, qout) -> bytes:
    return tb.model(tb.tfl.BuiltinOperator.PRELU,
                    [tb.Spec(shape, *tflm.pair(qin)), tb.Spec(alpha_shape, *alpha, data=alpha_q)],
                    tb.Spec(shape, *tflm.pair(qout)))


def test_prelu_is_tflms():
    rng = np.random.default_rng(20240601)
    found = tflm.comparison("prelu")
    for _ in range(PARAMETER_SETS):
        shape, alpha_shape, alpha_q, (s_a, zp_a), qin, qout = _case(rng)
        x = tflm.samples(rng, shape)
        want = tb.run(_model(shape, alpha_shape, alpha_q, (s_a, zp_a), qin, qout), x)
        per_channel = np.broadcast_to(alpha_q.reshape(-1), (shape[-1],)).astype(np.int64)
        node = Node("prelu", "prelu", [], [], dict(slope=s_a * (per_channel - zp_a), slope_q=per_channel,
                                                   slope_scale=s_a, slope_zero_point=zp_a))
        found.add(tflm.quantized(node, [shape], [qin], qout), [x], want)
    found.check_c()


@pytest.mark.skipif(not COMPILERS, reason="no C compiler")
@pytest.mark.parametrize("seed", range(MODEL_SETS))
def test_prelu_tflite_model_gives_tflm_bytes(seed, tmp_path):
    """A one-op PRELU .tflite read by mcugen, compiled to C: bit-exact with the reference and
    byte-identical to TFLite Micro on 100 random inputs."""
    rng = np.random.default_rng(7000 + seed)
    path = tmp_path / "prelu.tflite"
    path.write_bytes(_model(*_case(rng)))
    compiled = pipeline.build(path)
    assert [node.op for node in compiled.graph.nodes] == ["prelu"]
    result = verify(str(path), compiled, "t", samples=100, cc=COMPILERS[0], weights_bytes=0, macs=0)
    assert result.bit_exact, result.first_bad_layer
    assert (result.tflm_samples, result.tflm_identical) == (100, 1.0), result.notes
