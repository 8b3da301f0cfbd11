"""An estimate of cycles from executed instructions: a per-instruction cost for each core.

Each distinct basic block is decoded once (capstone) into instruction classes; a block's
cost is the sum of its instructions' costs, and a branch that ends it costs as taken or
not taken depending on where execution went next (emulator.py records that).

The costs are those of ARM's Technical Reference Manuals, zero wait states:

- Cortex-M0+ (DDI 0484C, table 3.1 "Cortex-M0+ instruction summary"): data processing 1;
  MULS 1 (the fast-multiplier option; the small one takes 32); loads and stores 2 (1 on the
  single-cycle I/O port, not used here); LDM/STM/PUSH/POP 1+N; POP {..,PC} 3+N; B taken 2,
  not taken 1; BL 3; BX/BLX 2.
- Cortex-M4 (DDI 0439B / 100166, table 3-1 "Processor instruction set summary"): data
  processing, saturation, packing and all multiplies (MUL, MLA, SMULL, SMLAL, SMLAD, ...) 1;
  SDIV/UDIV 2 to 12 (7 here); LDR/STR 2, but a load or store right after another one
  pipelines and takes 1 (note [c] of the table); LDRD/STRD 1+2; LDM/STM/PUSH/POP 1+N;
  branches and PC writes 1+P when taken, where P, the pipeline refill, is 1 to 3 (2 here);
  not taken 1; IT 1 (it can fold into the instruction before it and take 0).
- Cortex-M7: ARM publishes no cycle table for it. It is a six-stage in-order core that issues
  two instructions per cycle when they pair (two data-processing instructions, or one with
  a load or store), with one load/store port, one multiply-accumulate pipe and a branch
  predictor. The model: simple data processing 0.5; DSP/saturating/extend 1 (they issue
  only as the older of a pair); multiplies 1; loads and stores 1; LDM/STM/PUSH/POP 1+N/2
  (64-bit data path); divides 7; branches 1 taken (predicted), 0.5 not taken; IT 0.5.
  Mispredictions, cache misses and stalls on dependencies are not modelled, so M7 figures
  are the least certain.
- Cortex-M33: ARM publishes no cycle table for it either: its TRM (Arm 100230), unlike the
  M0+ and M4 TRMs, has none. Arm states single-cycle multiply-accumulate (MUL, MLA, SMLAD,
  SMLAL, ...: 1). The other costs are the timings measured with DWT.CYCCNT on a Cortex-M33
  r1p0 (RP2350) by jnk0le, "pipeline cycle test", doc/cortex_m33.md in
  github.com/jnk0le/random: data processing and DSP 1; LDR/STR 1, with a load-use latency
  of 2 (one stall cycle when the next instruction reads the loaded register, except as the
  data of a store); LDRD/STRD 2; LDM/STM/PUSH/POP of N registers N; a taken branch 2 (1 +
  one cycle of refill: the M33 resolves branches in its second stage), not taken 1; BL and
  POP {..,PC} pay the same one-cycle refill. The M33 dual-issues some pairs of 16-bit
  instructions (in practice a NOP, IT or branch as the second); that is not modelled, so
  such a pair costs one cycle too many. Not published or measured: SDIV/UDIV (7, as on the
  M4), the FPU's divide (14, as on the M4). Other stalls (2-cycle results of MACs and of
  shifted-operand instructions) are not modelled. The sources: docs/cortex-m.md.

FPU instructions (float32 builds, -mfloat-abi=hard), from the Cortex-M4 TRM's table 7-1
"FPU instruction set": VADD/VSUB/VMUL/VNEG/VABS/VCMP/VCVT/VMOV/VMRS 1; VMLA/VMLS/VFMA/VFMS
and their negated forms 3; VDIV/VSQRT 14; VLDR/VSTR as loads and stores; VLDM/VSTM/
VPUSH/VPOP 1+N. Cortex-M7 (no table): 1, 1 (pipelined), 14, and its loads and stores.
Cortex-M33 (measured, as above): 1; VFMA 3 (it issues in one cycle but no FPU instruction
issues in the next two); VDIV 14 as on the M4; its loads and stores.

Not modelled anywhere: wait states of real flash (the figures are for zero-wait-state
memory, as in the TRMs), and interrupts; load-use stalls only on the M33.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

LOADS = {"ldr", "ldrb", "ldrh", "ldrsb", "ldrsh", "ldrex", "ldrexb", "ldrexh", "ldrt", "ldrbt", "ldrht",
         "ldrsbt", "ldrsht", "ldrd", "lda", "ldab", "ldah"}
STORES = {"str", "strb", "strh", "strex", "strexb", "strexh", "strt", "strbt", "strht", "strd", "stl", "stlb",
          "stlh"}
MULTIPLE = {"ldm", "ldmdb", "ldmia", "stm", "stmdb", "stmia", "push", "pop"}
MULTIPLIES = {"mul", "muls", "mla", "mls", "smull", "umull", "smlal", "umlal", "umaal", "smmul", "smmulr", "smmla",
              "smmlar", "smmls", "smmlsr", "smlad", "smladx", "smlsd", "smlsdx", "smlald", "smlaldx", "smlsld",
              "smlsldx", "smuad", "smuadx", "smusd", "smusdx", "smlabb", "smlabt", "smlatb", "smlatt", "smlawb",
              "smlawt", "smulbb", "smulbt", "smultb", "smultt", "smulwb", "smulwt", "smlalbb", "smlalbt",
              "smlaltb", "smlaltt"}
DIVIDES = {"sdiv", "udiv"}
# FPU (float32 builds): loads and stores count as LOADS/STORES, block transfers as MULTIPLE.
FP_LOADS, FP_STORES = {"vldr"}, {"vstr"}
FP_MULTIPLE = {"vldmia", "vldmdb", "vstmia", "vstmdb", "vpush", "vpop"}
FP_MACS = {"vmla", "vmls", "vnmla", "vnmls", "vfma", "vfms", "vfnma", "vfnms"}
FP_DIVIDES = {"vdiv", "vsqrt"}
BRANCHES = {"b", "bl", "blx", "bx", "cbz", "cbnz", "tbb", "tbh"}
CALLS = {"bl", "blx"}
# Single-cycle DSP-extension and saturating data processing (M7 issues them only as the older of a pair).
DSP = {"ssat", "usat", "ssat16", "usat16", "sxtb16", "uxtb16", "sxtab16", "uxtab16", "qadd", "qsub", "qdadd",
       "qdsub", "qadd8", "qadd16", "qsub8", "qsub16", "sadd8", "sadd16", "ssub8", "ssub16", "uadd8", "uadd16",
       "usub8", "usub16", "shadd8", "shadd16", "pkhbt", "pkhtb", "sel", "usad8", "usada8", "sxtb", "sxth", "uxtb",
       "uxth", "sxtab", "sxtah", "uxtab", "uxtah", "rev", "rev16", "revsh", "rbit", "clz", "bfi", "bfc", "sbfx",
       "ubfx"}


@dataclass(frozen=True)
class CostModel:
    core: str
    alu: float
    dsp: float
    mul: float
    div: float
    load: float
    store: float
    pipelined_access: float  # a load/store single right after another load/store single
    multiple_base: float  # LDM/STM/PUSH/POP: base + per_register * N
    per_register: float
    taken: float  # a branch or PC write, taken
    not_taken: float
    call: float  # BL/BLX
    pop_pc_extra: float  # POP {..,PC} over a plain POP
    it: float
    source: str
    fp: float = 1  # FPU data processing: VADD, VMUL, VCMP, VCVT, VMOV, ...
    fp_mac: float = 3  # VMLA, VFMA and their kin
    fp_div: float = 14  # VDIV, VSQRT
    load_use: float = 0  # a stall when an instruction reads the register the load right before it wrote

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


COST_MODELS = {
    "cortex-m0plus": CostModel("cortex-m0plus", alu=1, dsp=1, mul=1, div=7, load=2, store=2, pipelined_access=2,
                               multiple_base=1, per_register=1, taken=2, not_taken=1, call=3, pop_pc_extra=2, it=1,
                               source="Cortex-M0+ TRM (ARM DDI 0484C) table 3.1, fast multiplier"),
    "cortex-m4": CostModel("cortex-m4", alu=1, dsp=1, mul=1, div=7, load=2, store=2, pipelined_access=1,
                           multiple_base=1, per_register=1, taken=3, not_taken=1, call=3, pop_pc_extra=2, it=1,
                           source="Cortex-M4 TRM (ARM DDI 0439B) table 3-1, P = 2"),
    "cortex-m7": CostModel("cortex-m7", alu=0.5, dsp=1, mul=1, div=7, load=1, store=1, pipelined_access=1,
                           multiple_base=1, per_register=0.5, taken=1, not_taken=0.5, call=1, pop_pc_extra=1, it=0.5,
                           source="no ARM cycle table; dual-issue estimate (see mcugen/target/cycles.py)", fp_mac=1),
    "cortex-m33": CostModel("cortex-m33", alu=1, dsp=1, mul=1, div=7, load=1, store=1, pipelined_access=1,
                            multiple_base=0, per_register=1, taken=2, not_taken=1, call=2, pop_pc_extra=1, it=1,
                            load_use=1, source="no ARM cycle table; single-cycle MAC (Arm) and timings measured on "
                            "an M33 r1p0 (jnk0le/random, pipeline cycle test; see mcugen/target/cycles.py)"),
}


@dataclass(frozen=True)
class Block:
    """One decoded basic block: its length and its cost before its final branch."""
    instructions: int
    cost: float  # every instruction but a final branch
    branch: str | None  # "call", "branch", "pop_pc" or None when the block does not end in one

    def total(self, model: CostModel, taken: bool) -> float:
        if self.branch is None:
            return self.cost
        if self.branch == "call":
            return self.cost + model.call
        if self.branch == "pop_pc":  # the POP itself is in `cost`
            return self.cost + model.pop_pc_extra
        return self.cost + (model.taken if taken else model.not_taken)


def thumb_instruction_count(code: bytes) -> int:
    """Instructions in a block of Thumb code: a halfword whose top five bits are 0b11101,
    0b11110 or 0b11111 starts a 32-bit instruction; any other is a 16-bit instruction."""
    count, i = 0, 0
    while i + 1 < len(code):
        top5 = code[i + 1] >> 3  # little-endian halfword: the high byte comes second
        i += 4 if top5 in (0b11101, 0b11110, 0b11111) else 2
        count += 1
    return count


@lru_cache(maxsize=1)
def _disassembler():
    import capstone

    md = capstone.Cs(capstone.CS_ARCH_ARM, capstone.CS_MODE_THUMB | capstone.CS_MODE_MCLASS)
    md.detail = True
    return md


def decode(code: bytes, address: int, model: CostModel) -> Block:
    """Decode one block and price it with `model`."""
    import capstone.arm as arm

    insns = list(_disassembler().disasm(code, address))
    count = thumb_instruction_count(code)
    if sum(i.size for i in insns) != len(code) or len(insns) != count:
        raise ValueError(f"block at 0x{address:08x}: capstone decodes {len(insns)} instructions, "
                         f"the halfword rule {count}")
    cost, previous_access, branch, loaded = 0.0, False, None, set()
    for n, insn in enumerate(insns):
        name = insn.insn_name()
        regs = [op.reg for op in insn.operands if op.type == arm.ARM_OP_REG]
        access = name in LOADS or name in STORES or name in FP_LOADS or name in FP_STORES
        last = n == len(insns) - 1
        if model.load_use and loaded & _reads(insn, name):
            cost += model.load_use
        loaded = set(regs[:2 if name == "ldrd" else 1]) if name in LOADS else set()
        if last and (name in BRANCHES or (name not in MULTIPLE and regs[:1] == [arm.ARM_REG_PC])):
            branch = "call" if name in CALLS else "branch"
            continue
        if last and name == "pop" and arm.ARM_REG_PC in regs:
            branch = "pop_pc"
        cost += _cost(name, len(regs), access, previous_access, model)
        previous_access = access and name not in ("ldrd", "strd")
    return Block(count, cost, branch)


def _reads(insn, name: str) -> set[int]:
    """The registers an instruction reads, for the load-use stall; a store's data register is
    read late (a load's result feeds a store without a stall), so only its address counts."""
    import capstone.arm as arm

    if name in STORES:
        return {r for op in insn.operands if op.type == arm.ARM_OP_MEM for r in (op.mem.base, op.mem.index) if r}
    return set(insn.regs_access()[0])


def _cost(name: str, nregs: int, access: bool, previous_access: bool, model: CostModel) -> float:
    if access:
        base = model.pipelined_access if previous_access else (model.store if name in STORES | FP_STORES
                                                               else model.load)
        return base + (model.per_register if name in ("ldrd", "strd") else 0)
    if name in FP_MULTIPLE:
        return model.multiple_base + model.per_register * max(nregs - (1 if name.startswith(("vldm", "vstm")) else 0), 1)
    if name in FP_MACS:
        return model.fp_mac
    if name in FP_DIVIDES:
        return model.fp_div
    if name.startswith("v"):  # any other FPU instruction
        return model.fp
    if name in MULTIPLE:
        return model.multiple_base + model.per_register * max(nregs - (1 if name in ("ldm", "stm", "ldmia",
                                                                                     "stmia", "ldmdb",
                                                                                     "stmdb") else 0), 1)
    if name in MULTIPLIES:
        return model.mul
    if name in DIVIDES:
        return model.div
    if name == "it":
        return model.it
    if name in DSP:
        return model.dsp
    return model.alu
