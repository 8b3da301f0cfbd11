"""MISRA C:2012 (docs/misra.md): cppcheck's misra addon on the generated C of examples that
together use every kernel the examples use, in the configurations the C is built in
(scripts/misra.py). Every Required or Mandatory finding must be one of docs/misra.md's
deviation records, counted exactly, and every Advisory rule found must be in its table."""

import shutil
import subprocess
import sys

import pytest
from helpers import ROOT

sys.path.insert(0, str(ROOT / "scripts"))
import misra  # noqa: E402

needs_cppcheck = pytest.mark.skipif(not shutil.which("cppcheck"), reason="cppcheck is not installed")


@needs_cppcheck
def test_every_misra_finding_is_a_documented_deviation(tmp_path):
    findings = misra.check(tmp_path)
    assert findings, "cppcheck's misra addon reported nothing: is the addon installed?"
    assert misra.compare(findings) == []


def test_categories_cover_every_rule_the_doc_names():
    counts, advisory = misra.documented()
    assert counts and advisory
    assert all(misra.CATEGORY.get(rule) in ("Required", "Mandatory") for rule, _ in counts)
    assert all(misra.CATEGORY.get(rule) == "Advisory" for rule in advisory)


@needs_cppcheck
def test_a_new_violation_is_reported(tmp_path):
    """A Required-rule violation added to a kernel (an int used as a condition, rule 14.4)
    fails the comparison, named by its kernel file and line."""
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "m.c").write_text(
        "#include <stdint.h>\n"
        "/* ---- mcugen/backend/kernels/mcugen_add_s8.c ---- */\n"
        "int32_t mcugen_probe(int32_t x);\n"
        "int32_t mcugen_probe(int32_t x)\n"
        "{\n"
        "    int32_t y = 0;\n"
        "    if (x) {\n"
        "        y = 1;\n"
        "    }\n"
        "    return y;\n"
        "}\n"
        "/* ---- constants */\n")
    found = misra.cppcheck(folder, "m.c", misra.CONFIGS["plain"])
    assert ("m.c", 7, "14.4") in found
    place = misra.origin(folder / "m.c", 7, "m")
    assert place[0] == "mcugen_add_s8.c"
    # (compared alone, the documented findings are missing too: those problems are not this test's)
    problems = [p for p in misra.compare({("14.4", *place): {"plain"}}) if "no deviation record" in p]
    assert problems == [f"Required rule 14.4, no deviation record: mcugen_add_s8.c:{place[1]} (plain)"]


def test_script_runs_as_documented():
    """docs/misra.md tells users to run the script; its --help must work without cppcheck."""
    proc = subprocess.run([sys.executable, str(ROOT / "scripts/misra.py"), "--help"], capture_output=True, text=True)
    assert proc.returncode == 0 and "misra" in proc.stdout.lower()
