"""Cortex-M targets: verify bit-exact on the emulated core, bench figures, counting, errors.

The cross builds need arm-none-eabi-gcc or the ziglang package, and the emulator the
unicorn, pyelftools and capstone packages (all in the test extra); these tests skip only
when they are absent. The QEMU cross-check and the firmware example need qemu-system-arm
and arm-none-eabi-gcc (.ci/run installs both).
"""

import importlib.util
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from helpers import (
    DIGITS,
    EXAMPLES,
    HAVE_CROSS,
    HAVE_EMULATOR,
    ROOT,
    VWW,
    init,
    lcg_input,
    model,
    needs_gcc_and_qemu,
    needs_target,
    save,
)
from onnx import helper

from mcugen import cli, pipeline, reference
from mcugen.target import cycles, targets
from mcugen.verify import HostRunner, TargetRunner, make_inputs

DIGITS_CALIB = EXAMPLES / "digits_calib.npz"
VWW_CALIB = EXAMPLES / "vww_calib.npz"
CORES = list(targets.TARGETS)
VWW_CORES = ["cortex-m0plus", "cortex-m4", "cortex-m7"]  # the M33 is checked on digits only, to keep the suite short


def mcugen(*args, timeout=600):
    proc = subprocess.run([sys.executable, "-m", "mcugen", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)
    return proc.returncode, proc.stdout, proc.stderr


# ---------------------------------------------------------------------------- verify on the target


@needs_target
@pytest.mark.parametrize("core", CORES)
def test_verify_digits_bit_exact_on_each_core(core):
    code, out, err = mcugen("verify", DIGITS, "--calib", DIGITS_CALIB, "--target", core, "--samples", "8", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["bit_exact"] and data["mismatches"] == 0 and data["samples"] == 8
    assert data["target"]["name"] == core and data["target"]["emulator"].startswith("unicorn")
    assert "-O3" in data["compiler"] and "-mfloat-abi=soft" in data["compiler"]
    assert data["cosine"] > 0.99  # the same accuracy figures as on the host


@needs_target
@pytest.mark.slow
@pytest.mark.parametrize("core", VWW_CORES)
def test_verify_vww_bit_exact_on_each_core(core):
    code, out, err = mcugen("verify", VWW, "--calib", VWW_CALIB, "--target", core, "--samples", "2", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert data["bit_exact"] and data["samples"] == 2 and data["target"]["name"] == core


@needs_target
def test_verify_text_names_the_core_and_emulator():
    code, out, err = mcugen("verify", DIGITS, "--calib", DIGITS_CALIB, "--target", "cortex-m4", "--samples", "2")
    assert code == 0, err
    assert out.startswith("BIT-EXACT") and "on cortex-m4 in unicorn" in out


@needs_target
def test_target_trace_dumps_every_layer_like_the_host():
    """The first-bad-layer search runs a trace build; on the target it must dump the same bytes."""
    compiled = pipeline.build(DIGITS, DIGITS_CALIB)
    x, _ = make_inputs(compiled, 1)
    target = TargetRunner(targets.TARGETS["cortex-m4"], targets.find_cross()).run(compiled, "d", x, trace=True)
    host = HostRunner(shutil.which("cc") or "gcc").run(compiled, "d", x, trace=True)
    assert target == host
    g = compiled.graph
    assert compiled.plan.streamed  # a streamed layer is traced as empty
    assert len(target) == sum(g.tensors[n.output].size for i, n in enumerate(g.nodes)
                              if i not in compiled.plan.streamed) + g.tensors[g.output].size


# ---------------------------------------------------------------------------- bench


@pytest.fixture(scope="module")
def digits_bench():
    if not (HAVE_EMULATOR and HAVE_CROSS):
        pytest.skip("needs a cross compiler and the emulator packages")
    code, out, err = mcugen("bench", DIGITS, "--calib", DIGITS_CALIB, "--target", "cortex-m0plus", "--json")
    assert code == 0, err
    return json.loads(out)


def test_bench_json_has_the_documented_keys(digits_bench):
    for key in ("model", "target", "compiler", "emulator", "cost_model", "sample", "output_bit_exact", "macs",
                "instructions", "instructions_per_mac", "cycles", "cycles_per_mac", "layers", "flash", "ram"):
        assert key in digits_bench, key
    for key in ("index", "op", "macs", "instructions", "instructions_per_mac", "cycles"):
        assert key in digits_bench["layers"][0], key
    for key in ("text", "rodata", "data", "total", "model_only"):
        assert key in digits_bench["flash"], key
    for key in ("data", "bss", "stack", "total", "stack_chain", "stack_measured"):
        assert key in digits_bench["ram"], key


def test_bench_figures_add_up(digits_bench):
    b = digits_bench
    layers = b["layers"]
    assert b["output_bit_exact"]
    assert sum(layer["instructions"] for layer in layers) == b["instructions"]
    assert sum(layer["cycles"] for layer in layers) == b["cycles"]
    assert sum(layer["macs"] for layer in layers) == b["macs"] == 234_624
    assert b["instructions"] > b["macs"]  # plain C on M0+: several instructions per MAC
    for i, layer in enumerate(layers):
        if layer["streamed"]:  # its work is counted in the next layer, ratio over both layers' MACs
            assert layer["instructions_per_mac"] is None and layer["instructions"] < 100
            assert layers[i + 1]["instructions"] > layer["macs"] + layers[i + 1]["macs"]
        elif layer["macs"] >= 1000:  # every real layer: more instructions than MACs, some cycles
            assert layer["instructions"] > layer["macs"] and layer["cycles"] >= layer["instructions"]
    assert any(layer["streamed"] for layer in layers)
    f, r = b["flash"], b["ram"]
    assert f["total"] == f["text"] + f["rodata"] + f["data"] and f["model_only"] <= f["total"]
    assert f["rodata"] >= 8_304  # the model's constants (mcugen report: 8,304 B) live in flash
    assert r["total"] == r["data"] + r["bss"] + r["stack"] and r["bss"] >= 3_008  # the arena, streamed
    # The static stack (the .su files along the deepest call chain) bounds what really ran.
    assert r["stack_chain"][:2] == ["Reset_Handler", "main"] and r["stack"] >= r["stack_measured"] > 0


@needs_target
def test_bench_text_has_a_row_per_layer_and_totals():
    code, out, err = mcugen("bench", DIGITS, "--calib", DIGITS_CALIB, "--target", "cortex-m4")
    assert code == 0, err
    assert "total" in out and "flash" in out and "RAM" in out and "instr/MAC" in out
    rows = [line.split()[1] for line in out.splitlines() if line.split()[:1] and line.split()[0].isdigit()]
    assert rows.count("depthwise_conv") == 4 and len(rows) == 12
    # The static stack bounds what ran, library helpers included (newlib's memmove, which
    # moves the streamed pair's window, pushes its registers only after an early return).
    assert "below the measured" not in out


def tiny_model(tmp_path):
    """A small conv + depthwise + pointwise net: quick to count instruction by instruction."""
    rng = np.random.default_rng(1)
    nodes = [
        helper.make_node("Conv", ["input", "w0"], ["a"], pads=[1, 1, 1, 1], strides=[2, 2]),
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Conv", ["b", "w1"], ["c"], pads=[1, 1, 1, 1], group=4),
        helper.make_node("Conv", ["c", "w2"], ["output"]),
    ]
    inits = [init("w0", rng.normal(size=(4, 2, 3, 3))), init("w1", rng.normal(size=(4, 1, 3, 3))),
             init("w2", rng.normal(size=(6, 4, 1, 1)))]
    return save(model(nodes, [1, 2, 8, 8], [1, 6, 4, 4], inits), tmp_path)


@needs_target
def test_block_counts_equal_a_per_instruction_count_and_repeat(tmp_path):
    """On ARMv6-M (no IT blocks, so unicorn's per-instruction hook sees every instruction)
    the block-hook count equals a per-instruction hook's, and a second run gives the same."""
    from mcugen.backend import codegen
    from mcugen.target import bench, emulator

    compiled = pipeline.build(tiny_model(tmp_path))
    g = compiled.graph
    files = codegen.generate(g, compiled.plan, "t", "tiny")
    build = targets.build_elf(files, "t", targets.TARGETS["cortex-m0plus"], targets.find_cross(), tmp_path, True)
    program = emulator.load(build.elf)
    sample = make_inputs(compiled, 1)[0][0].tobytes()
    model_ = cycles.COST_MODELS["cortex-m0plus"]
    skip = program.function_range("t_trace")

    def by_blocks():
        profile = emulator.profile(program, sample, "t", len(g.nodes), g.tensors[g.output].size)
        blocks = bench.decode_blocks(program, profile, model_)
        return [bench.layer_cost(layer, blocks, model_, skip)[0] for layer in profile.layers]

    first = by_blocks()
    assert by_blocks() == first
    assert sum(first) == per_instruction_count(program, sample, skip) > 0


def per_instruction_count(program, sample, skip) -> int:
    from mcugen.target import emulator

    machine = emulator.Machine(program)
    state = dict(on=False, runs=0, count=0)

    def code(uc, address, size, data):
        if state["on"] and address not in skip:
            state["count"] += 1

    def exchange(m):
        state["runs"] += 1
        state["on"] = False
        if state["runs"] == 1:
            m.write(m.reg("r0"), sample)
        else:
            m.stop()

    machine.hook_at(program.address("t_run"), lambda m: state.update(on=True))
    machine.hook_at(program.address("mcugen_exchange"), exchange)
    machine.uc.hook_add(machine.unicorn.UC_HOOK_CODE, code)
    machine.run()
    return state["count"]


@needs_gcc_and_qemu
@pytest.mark.parametrize("core", ["cortex-m4", "cortex-m33"])
def test_block_counts_match_qemu(tmp_path, core):
    """unicorn's block counts equal QEMU's one-instruction-per-block execution log, IT blocks
    included (an instruction whose IT condition fails still counts as executed). The M33 runs
    on mps2-an505, whose memory is elsewhere: its ELF is linked for that map."""
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "qemu_crosscheck.py"), "--model",
                           str(tiny_model(tmp_path)), "--target", core],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "equal" in proc.stdout


# ---------------------------------------------------------------------------- the cycle model


def test_thumb_halfword_rule():
    movs = bytes.fromhex("0120")  # movs r0, #1 (16-bit)
    mov_w = bytes.fromhex("4ff00100")  # mov.w r0, #1 (32-bit: top five bits 0b11110)
    bl = bytes.fromhex("00f000f8")  # bl (32-bit)
    assert cycles.thumb_instruction_count(movs + mov_w + movs + bl) == 4
    assert cycles.thumb_instruction_count(b"") == 0


@pytest.mark.skipif(importlib.util.find_spec("capstone") is None, reason="needs capstone")
def test_cycle_model_prices_taken_branches_and_loads():
    # ldr r1, [r0]; ldr r2, [r0, #4]; adds r1, r1, r2; bne <back>
    code = bytes.fromhex("0168" "4268" "8918" "fad1")
    m4 = cycles.COST_MODELS["cortex-m4"]
    block = cycles.decode(code, 0x100, m4)
    assert block.instructions == 4 and block.branch == "branch"
    assert block.cost == 2 + 1 + 1  # the second load pipelines behind the first
    assert block.total(m4, taken=True) == 4 + m4.taken and block.total(m4, taken=False) == 4 + m4.not_taken
    m0 = cycles.COST_MODELS["cortex-m0plus"]
    assert cycles.decode(code, 0x100, m0).total(m0, taken=True) == 2 + 2 + 1 + 2
    m33 = cycles.COST_MODELS["cortex-m33"]  # the ADDS reads r2 right after its load: one stall cycle
    assert cycles.decode(code, 0x100, m33).total(m33, taken=True) == 1 + 1 + (1 + 1) + 2


@pytest.mark.skipif(importlib.util.find_spec("capstone") is None, reason="needs capstone")
def test_m33_load_use_stall_spares_a_stored_value():
    # ldr r1, [r0]; str r1, [r2]; ldr r3, [r0]; str r0, [r3]: only the second store waits (its address)
    m33 = cycles.COST_MODELS["cortex-m33"]
    assert cycles.decode(bytes.fromhex("0168" "1160" "0368" "1860"), 0x100, m33).cost == 1 + 1 + 1 + (1 + 1)


# ---------------------------------------------------------------------------- bad input


def test_unknown_target_is_one_line_exit_2():
    code, out, err = mcugen("verify", DIGITS, "--target", "cortex-m9")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert err.startswith("mcugen: error: --target 'cortex-m9' is not known") and "cortex-m4" in err


def test_bench_on_host_is_refused():
    code, out, err = mcugen("bench", DIGITS, "--target", "host")
    assert code == 2 and err.strip().splitlines()[-1].startswith("mcugen: error: bench needs a Cortex-M --target")


def test_missing_cross_compiler_is_one_line_exit_2(monkeypatch, capsys):
    monkeypatch.setattr(targets.shutil, "which", lambda name: None)
    monkeypatch.setattr(targets.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["verify", str(DIGITS), "--target", "cortex-m4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["mcugen: error: no ARM cross compiler: install arm-none-eabi-gcc (Debian: apt-get install "
                   "gcc-arm-none-eabi libnewlib-arm-none-eabi) or the 'ziglang' Python package (pip install ziglang)"]


def test_missing_emulator_is_one_line_exit_2(monkeypatch, capsys):
    if not HAVE_CROSS:
        pytest.skip("needs a cross compiler to get as far as the emulator")
    monkeypatch.setitem(sys.modules, "unicorn", None)  # import unicorn now raises ImportError
    assert cli.main(["bench", str(DIGITS), "--target", "cortex-m4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("mcugen: error: running a Cortex-M build needs the 'unicorn' Python package")


def test_bad_cross_compiler_option_is_one_line_exit_2():
    code, out, err = mcugen("verify", DIGITS, "--target", "cortex-m4", "--cc", "/no/such/gcc")
    assert code == 2 and err.strip() == "mcugen: error: --cc '/no/such/gcc': no such program"


# ---------------------------------------------------------------------------- the firmware example


@needs_gcc_and_qemu
@pytest.mark.skipif(not shutil.which("make"), reason="needs make")
def test_firmware_example_runs_under_qemu_and_agrees_with_the_reference(tmp_path):
    firmware = ROOT / "examples" / "firmware"
    build = subprocess.run(["make", "-C", str(firmware), f"BUILD={tmp_path}", f"PYTHON={sys.executable}"],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stdout + build.stderr
    run = subprocess.run(["qemu-system-arm", "-M", "mps2-an386", "-semihosting", "-nographic", "-kernel",
                          str(tmp_path / "app.elf")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                         text=True, timeout=300, stdin=subprocess.DEVNULL)  # QEMU prints semihosting text on stderr
    assert run.returncode == 0, run.stdout
    lines = dict(line.split(":", 1) for line in run.stdout.splitlines() if ":" in line)
    printed_class = int(lines["class"])
    printed_output = [int(v) for v in lines["output"].split()]

    compiled = pipeline.build(VWW, VWW_CALIB)  # what the Makefile compiles
    g = compiled.graph
    x = lcg_input(g.tensors[g.input].size).reshape((1, *g.shape(g.input)[1:]))
    expected = reference.run_int8(g, x).reshape(-1)
    assert printed_output == expected.tolist()
    assert printed_class == int(np.argmax(expected))


def test_help_lists_bench_and_the_target_options():
    code, out, _ = mcugen("--help")
    assert code == 0 and "bench" in out
    for command in ("verify", "bench"):
        code, out, _ = mcugen(command, "--help")
        assert code == 0
        for option in ("--target", "--cc", "--json", "--calib", "--seed"):
            assert option in out, (command, option)
        for core in CORES:
            assert core in out, (command, core)


@needs_target
def test_the_ci_recipe_in_the_docs_gates_on_ram_flash_and_accuracy(tmp_path):
    """docs/cli.md's "In CI" block, run as it is (mcugen being this interpreter's), from a
    folder holding the examples it names: it passes; with a gate the model misses, exit 4."""
    import re

    block = re.search(r"## In CI\n.*?```sh\n(.*?)```", (ROOT / "docs" / "cli.md").read_text(), re.S).group(1)
    (tmp_path / "examples").mkdir()
    for name in re.findall(r"examples/(\S+)", block):
        shutil.copy(EXAMPLES / name, tmp_path / "examples" / name)
    prelude = f'mcugen() {{ "{sys.executable}" -m mcugen "$@"; }}\n'

    def job(script):
        return subprocess.run(["bash", "-c", prelude + script], cwd=tmp_path, capture_output=True, text=True)

    ok = job(block)
    assert ok.returncode == 0, ok.stderr
    verified = json.loads((tmp_path / "build" / "verify.json").read_text())
    assert verified["bit_exact"] and verified["accuracy"]["int8"] >= 0.95
    assert json.loads((tmp_path / "build" / "bench.json").read_text())["ram"]["total"] <= 8 * 1024
    assert "--min-accuracy 0.95" in block and "--ram-limit 8K" in block
    # A missed gate stops the job with exit 4 (the accuracy gate's own exit 4 is tested in
    # tests/quant/test_samples.py).
    assert job(block.replace("--ram-limit 8K --flash-limit 32K", "--ram-limit 2K --flash-limit 32K")).returncode == 4
