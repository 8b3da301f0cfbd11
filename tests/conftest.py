"""tests/ on sys.path, for the shared helpers package (tests/helpers/); and the slow lane:
everything in tests/e2e/ (whole example models end to end, the CLI, the fuzzer, the
conformance suite) and tests/target/ (the emulated Cortex-M cores) is marked slow, so
`pytest -m "not slow"` is the fast lane for the edit-test loop."""

import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

SLOW_FOLDERS = ("e2e", "target")


def pytest_collection_modifyitems(items):
    for item in items:
        if Path(item.fspath).resolve().parent.name in SLOW_FOLDERS:
            item.add_marker(pytest.mark.slow)
