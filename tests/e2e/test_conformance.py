"""ONNX's own backend test data (every case the installed wheel has; scripts/conformance.py):
the cases mcugen supports pass in float32 (rtol 1e-4, atol 1e-5) and int8 (within the
bound derived from the quantization scales); every other case is refused with one line,
never a crash; none fails. The whole set runs here (about a minute), and the README's
table must be what it produces."""

import sys

import onnx
import onnx.numpy_helper
import pytest
from helpers import COMPILERS, ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import conformance  # noqa: E402


@pytest.fixture(scope="module")
def outcomes():
    if not COMPILERS:
        pytest.skip("no C compiler")
    return conformance.run_all(conformance.load_cases(), COMPILERS[0])


def test_no_case_fails(outcomes):
    failed = [f"{o.kind}/{o.name}: {o.detail}" for o in outcomes if o.status == "failed"]
    assert not failed, failed


def test_supported_cases_pass_in_both_precisions(outcomes):
    passed = [o for o in outcomes if o.status == "passed"]
    assert len(passed) >= 20  # pooling, global pooling, softmax: node and pytorch-converted cases
    assert all(o.float32_error <= 1 and o.int8_error <= 1 and o.int8_bound > 0 for o in passed)
    assert {"node", "pytorch-converted"} <= {o.kind for o in passed}
    # Conv node cases pass their weights as graph inputs: made constants, they run.
    assert any(o.frozen == ["W"] and "Conv" in o.ops for o in passed)


def test_frozen_inputs_become_initializers_with_the_cases_values():
    case = next(c for c in conformance.load_cases(("node",)) if c.name == "test_basic_conv_with_padding")
    sets = case.data()
    model, data, frozen = conformance.freeze_inputs(case.model, sets)
    assert frozen == ["W"] and [v.name for v in model.graph.input] == ["x"]
    (w,) = [t for t in model.graph.initializer if t.name == "W"]
    assert (onnx.numpy_helper.to_array(w) == sets[0][0][1]).all()
    assert [len(inputs) for inputs, _ in data()] == [1] * len(sets)
    assert len(case.model.graph.input) == 2  # the case itself is unchanged


def test_every_other_case_is_refused_with_one_line(outcomes):
    refused = [o for o in outcomes if o.status in ("refused", "several")]
    assert len(refused) > 1500
    assert all(o.detail and "\n" not in o.detail for o in refused)  # run_case saw exactly one error line
    several = [o for o in refused if o.status == "several"]
    assert several and all("supports exactly one" in o.detail for o in several)
    # An op mcugen has no importer for is named, with the list of supported ones.
    assert any("is not supported; supported: Add," in o.detail for o in refused)


def test_every_source_in_the_wheel_is_tried(outcomes):
    assert {o.kind for o in outcomes} == set(conformance.KINDS)


def test_conformance_table_is_current(outcomes):
    text = (ROOT / "docs" / "conformance.md").read_text()
    block = text[text.index(conformance.README_START): text.index(conformance.README_END) + len(conformance.README_END)]
    if f"onnx {onnx.__version__}:" not in block:
        pytest.skip(f"the conformance table (docs/conformance.md) is for another onnx version than {onnx.__version__}")
    assert block == conformance.readme_block(outcomes), "run: python scripts/conformance.py --readme"
