"""Memory planner: every activation gets a fixed offset in one arena.

The interface is small on purpose, so better strategies can replace the one here:
    buffers(graph) -> [Buffer]          what must be stored, and when (lifetimes)
    greedy_by_size(buffers) -> offsets  TFLM's GreedyMemoryPlanner: largest first, first fit
    plan(graph) -> Plan                 the above, plus the arena size and the lower bound

Execution is layer by layer in graph order; step i runs node i, which reads its inputs
and writes its output while they are all live (no in-place kernels yet). The model's
input is live from before step 0; its output stays live after the last step, so the
caller can read it. Offsets are aligned to ALIGN bytes so kernels may read words.
"""

from __future__ import annotations

from dataclasses import dataclass

from mcugen.ir import Graph

ALIGN = 4


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int
    first: int  # first step at which the bytes must hold the tensor
    last: int  # last step that reads it

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Plan:
    offsets: dict[str, int]
    arena_size: int
    lower_bound: int  # the most bytes live at any one step: no layer-by-layer plan can go lower
    buffers: list[Buffer]
    strategy: str = "greedy_by_size"


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def buffers(graph: Graph) -> list[Buffer]:
    end = len(graph.nodes)  # the output is read by the caller, after the last step
    first = {graph.input: 0}
    last = {graph.input: 0}
    for step, node in enumerate(graph.nodes):
        for name in node.inputs:
            last[name] = max(last.get(name, step), step)
        for name in node.outputs:
            first[name] = step
            last.setdefault(name, step)
    last[graph.output] = end
    return [Buffer(name, graph.tensors[name].size, first[name], last[name]) for name in first]


def greedy_by_size(bufs: list[Buffer]) -> dict[str, int]:
    """Place the largest buffers first, each at the lowest offset that is free for its lifetime."""
    placed: list[tuple[int, Buffer]] = []
    offsets = {}
    for buf in sorted(bufs, key=lambda b: (-b.size, b.first, b.name)):
        offset = 0
        live = [(o, b) for o, b in placed if b.overlaps_in_time(buf)]
        for other_offset, other in sorted(live, key=lambda pair: pair[0]):
            if offset + buf.size <= other_offset:
                break  # the gap before `other` is big enough
            offset = max(offset, align(other_offset + other.size))
        placed.append((offset, buf))
        offsets[buf.name] = offset
    return offsets


def lower_bound(bufs: list[Buffer]) -> int:
    steps = range(min(b.first for b in bufs), max(b.last for b in bufs) + 1)
    return max(sum(b.size for b in bufs if b.first <= s <= b.last) for s in steps)


def conflicts(bufs: list[Buffer], offsets: dict[str, int]) -> list[tuple[str, str]]:
    """Pairs of buffers live at the same time whose bytes overlap (a correct plan has none)."""
    bad = []
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if a.overlaps_in_time(b) and a.size and b.size:
                if offsets[a.name] < offsets[b.name] + b.size and offsets[b.name] < offsets[a.name] + a.size:
                    bad.append((a.name, b.name))
    return bad


def plan(graph: Graph) -> Plan:
    bufs = buffers(graph)
    offsets = greedy_by_size(bufs)
    size = align(max(offsets[b.name] + b.size for b in bufs))
    return Plan(offsets, size, lower_bound(bufs), bufs)
