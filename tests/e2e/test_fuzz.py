"""A seeded subset of scripts/fuzz.py: mutated and corrupted models never crash mcugen,
hang it, or make it write outside -o; those that compile also verify bit-exact."""

import json
import subprocess
import sys

from helpers import ROOT


def test_fuzz_subset_has_no_bad_outcome():
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/fuzz.py"), "--cases", "300", "--seed", "7",
                           "--jobs", "2", "--timeout", "120", "--json"], capture_output=True, text=True)
    result = json.loads(proc.stdout)
    outcomes = result["outcomes"]
    assert proc.returncode == 0, result["bad_examples"]
    assert sum(outcomes.values()) == 300
    for bad in ("crash", "mismatch", "wrote", "hang"):
        assert outcomes.get(bad, 0) == 0, result["bad_examples"]
    # The mutations must exercise both sides: refusals, and models that still compile.
    assert outcomes.get("refused", 0) > 100 and outcomes.get("verified", 0) > 10
