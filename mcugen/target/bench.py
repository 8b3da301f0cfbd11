"""bench: what one inference costs on a Cortex-M core, and the flash and RAM it needs.

From a trace build of the model (targets.py) run once in the emulator (emulator.py):

- per layer: executed instructions, instructions per MAC and estimated cycles
  (cycles.py), between the per-layer markers NAME_trace(layer, ...); totals;
- flash: .text + .rodata + .data of the ELF (the data's initial values live in flash);
- RAM: .data + .bss + the deepest stack. The stack comes from GCC's -fstack-usage files
  along the deepest call chain, found in the ELF's code (reset handler -> main -> NAME_run
  -> kernels), and is checked against the high-water mark the emulator measures.

The per-layer marker costs the call itself, a few instructions per layer (the arguments
and the BL), which are counted in the layer; the marker's body (a return) is left out.
Instruction counts depend slightly on the data (requantization rounds by sign,
clamps branch), so bench runs one deterministic sample: the first --calib sample, or a
seeded random one. A float32 build (--precision float32, M4/M7/M33 with their FPU) is checked
against mcugen's float reference within verify's bound instead of byte for byte.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from mcugen import layout, reference
from mcugen.backend import codegen
from mcugen.pipeline import Compiled
from mcugen.precision import FLOAT32, INT8
from mcugen.target import cycles, emulator, targets
from mcugen.target.toolchain import BuildError
from mcugen.verify import float32 as verify_float
from mcugen.verify import from_file_type, make_inputs, onnx_layout, to_file_type


@dataclass
class LayerFigures:
    index: int
    op: str
    macs: int
    instructions: int
    instructions_per_mac: float | None
    cycles: int
    # Streamed: the layer runs inside the next one (planner.decide_streams), whose figures
    # hold its work; that layer's instructions per MAC count both layers' MACs.
    streamed: bool = False


@dataclass
class BenchResult:
    model: str
    target: dict
    compiler: str
    emulator: str
    cost_model: dict
    sample: str
    output_bit_exact: bool | None  # int8; None for float32
    output_ok: bool  # bit-exact (int8), or within verify's bound of the float reference (float32)
    macs: int
    instructions: int
    instructions_per_mac: float
    cycles: int
    cycles_per_mac: float
    layers: list[LayerFigures]
    flash: dict
    ram: dict
    precision: str = INT8.name
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _sample(model_path: str, compiled: Compiled, seed: int) -> tuple[np.ndarray, str]:
    """One input (graph layout, batch of 1) and where it came from."""
    if not compiled.precision.quantized:
        x, from_calib = verify_float.make_inputs(compiled, 1, seed)
        return x, "first --calib sample" if from_calib else f"random float32 in [-1, 1], seed {seed}"
    x, from_calib = make_inputs(compiled, 1, seed)
    return x, "first --calib sample" if from_calib else f"random int8, seed {seed}"


def _output_ok(model_path: str, compiled: Compiled, x: np.ndarray, output: bytes) -> tuple[bool | None, bool]:
    """(bit-exact or None, ok): the emulated output against the reference."""
    g = compiled.graph
    if compiled.precision.quantized:
        got = from_file_type(output, g.output_type)
        exact = bool(np.array_equal(got, reference.run_int8(g, x).reshape(-1)))
        return exact, exact
    got = np.frombuffer(output, np.float32).reshape(1, -1)
    ref = reference.run_float(g, x).reshape(1, -1)
    ys = verify_float.yardstick(model_path, layout.input_to_onnx(x, g), onnx_layout(ref, g.shape(g.output)))
    return None, bool(verify_float.error(got, ref) <= ys.bound_vs_reference())


def bench(model_path: str, compiled: Compiled, name: str, target: targets.Target, cross: targets.CrossCompiler,
          macs_per_layer: list[int], seed: int = 0) -> BenchResult:
    g = compiled.graph
    x, sample = _sample(model_path, compiled, seed)
    files = codegen.generate(g, compiled.plan, name, compiled.float_graph.source, compiled.optimize)
    with tempfile.TemporaryDirectory(prefix="mcugen-bench-") as tmp:
        build = targets.build_elf(files, name, target, cross, Path(tmp), trace=True, precision=compiled.precision,
                                  row_input=compiled.plan.pipeline > 0)
        program = emulator.load(build.elf)
        profile = emulator.profile(program, to_file_type(x, g.input_type)[0].tobytes(), name, len(g.nodes),
                                   g.tensors[g.output].size * compiled.plan.elem_bytes)
        flash, ram = memory(build, program, name, profile.stack_bytes)
    exact, ok = _output_ok(model_path, compiled, x, profile.output)
    model = cycles.COST_MODELS[target.name]
    skip = program.function_range(f"{name}_trace")
    blocks = decode_blocks(program, profile, model)
    layers = []
    streamed = set(compiled.plan.streamed)
    last_row = compiled.plan.pipeline - 1  # --row-input: the pipeline's work is all at its last layer
    ex = compiled.plan.execution  # so is a fused segment's
    for index, (node, counts, macs) in enumerate(zip(g.nodes, profile.layers, macs_per_layer)):
        instructions, cyc = layer_cost(counts, blocks, model, skip)
        start = 0 if index == last_row else (ex.segment(index) or (None,))[0]
        if index in streamed or ex.hidden(index):
            ratio = None
        elif start is not None:
            ratio = _ratio(instructions, sum(macs_per_layer[start:index + 1]))
        else:
            ratio = _ratio(instructions, macs + (macs_per_layer[index - 1] if index - 1 in streamed else 0))
        layers.append(LayerFigures(index, node.op, macs, instructions, ratio, round(cyc), index in streamed))
    total = sum(layer.instructions for layer in layers)
    total_cycles = sum(layer.cycles for layer in layers)
    macs = sum(macs_per_layer)
    notes = []
    if last_row > 0:
        notes.append(f"--row-input: layers 0-{last_row} run as one row pipeline; their instructions and cycles are "
                     f"layer {last_row}'s (with the runner's fake camera copying the input's rows)")
    for a, b in compiled.plan.fused:
        notes.append(f"fused: layers {a}-{b - 1} run row by row as one step; their instructions and cycles are "
                     f"layer {b - 1}'s")
    if ram["stack"] < ram["stack_measured"]:  # the static analysis missed a call: say so, not hide it
        notes.append(f"the static stack ({ram['stack']} B) is below the measured one ({ram['stack_measured']} B)")
    return BenchResult(
        model=Path(model_path).name, target=target.info(), compiler=build.compiler, emulator=emulator.describe(),
        cost_model=model.to_dict(),
        sample=sample, output_bit_exact=exact, output_ok=ok, precision=compiled.precision.name,
        macs=macs, instructions=total, instructions_per_mac=_ratio(total, macs),
        cycles=total_cycles, cycles_per_mac=_ratio(total_cycles, macs),
        layers=layers, flash=flash, ram=ram, notes=notes,
    )


def _ratio(a: float, b: int) -> float | None:
    return round(a / b, 3) if b else None


# ---------------------------------------------------------------------------- counting


def decode_blocks(program: emulator.Program, profile: emulator.Profile,
                  model: cycles.CostModel) -> dict[tuple[int, int], cycles.Block]:
    """Each distinct executed block, decoded once."""
    keys = {(a, s) for counts in profile.layers for (a, s, _next) in counts.edges}
    return {(a, s): cycles.decode(program.read(a, s), a, model) for a, s in sorted(keys)}


def layer_cost(counts: emulator.EdgeCounts, blocks: dict, model: cycles.CostModel,
               skip: range) -> tuple[int, float]:
    instructions, cyc = 0, 0.0
    for (address, size, following), n in counts.edges.items():
        if address in skip:
            continue
        block = blocks[(address, size)]
        instructions += n * block.instructions
        cyc += n * block.total(model, taken=following != address + size)
    return instructions, cyc


# ---------------------------------------------------------------------------- flash and RAM


def memory(build: targets.Build, program: emulator.Program, name: str, measured_stack: int) -> tuple[dict, dict]:
    s = {k: program.sections.get(k, (0, 0))[1] for k in (".text", ".rodata", ".ARM.exidx", ".data", ".bss")}
    text = s[".text"] + s[".ARM.exidx"]
    flash = dict(text=text, rodata=s[".rodata"], data=s[".data"], total=text + s[".rodata"] + s[".data"],
                 model_only=model_flash(build.model_objects, program))
    frames = stack_usage(build.stack_usage_files)
    chain, static = deepest_chain(program, frames, "Reset_Handler")
    ram = dict(data=s[".data"], bss=s[".bss"], stack=static, total=s[".data"] + s[".bss"] + static,
               stack_chain=chain, stack_measured=measured_stack)
    return flash, ram


def model_flash(objects: list[Path], program: emulator.Program) -> int:
    """Flash of the generated C alone, without the runner: the sizes of the functions and
    constants its object files define that the link kept (the layers exist twice, for
    NAME_run and NAME_run_with, and --gc-sections drops the copy the runner does not call)."""
    from elftools.elf.elffile import ELFFile

    names = set()
    for path in objects:
        with open(path, "rb") as f:
            elf = ELFFile(f)
            symtab = elf.get_section_by_name(".symtab")
            for sym in symtab.iter_symbols() if symtab is not None else ():
                if sym["st_info"]["type"] in ("STT_FUNC", "STT_OBJECT") and sym["st_size"] > 0 and \
                        isinstance(sym["st_shndx"], int) and \
                        re.match(r"\.(text|rodata|data)(\.|$)", elf.get_section(sym["st_shndx"]).name):
                    names.add(sym.name)
    return sum(size for name, (address, size) in program.symbols.items()
               if name in names and program.flash_base <= address < program.ram_base)


def stack_usage(files: list[Path]) -> dict[str, int]:
    """Function -> frame bytes, from GCC/clang -fstack-usage files ("file:line:col:name<TAB>bytes<TAB>kind")."""
    frames = {}
    for path in files:
        for line in path.read_text().splitlines():
            parts = line.split("\t")
            if len(parts) >= 2 and parts[1].strip().isdigit():
                frames[parts[0].rsplit(":", 1)[-1].strip()] = int(parts[1])
    return frames


def deepest_chain(program: emulator.Program, frames: dict[str, int], root: str) -> tuple[list[str], int]:
    """The call chain from `root` with the largest sum of frames; calls are found in the code,
    calls through a pointer by the functions whose address the image holds (call_graph).

    A function without a .su entry (a C library or libgcc helper, built without it) is
    priced from its code: every push in its body (prologue_frame)."""
    graph, indirect = call_graph(program)
    frames = dict(frames)
    for fn in graph:
        frames.setdefault(fn, prologue_frame(program, fn))
    best: dict[str, tuple[list[str], int]] = {}

    def visit(fn: str, path: tuple[str, ...]) -> tuple[list[str], int]:
        if fn in best:
            return best[fn]
        if fn in path:  # recursion: not in generated code; do not loop
            raise BuildError(f"recursion through {fn} in {program.path.name}: the stack has no static bound")
        # A pointer may hold any address-taken function, but not one that leads back here:
        # that would be recursion, which generated code has none of.
        callees = graph.get(fn, set()) | {c for c in indirect.get(fn, ()) if not reaches(c, path + (fn,))}
        below = [visit(callee, path + (fn,)) for callee in sorted(callees)]
        chain, size = max(below, key=lambda r: r[1], default=([], 0))
        best[fn] = ([fn, *chain], size + frames.get(fn, 0))
        return best[fn]

    def reaches(fn: str, path: tuple[str, ...], seen: set | None = None) -> bool:
        """Does a direct call chain from fn lead to a function on the path?"""
        seen = set() if seen is None else seen
        if fn in path:
            return True
        seen.add(fn)
        return any(reaches(c, path, seen) for c in graph.get(fn, ()) if c not in seen)

    return visit(root, ())


def _thumb():
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    md.skipdata = True  # literal pools sit between a function's instructions: step over them
    return md


def prologue_frame(program: emulator.Program, fn: str) -> int:
    """Stack bytes a function without a .su entry may take: every PUSH, VPUSH, STMDB SP!
    and SUB SP, #n in its body, added up. Not only those before its first branch: newlib's
    memmove tests its arguments and returns early before it pushes anything (a shrink-wrapped
    prologue), and stopping at that branch priced it at 0 B where it takes 16 (the emulator
    measured the difference). Adding every site is an upper bound for any path; these C
    library and libgcc helpers push at one or two sites."""
    import capstone.arm as arm

    start, size = program.symbols[fn]
    frame = 0
    for insn in _thumb().disasm(program.read(start, size), start):
        if program.is_data(insn.address):  # a literal pool decoded as code pushes nothing
            continue
        regs = [op.reg for op in insn.operands if op.type == arm.ARM_OP_REG]
        imms = [op.imm for op in insn.operands if op.type == arm.ARM_OP_IMM]
        if insn.insn_name() == "push":
            frame += 4 * len(regs)
        elif insn.insn_name() == "vpush":  # FPU registers (libm in a float32 build): d is 8 bytes, s 4
            frame += sum(8 if insn.reg_name(r).startswith("d") else 4 for r in regs)
        elif insn.insn_name() == "stmdb" and regs[:1] == [arm.ARM_REG_SP]:
            frame += 4 * (len(regs) - 1)
        elif insn.insn_name() in ("sub", "subw") and regs[:1] == [arm.ARM_REG_SP] and imms:
            frame += imms[0]
    return frame


def call_graph(program: emulator.Program) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Function -> functions it calls (BL/BLX) or tail-calls (a B out of its own body); and
    function -> functions it may call through a pointer (a BLX or BX to a register), which
    are those whose address the image holds as a word (a row pipeline's stage table, a
    pointer in a literal pool): address_taken."""
    import capstone.arm as arm

    md = _thumb()
    functions = {n: (a, s) for n, (a, s) in program.symbols.items() if s and program.is_function(n)}
    by_address = {a: n for n, (a, s) in functions.items()}
    taken = address_taken(program, functions)
    graph: dict[str, set[str]] = {}
    indirect: dict[str, set[str]] = {}
    for fn, (start, size) in functions.items():
        callees = set()
        for insn in md.disasm(program.read(start, size), start):
            if program.is_data(insn.address):  # a literal pool decoded as code is not a call
                continue
            name, operands = insn.insn_name(), insn.operands
            if name in ("bl", "blx", "b", "b.w") and operands and operands[0].type == arm.ARM_OP_IMM:
                target = operands[0].imm & ~1
                if target in by_address and not start <= target < start + size:
                    callees.add(by_address[target])
            elif name in ("blx", "bx") and operands and operands[0].type == arm.ARM_OP_REG \
                    and operands[0].reg != arm.ARM_REG_LR:
                indirect[fn] = taken - {fn}
        graph[fn] = callees
    return graph, indirect


def address_taken(program: emulator.Program, functions: dict[str, tuple[int, int]]) -> set[str]:
    """The functions whose address (with the Thumb bit) some aligned word of the image
    holds, outside the vector table (its handlers are roots, not callees). A word of data
    may equal an address by chance: that only adds a callee, so the bound stays a bound."""
    thumb = {a | 1: n for n, (a, s) in functions.items()}
    vectors = program.symbols.get("mcugen_vectors", (0, 0))
    found = set()
    for base, data in program.segments:
        words = np.frombuffer(data[: len(data) // 4 * 4], dtype="<u4")
        at = base + 4 * np.arange(len(words))
        hits = np.isin(words, np.fromiter(thumb, dtype=np.uint64)) & ~((at >= vectors[0]) & (at < sum(vectors)))
        found |= {thumb[int(w)] for w in words[hits]}
    return found


# ---------------------------------------------------------------------------- text


def _verdict(r: BenchResult) -> str:
    if r.precision == FLOAT32.name:
        return "within verify's bound of" if r.output_ok else "BEYOND verify's bound from"
    return "bit-exact with" if r.output_bit_exact else "DIFFERS from"


def format_text(r: BenchResult) -> str:
    t = r.target
    lines = [
        f"{r.model} on {t['name']} ({t['arch']}{', DSP' if t['dsp'] else ''}): {r.compiler}; {r.emulator}; "
        f"input: {r.sample}; output {_verdict(r)} the reference",
        f"{'#':>3}  {'op':<16}{'MACs':>12}{'instructions':>15}{'instr/MAC':>11}{'est. cycles':>14}",
    ]
    for layer in r.layers:
        ratio = f"{layer.instructions_per_mac:.2f}" if layer.instructions_per_mac is not None else "-"
        lines.append(f"{layer.index:>3}  {layer.op:<16}{layer.macs:>12,}{layer.instructions:>15,}{ratio:>11}"
                     f"{layer.cycles:>14,}" + ("  streamed: its work is in the next row" if layer.streamed else ""))
    lines += [
        f"{'':>3}  {'total':<16}{r.macs:>12,}{r.instructions:>15,}{r.instructions_per_mac:>11.2f}{r.cycles:>14,}"
        f"  ({r.cycles_per_mac:.2f} cycles/MAC)",
        f"flash {r.flash['total']:,} B: .text {r.flash['text']:,} + .rodata {r.flash['rodata']:,} + "
        f".data {r.flash['data']:,} (the generated C alone: {r.flash['model_only']:,} B)",
        f"RAM {r.ram['total']:,} B: .data {r.ram['data']:,} + .bss {r.ram['bss']:,} + stack {r.ram['stack']:,} "
        f"({' > '.join(r.ram['stack_chain'])}; measured in the emulator: {r.ram['stack_measured']:,})",
        f"cycles: an estimate, {r.cost_model['source']}; zero wait states",
        *(f"note: {note}" for note in r.notes),
    ]
    return "\n".join(lines)
