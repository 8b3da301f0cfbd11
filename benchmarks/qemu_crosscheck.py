"""Cross-check mcugen's instruction counts (unicorn, block hooks) against QEMU.

    python benchmarks/qemu_crosscheck.py [--model M] [--calib F] [--target cortex-m4]

Builds the model's bench ELF (the same trace build `mcugen bench` runs), then:

- QEMU: qemu-system-arm on the target's board (mps2-an386 for M4, mps2-an500 for M7,
  mps2-an505 for M33, which boots in the Secure state from 0x10000000: the M33 build is
  linked there, see targets.py), one instruction per translation block (-singlestep) and
  every block execution logged
  (-d exec,nochain). Counted: the log lines from NAME_run's entry up to the next
  mcugen_exchange, less the marker function's own body. In QEMU nothing feeds the runner,
  so the first run sees the input the start-up left: zeros.
- unicorn: `mcugen bench`'s counting (emulator.profile), on the same all-zero input.

Both totals are printed; they must be equal. Needs qemu-system-arm and arm-none-eabi-gcc.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import pipeline  # noqa: E402
from mcugen.backend import codegen
from mcugen.target import bench, cycles, emulator, targets

DIGITS = ROOT / "examples/digits_mobilenet_v1.onnx"
DIGITS_CALIB = ROOT / "examples/digits_calib.npz"


def qemu_count(elf: Path, board: str, program: emulator.Program, name: str) -> int:
    start, end = program.address(f"{name}_run"), program.address("mcugen_exchange")
    skip = program.function_range(f"{name}_trace")
    cmd = ["qemu-system-arm", "-M", board, "-nographic", "-semihosting", "-kernel", str(elf),
           "-singlestep", "-d", "exec,nochain", "-D", "/dev/stdout"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    counting, count = False, 0
    try:
        for line in proc.stdout:
            if not line.startswith(b"Trace"):
                continue
            pc = int(line.split(b"[", 1)[1].split(b"/")[1], 16)
            if pc == start and not counting:
                counting = True
            elif pc == end and counting:
                break
            if counting and pc not in skip:
                count += 1
    finally:
        proc.kill()
        proc.wait()
    return count


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default=str(DIGITS))
    ap.add_argument("--calib", help="calibration samples (default: the digits example's, for the digits model)")
    ap.add_argument("--target", default="cortex-m4", choices=[n for n, t in targets.TARGETS.items() if t.qemu_board])
    args = ap.parse_args()
    target = targets.TARGETS[args.target]
    calib = args.calib or (DIGITS_CALIB if Path(args.model) == DIGITS else None)
    compiled = pipeline.build(args.model, calib)
    g, name = compiled.graph, codegen.default_name(args.model)
    files = codegen.generate(g, compiled.plan, name, compiled.float_graph.source, compiled.optimize)
    with tempfile.TemporaryDirectory() as tmp:
        build = targets.build_elf(files, name, target, targets.find_cross(), Path(tmp), trace=True)
        program = emulator.load(build.elf)
        zeros = bytes(g.tensors[g.input].size)
        profile = emulator.profile(program, zeros, name, len(g.nodes), g.tensors[g.output].size)
        model = cycles.COST_MODELS[target.name]
        blocks = bench.decode_blocks(program, profile, model)
        skip = program.function_range(f"{name}_trace")
        ours = sum(bench.layer_cost(counts, blocks, model, skip)[0] for counts in profile.layers)
        theirs = qemu_count(build.elf, target.qemu_board, program, name)
    print(f"{Path(args.model).name} on {target.name} ({build.compiler}), all-zero input:")
    print(f"  unicorn block hooks: {ours:,} instructions")
    print(f"  QEMU {target.qemu_board} -singlestep -d exec: {theirs:,} instructions")
    print("  equal" if ours == theirs else f"  DIFFERENT by {ours - theirs:+,}")
    return 0 if ours == theirs else 1


if __name__ == "__main__":
    sys.exit(main())
