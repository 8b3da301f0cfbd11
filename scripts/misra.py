"""MISRA C:2012 check of the generated C with cppcheck's misra addon (docs/misra.md).

    python scripts/misra.py [--jobs N] [--keep DIR] [--json]

Generates the C of a few examples that together use every kernel the examples use, runs
`cppcheck --addon=misra` on each model's NAME.c (which includes NAME.h) and on one
NAME_weights.c per precision, in each configuration the C is built in (CONFIGS), and maps
every finding back to where it comes from: a file of the kernel library (its own line
number) or the templates. Then it compares the Required and Mandatory findings with the
deviation records in docs/misra.md, and the Advisory rules with the table of those left.

Exit status 0 when every finding is documented and every documented count is exact, 1
otherwise (the differences are printed). tests/e2e/test_misra.py runs it.

cppcheck 2.10's addon knows no rule categories without MISRA's own rule texts (it reports
"Undefined"), so CATEGORY below holds them, from MISRA C:2012's Appendix A (with
Amendments 1 and 2).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import pipeline  # noqa: E402
from mcugen.backend import codegen  # noqa: E402

DOC = ROOT / "docs" / "misra.md"
EXAMPLES = ROOT / "examples"

# (C name, example, build options): together they use every kernel the examples use.
# dig (digits v1, the same layers as VWW, smaller): conv, depthwise (every path: a kernel's
# file is included whole), pointwise (speed layout),
# the streamed pointwise+depthwise pair, avg_pool, fully_connected, softmax; v3: add, mul,
# lut (hardswish, sigmoid), global_avg_pool (squeeze-excite); digs: the size layout of
# the pointwise weights; digf: every float32 kernel the examples use; digr: --row-input's
# row pipeline and the stages' row functions.
MODELS = [
    ("dig", "digits_mobilenet_v1.onnx", {}),
    ("v3", "mobilenet_v3_small_075_96.onnx", {}),
    ("digs", "digits_mobilenet_v1.onnx", {"optimize": "size"}),
    ("digf", "digits_mobilenet_v1.onnx", {"precision": "float32"}),
    ("digr", "digits_mobilenet_v1.onnx", {"row_input": True}),  # --row-input: the row pipeline
]
# The weights files are pure data (and slow to analyse when large): digits' stand for the
# template, one per precision.
WEIGHTS = ("digs", "digf")

# The configurations the C is built in: any C99 compiler with no target macros (the plain
# kernels), a DSP core under gcc (M4, M7, M33: SXTB16/SMLAD, SSAT) and ARMv6-M under gcc
# (M0/M0+, no long multiply), with the macros arm-none-eabi-gcc defines for them. The host
# test configurations (MCUGEN_EMULATE_DSP, MCUGEN_NO_LONG_MULTIPLY on x86,
# MCUGEN_EXTERN_KERNELS, NAME_TRACE) are not checked.
C99 = ["-D__STDC_VERSION__=199901L"]
CONFIGS = {
    "plain": C99,
    "dsp": C99 + ["-D__GNUC__=12", "-D__ARM_FEATURE_DSP=1", "-D__ARM_FEATURE_SIMD32=1", "-D__ARM_FEATURE_SAT=1"],
    "armv6m": C99 + ["-D__GNUC__=12", "-D__ARM_ARCH_6M__=1"],
}

CATEGORY = {}
for _rules, _category in (
    ("1.1 1.3 1.4 2.1 2.2 3.1 3.2 4.1 5.1 5.2 5.3 5.4 5.5 5.6 5.7 5.8 6.1 6.2 7.1 7.2 7.3 7.4 8.1 8.2 8.3 8.4 "
     "8.5 8.6 8.8 8.10 8.12 8.14 9.2 9.3 9.4 9.5 10.1 10.2 10.3 10.4 10.6 10.7 10.8 11.1 11.2 11.3 11.6 11.7 "
     "11.8 11.9 12.2 13.1 13.2 13.5 14.1 14.2 14.3 14.4 15.2 15.3 15.6 15.7 16.1 16.2 16.3 16.4 16.5 16.6 "
     "16.7 17.1 17.2 17.7 18.1 18.2 18.3 18.6 18.7 18.8 20.2 20.3 20.4 20.6 20.7 20.8 20.9 20.11 20.12 "
     "20.13 20.14 21.1 21.2 21.3 21.4 21.5 21.6 21.7 21.8 21.9 21.10 21.11 21.14 21.15 21.16 21.21 22.1 "
     "22.3 22.7 22.8 22.9 22.10", "Required"),
    ("9.1 12.5 13.6 17.3 17.4 17.6 19.1 21.13 21.17 21.18 21.19 21.20 22.2 22.4 22.5 22.6", "Mandatory"),
    ("1.2 2.3 2.4 2.5 2.6 2.7 4.2 5.9 8.7 8.9 8.11 8.13 10.5 11.4 11.5 12.1 12.3 12.4 13.3 13.4 15.1 15.4 "
     "15.5 17.5 17.8 18.4 18.5 19.2 20.1 20.5 20.10 21.12", "Advisory"),
):
    CATEGORY.update(dict.fromkeys(_rules.split(), _category))

MARKER = re.compile(r"^/\* ---- mcugen/backend/kernels/(\S+) ---- \*/$")
END_OF_LIBRARY = "/* ---- constants"


def generate(folder: Path) -> dict[str, Path]:
    """Each model's C in folder/<name>/: {name: folder}."""
    out = {}
    for name, example, options in MODELS:
        compiled = pipeline.build(EXAMPLES / example, **options)
        sub = folder / name
        sub.mkdir(parents=True, exist_ok=True)
        files = codegen.generate(compiled.graph, compiled.plan, name, example,
                                 optimize=options.get("optimize", "speed"))
        for fname, text in files.items():
            (sub / fname).write_text(text)
        out[name] = sub
    return out


def cppcheck(folder: Path, fname: str, defines: list[str]) -> list[tuple[int, str]]:
    """[(line, rule)] of one file in one configuration."""
    proc = subprocess.run(["cppcheck", "--addon=misra", "--std=c99", "--quiet", "--suppress=missingIncludeSystem",
                           "-I", ".", *defines, "--template={file}:{line}:{id}", fname],
                          cwd=folder, capture_output=True, text=True)
    found = []
    for line in proc.stderr.splitlines():
        m = re.fullmatch(r"(.+):(\d+):misra-c2012-(\d+\.\d+)", line.strip())
        if m:
            found.append((m[1], int(m[2]), m[3]))
        elif line.strip():
            raise RuntimeError(f"cppcheck: {line}")
    return found


def library_lines(name: str) -> list[int]:
    """The library file's line numbers, in the order codegen pastes its lines into NAME.c."""
    text = (codegen.kernels_dir() / name).read_text()
    kept = [i + 1 for i, line in enumerate(text.splitlines()) if not codegen.LIBRARY_INCLUDE.match(line + "\n")]
    lines = text.splitlines()
    while kept and not lines[kept[0] - 1]:  # codegen strips the leading blank lines
        kept.pop(0)
    return kept


def origin(path: Path, line: int, model: str) -> tuple[str, str]:
    """(file, place): a kernel library file and its line number, or a template and the
    generated line's text with the model's name made NAME (templates have no fixed lines)."""
    lines = path.read_text().splitlines()
    text = lines[line - 1].strip()
    if path.suffix == ".c" and not path.name.endswith("_weights.c"):
        for i in range(line - 1, -1, -1):
            if lines[i].startswith(END_OF_LIBRARY):
                break
            m = MARKER.match(lines[i])
            if m:
                return m[1], str(library_lines(m[1])[line - i - 2])
    template = {".h": "model.h.j2"}.get(path.suffix, "weights.c.j2" if path.name.endswith("_weights.c")
                                        else "model.c.j2")
    text = re.sub(rf"\b{model}(?=_)", "NAME", re.sub(rf"\b{model.upper()}(?=_)", "NAME", text))
    return f"templates/{template}", text


def check(folder: Path, jobs: int = 2) -> dict[tuple[str, str, str], set[str]]:
    """{(rule, file, place): configurations}: every finding, mapped to its origin."""
    models = generate(folder)
    runs = [(name, f"{name}.c", config) for name in models for config in CONFIGS]
    runs += [(name, f"{name}_weights.c", "weights") for name in WEIGHTS]
    # The addon reads the dump cppcheck writes beside the file: one copy per run.
    for name, _, config in runs:
        shutil.copytree(models[name], folder / config / name, dirs_exist_ok=True)
    with ThreadPoolExecutor(jobs) as pool:
        results = pool.map(lambda run: (run, cppcheck(folder / run[2] / run[0], run[1],
                                                      CONFIGS.get(run[2], C99))), runs)
    findings: dict[tuple[str, str, str], set[str]] = {}
    for (name, _, config), found in results:
        for fname, line, rule in found:
            file, place = origin(models[name] / fname, line, name)
            findings.setdefault((rule, file, place), set()).add(config)
    return findings


def documented() -> tuple[Counter, set[str]]:
    """docs/misra.md: the deviation records' counts, {(rule, file): findings}, and the
    Advisory rules left."""
    counts, advisory = Counter(), set()
    for line in DOC.read_text().splitlines():
        m = re.match(r"\| (D\d+) \| (\d+\.\d+) \| `([^`]+)` \| (\d+) \|", line)
        if m:
            counts[(m[2], m[3])] += int(m[4])
        m = re.match(r"\| (\d+\.\d+) \| Advisory \|", line)
        if m:
            advisory.add(m[1])
    return counts, advisory


def compare(findings) -> list[str]:
    """What differs from docs/misra.md: undocumented findings, wrong counts, unknown rules."""
    counts, advisory = documented()
    found = Counter((rule, file) for rule, file, _ in findings if CATEGORY.get(rule) != "Advisory")
    problems = []
    for rule, file, place in sorted(findings):
        if rule not in CATEGORY:
            problems.append(f"rule {rule} has no category here: add it to CATEGORY ({file}:{place})")
        elif CATEGORY[rule] == "Advisory" and rule not in advisory:
            problems.append(f"Advisory rule {rule} is not in docs/misra.md's table ({file}:{place})")
        elif CATEGORY[rule] != "Advisory" and (rule, file) not in counts:
            problems.append(f"{CATEGORY[rule]} rule {rule}, no deviation record: {file}:{place} "
                            f"({', '.join(sorted(findings[(rule, file, place)]))})")
    for key in sorted(set(found) | set(counts)):
        if key in counts and found[key] != counts[key]:
            problems.append(f"rule {key[0]} in {key[1]}: {found[key]} findings, docs/misra.md records {counts[key]}")
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--keep", type=Path, help="generate into this folder and keep it")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        findings = check(args.keep or Path(tmp), args.jobs)
    problems = compare(findings)
    if args.json:
        rows = [dict(rule=r, category=CATEGORY.get(r, "?"), file=f, place=p, configs=sorted(c))
                for (r, f, p), c in sorted(findings.items())]
        print(json.dumps(dict(findings=rows, problems=problems), indent=1))
    else:
        by_rule = Counter((CATEGORY.get(r, "?"), r, f) for r, f, _ in findings)
        for (category, rule, file), n in sorted(by_rule.items()):
            print(f"{category:9} {rule:6} {file:40} {n}")
        print("\n".join(problems) or "every finding is documented in docs/misra.md")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
