"""Running a target ELF in unicorn: feeding samples, dumping layers, counting instructions.

The ELF is loaded the way a board boots: its load segments are written into the two
memory regions of targets.py, mapped where the ELF's linker script put them
(__flash_origin, __ram_origin), SP and PC come from the vector table at the start of the
code memory, and the start-up code copies .data and zeroes .bss itself.

Host <-> target I/O has no device: the runner's main calls mcugen_exchange(input, output)
before every run. A hook on that one address (a bounded hook costs nothing elsewhere)
reads the previous sample's output from r1, writes the next input to r0, or stops the
emulation. In a trace build, a hook on NAME_trace(layer, output, size) dumps each layer.

Counting is exact and repeatable: a block hook (UC_HOOK_BLOCK) records each executed
translation block as an edge (previous block -> this block); each distinct block is
decoded once, afterwards. A Thumb-2 halfword whose top five bits are 0b11101, 0b11110 or
0b11111 starts a 32-bit instruction; every other halfword is a 16-bit instruction. There
is no per-instruction Python hook. The edges also tell, for a block ending in a branch,
whether the branch was taken (the next block is not the fall-through), which the cycle
model needs.

The CPU model is unicorn 2's default for M-profile, UC_CPU_ARM_CORTEX_M33 (set explicitly
below), for every target: it executes any Thumb-2 instruction. The instruction set of an
M0+, M4 or M7 build is therefore enforced by -mcpu at compile time, not by the emulator; a
cortex-m33 build runs on its own core's model.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from mcugen.errors import McugenError
from mcugen.target.targets import FLASH_SIZE, RAM_SIZE
from mcugen.target.toolchain import BuildError

SCB_BASE, SCB_SIZE = 0xE000E000, 0x1000  # the System Control Space page holding CPACR (0xE000ED88)

STACK_PAINT = 0xA5  # the byte RAM is filled with, to find the stack's high-water mark
TIMEOUT_US = 30 * 60 * 1_000_000  # a runaway program is a bug; no real model takes this long


def _unicorn():
    try:
        import unicorn
        from unicorn import arm_const
    except ImportError:
        raise McugenError("running a Cortex-M build needs the 'unicorn' Python package: "
                          "pip install unicorn (or pip install 'mcugen[target]')") from None
    return unicorn, arm_const


def describe() -> str:
    unicorn, _ = _unicorn()
    return f"unicorn {unicorn.__version__}"


# ---------------------------------------------------------------------------- the ELF


@dataclass
class Program:
    """What the emulator needs from an ELF: load segments, symbols and the vector table."""
    path: Path
    segments: list[tuple[int, bytes]]  # (load address, bytes)
    symbols: dict[str, tuple[int, int]]  # name -> (address without the Thumb bit, size)
    sections: dict[str, tuple[int, int]]  # name -> (address, size), allocated sections only
    functions: set[str] = field(default_factory=set)
    # ARM mapping symbols: where code ($t, $a) and data ($d, literal pools) start, in order
    mapping: list[tuple[int, str]] = field(default_factory=list)

    def is_data(self, address: int) -> bool:
        """Inside a literal pool or other data the compiler put among the instructions?"""
        kind = "t"
        for start, mark in self.mapping:
            if start > address:
                break
            kind = mark
        return kind == "d"

    def address(self, name: str) -> int:
        if name not in self.symbols:
            raise BuildError(f"{self.path.name} has no symbol {name!r}")
        return self.symbols[name][0]

    def function_range(self, name: str) -> range:
        start, size = self.symbols[name]
        return range(start, start + max(size, 2))

    def is_function(self, name: str) -> bool:
        return name in self.functions

    def read(self, address: int, size: int) -> bytes:
        """Bytes of the loaded image (code and constants), as they are before the program runs."""
        for base, data in self.segments:
            if base <= address and address + size <= base + len(data):
                return data[address - base: address - base + size]
        raise BuildError(f"{self.path.name}: nothing loaded at 0x{address:08x}")

    @property
    def flash_base(self) -> int:
        return self.address("__flash_origin")

    @property
    def ram_base(self) -> int:
        return self.address("__ram_origin")

    def word(self, address: int) -> int:
        return int.from_bytes(self.read(address, 4), "little")


def load(path: Path) -> Program:
    from elftools.elf.elffile import ELFFile
    from elftools.elf.sections import SymbolTableSection

    with open(path, "rb") as f:
        elf = ELFFile(f)
        segments = [(seg["p_paddr"], seg.data()) for seg in elf.iter_segments()
                    if seg["p_type"] == "PT_LOAD" and seg["p_filesz"] > 0]
        symbols, functions, mapping = {}, set(), []
        for section in elf.iter_sections():
            if isinstance(section, SymbolTableSection):
                for sym in section.iter_symbols():
                    if sym.name[:2] in ("$t", "$a", "$d") and sym.name[2:3] in ("", "."):
                        mapping.append((sym["st_value"] & ~1, sym.name[1]))
                        continue
                    kind = sym["st_info"]["type"]
                    if sym.name and kind in ("STT_FUNC", "STT_OBJECT", "STT_NOTYPE"):
                        symbols.setdefault(sym.name, (sym["st_value"] & ~1, sym["st_size"]))
                        if kind == "STT_FUNC":
                            functions.add(sym.name)
        sections = {s.name: (s["sh_addr"], s["sh_size"]) for s in elf.iter_sections() if s["sh_flags"] & 2}
    return Program(Path(path), segments, symbols, sections, functions, sorted(mapping))


# ---------------------------------------------------------------------------- the machine


class Machine:
    """One unicorn instance with the program loaded and reset."""

    def __init__(self, program: Program, paint_stack: bool = False):
        unicorn, arm = _unicorn()
        self.unicorn, self.arm = unicorn, arm
        self.program = program
        uc = unicorn.Uc(unicorn.UC_ARCH_ARM, unicorn.UC_MODE_THUMB | unicorn.UC_MODE_MCLASS)
        uc.ctl_set_cpu_model(arm.UC_CPU_ARM_CORTEX_M33)  # the default; before anything else
        flash, self.ram_base = program.flash_base, program.ram_base
        uc.mem_map(flash, FLASH_SIZE)
        uc.mem_map(self.ram_base, RAM_SIZE)
        # The System Control Block, as plain memory: a hard-float build's start-up writes
        # CPACR there to enable the FPU, which unicorn's core has enabled already.
        uc.mem_map(SCB_BASE, SCB_SIZE)
        for address, data in program.segments:
            uc.mem_write(address, data)
        self.stack_floor = program.symbols.get("__bss_end", (self.ram_base, 0))[0]
        if paint_stack:
            uc.mem_write(self.stack_floor, bytes([STACK_PAINT]) * (self.ram_base + RAM_SIZE - self.stack_floor))
        uc.reg_write(arm.UC_ARM_REG_SP, program.word(flash))
        self.pc = program.word(flash + 4)  # the reset handler, Thumb bit set
        self.uc = uc

    def hook_at(self, address: int, callback) -> None:
        """callback(machine) when execution reaches `address` (bounded: free elsewhere)."""
        self.uc.hook_add(self.unicorn.UC_HOOK_BLOCK, lambda uc, a, s, d: callback(self), begin=address, end=address)

    def reg(self, name: str) -> int:
        return self.uc.reg_read(getattr(self.arm, f"UC_ARM_REG_{name.upper()}"))

    def read(self, address: int, size: int) -> bytes:
        return bytes(self.uc.mem_read(address, size))

    def write(self, address: int, data: bytes) -> None:
        self.uc.mem_write(address, data)

    def stop(self) -> None:
        self.uc.emu_stop()

    def run(self) -> None:
        try:
            self.uc.emu_start(self.pc, 0xFFFFFFFF, timeout=TIMEOUT_US)
        except self.unicorn.UcError as exc:
            pc = self.reg("pc")
            where = next((n for n, (a, s) in self.program.symbols.items() if a <= pc < a + s), "?")
            raise BuildError(f"the {self.program.path.name} program faulted in the emulator at 0x{pc:08x} "
                             f"({where}): {exc}") from None

    def stack_high_water(self) -> int:
        """Bytes of stack ever used: from the top of RAM down to the lowest repainted byte."""
        top = self.ram_base + RAM_SIZE
        ram = self.read(self.stack_floor, top - self.stack_floor)
        untouched = len(ram) - len(ram.lstrip(bytes([STACK_PAINT])))
        return top - (self.stack_floor + untouched)


# ---------------------------------------------------------------------------- samples in, bytes out


def run_samples(program: Program, samples: list[bytes], input_size: int, output_size: int,
                trace_symbol: str | None = None, elem_bytes: int = 1) -> bytes:
    """Run the model on each sample; the outputs (and traced layers) in the host runner's format.
    Sizes are in bytes; a traced layer's size argument counts elements of elem_bytes."""
    machine = Machine(program)
    out = bytearray()
    pending = iter(samples)
    state = dict(started=False)

    def exchange(m: Machine) -> None:
        if state["started"]:
            out.extend(m.read(m.reg("r1"), output_size))
        sample = next(pending, None)
        if sample is None:
            state["done"] = True
            m.stop()
            return
        if len(sample) != input_size:
            raise BuildError(f"sample of {len(sample)} bytes, the model takes {input_size}")
        m.write(m.reg("r0"), sample)
        state["started"] = True

    def trace(m: Machine) -> None:
        out.extend(m.read(m.reg("r1"), m.reg("r2") * elem_bytes))

    machine.hook_at(program.address("mcugen_exchange"), exchange)
    if trace_symbol:
        machine.hook_at(program.address(trace_symbol), trace)
    machine.run()
    if not state.get("done"):  # emu_start also returns on its timeout: never pass that off as a result
        raise BuildError(f"{program.path.name} did not finish its {len(samples)} samples in the emulator")
    return bytes(out)


# ---------------------------------------------------------------------------- counting


@dataclass
class EdgeCounts:
    """How often each block ran, as (block, size, next block address) -> count."""
    edges: dict[tuple[int, int, int], int] = field(default_factory=dict)

    def minus(self, earlier: EdgeCounts) -> EdgeCounts:
        return EdgeCounts({k: v - earlier.edges.get(k, 0) for k, v in self.edges.items()
                           if v != earlier.edges.get(k, 0)})


class BlockCounter:
    """Records every executed block as an edge from the block before it."""

    def __init__(self):
        self.edges = defaultdict(int)
        self.prev = None  # (address, size) of the block that ran last

    def on_block(self, uc, address, size, _data) -> None:
        prev = self.prev
        if prev is not None:
            self.edges[(prev[0], prev[1], address)] += 1
        self.prev = (address, size)

    def snapshot(self) -> EdgeCounts:
        return EdgeCounts(dict(self.edges))


@dataclass
class Profile:
    """Executed blocks per phase of one inference, plus the measured stack."""
    layers: list[EdgeCounts]  # one per layer, in execution order
    stack_bytes: int  # high-water mark of the whole program (start-up, runner, model)
    output: bytes  # the model's output for the sample


def profile(program: Program, sample: bytes, name: str, num_layers: int, output_size: int) -> Profile:
    """Run one inference of a trace build, counting the blocks of each layer.

    Layer 0 runs from NAME_run's entry to the first NAME_trace call, layer i from the
    return of call i-1 to call i; the last layer also holds NAME_run's epilogue and the
    runner's loop branch, up to mcugen_exchange. The marker function's own body (a
    return) is left out when counting (see bench.py)."""
    machine = Machine(program, paint_stack=True)
    counter = BlockCounter()
    marks: list[tuple[str, EdgeCounts]] = []
    state = dict(runs=0, output=b"")
    machine.uc.hook_add(machine.unicorn.UC_HOOK_BLOCK, counter.on_block)

    def exchange(m: Machine) -> None:
        state["runs"] += 1
        if state["runs"] == 1:
            m.write(m.reg("r0"), sample)
        else:
            marks.append(("end", counter.snapshot()))
            state["output"] = m.read(m.reg("r1"), output_size)
            m.stop()

    machine.hook_at(program.address("mcugen_exchange"), exchange)
    machine.hook_at(program.address(f"{name}_run"), lambda m: marks.append(("start", counter.snapshot())))
    machine.hook_at(program.address(f"{name}_trace"), lambda m: marks.append(("layer", counter.snapshot())))
    machine.run()
    kinds = [k for k, _ in marks]
    if kinds != ["start", *["layer"] * num_layers, "end"]:
        raise BuildError(f"the profiled run of {program.path.name} did not pass its markers in order: "
                         f"{kinds.count('layer')} layer markers for {num_layers} layers")
    snaps = [s for _, s in marks]
    layers = [snaps[i + 1].minus(snaps[i]) for i in range(num_layers)]
    tail = snaps[-1].minus(snaps[-2])  # the epilogue after the last marker belongs to the last layer
    for key, count in tail.edges.items():
        layers[-1].edges[key] = layers[-1].edges.get(key, 0) + count
    return Profile(layers, machine.stack_high_water(), state["output"])
