"""Offsets: buffers in, offsets out. Nothing here knows about graphs, ops or precisions.

A Buffer is a size and the steps it is live (first to last, inclusive). Two buffers live at
the same step may not share a byte, except an (input, output) pair named in `rules`: there
the output may start `distance` bytes below the input and run into it (the kernel reads
every input byte before it overwrites it; mcugen/planner/execution.py derives the
distances from each op's loop order). Offsets are multiples of ALIGN.

assign() tries first fit over several orderings (TFLM's greedy-by-size among them), an
exact solver for chains (at most two buffers live at any step, as in MobileNet v1) and a
seeded search over orders, and keeps the smallest valid arena. lower_bound() is the most
bytes any one step needs under the same rules: no assignment can use fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGN = 4
Rules = dict[tuple[str, str], int]  # (input, output) -> how far below the input the output may start


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int
    first: int  # first step at which the bytes must hold the tensor
    last: int  # last step that reads it
    scratch: bool = False  # a kernel's working memory, live during its own layer only

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class Assignment:
    strategy: str  # the strategy that gave the smallest arena
    offsets: dict[str, int]
    arena_size: int
    sizes: dict[str, int]  # arena size found by each valid strategy ("no_overlap": TFLM's, without rules)


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


def forbidden(a: Buffer, b: Buffer, rules) -> tuple[int, int] | None:
    """The open interval of offset(b) - offset(a) that would corrupt data, or None."""
    if not a.overlaps_in_time(b):
        return None
    if (a.name, b.name) in rules:  # b is written while a is read
        return -rules[(a.name, b.name)], a.size
    if (b.name, a.name) in rules:
        return -b.size, rules[(b.name, a.name)]
    return -b.size, a.size


def conflicts(bufs: list[Buffer], offsets: dict[str, int], rules=None) -> list[tuple[str, str]]:
    """Pairs whose placement breaks the rules (a correct plan has none)."""
    bad = []
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            interval = forbidden(a, b, rules or {})
            if interval and a.size and b.size and interval[0] < offsets[b.name] - offsets[a.name] < interval[1]:
                bad.append((a.name, b.name))
    return bad


def step_needs(bufs: list[Buffer], rules) -> list[int]:
    """Bytes each step needs under the rules: live buffers, an overlapped pair counted once."""
    steps = max(b.last for b in bufs) + 1
    needs = [sum(b.size for b in bufs if b.first <= s <= b.last) for s in range(steps)]
    sizes = {b.name: b for b in bufs}
    for (src, dst), distance in rules.items():
        a, b = sizes[src], sizes[dst]
        needs[b.first] -= a.size + b.size - min(a.size + b.size, max(a.size + distance, b.size))
    return needs


def lower_bound(bufs: list[Buffer], rules=None) -> int:
    return max(step_needs(bufs, rules or {}))


# ---------------------------------------------------------------------------- offsets


def first_fit(bufs: list[Buffer], rules, key, fixed: dict[str, int] | None = None) -> dict[str, int]:
    """Place buffers in `key` order, each at the lowest aligned offset the rules allow
    (around those already at the `fixed` offsets)."""
    fixed = fixed or {}
    by_name = {b.name: b for b in bufs}
    placed: list[tuple[int, Buffer]] = [(offset, by_name[name]) for name, offset in fixed.items()]
    offsets = dict(fixed)
    for buf in sorted((b for b in bufs if b.name not in fixed), key=key):
        blocked = []
        for offset, other in placed:
            interval = forbidden(other, buf, rules)
            if interval and buf.size and other.size:
                blocked.append((offset + interval[0], offset + interval[1]))
        offset = 0
        for lo, hi in sorted(blocked):
            if offset <= lo:
                break
            if offset < hi:
                offset = align(hi)
        placed.append((offset, buf))
        offsets[buf.name] = offset
    return offsets


ORDERINGS = {
    "greedy_by_size": lambda b: (-b.size, b.first, b.name),  # TFLM's GreedyMemoryPlanner order
    "by_first_use": lambda b: (b.first, -b.size, b.name),
    "by_lifetime": lambda b: (-(b.last - b.first), -b.size, b.name),
    "by_size_x_lifetime": lambda b: (-b.size * (b.last - b.first + 1), b.first, b.name),
    # An output that overlaps its input sits below it; placing later tensors first leaves
    # room for that, where first fit in use order puts the input at 0 and the output above.
    "by_last_use_reversed": lambda b: (-b.last, -b.size, b.name),
    "greedy_by_size_late_first": lambda b: (-b.size, -b.first, b.name),
}
SEARCH_STEPS = 512  # first fits tried by the order search below: cheap, and often the best


def search_orders(bufs: list[Buffer], rules) -> dict[str, int]:
    """First fit over seeded random orders, then a hill climb from the best one: move one
    buffer elsewhere in the order, keep the move unless the arena grows. On graphs with
    branches (residuals, squeeze-and-excitation) no fixed ordering rule keeps every
    overlapped pair in a good order; this usually finds one. Seeded: same graph, same plan."""
    rng = np.random.default_rng(0)
    names = sorted(b.name for b in bufs)
    best_order, best, best_size = None, None, None
    for step in range(SEARCH_STEPS):
        if step < SEARCH_STEPS // 4:
            order = [names[i] for i in rng.permutation(len(names))]
        else:
            order = list(best_order)
            src, dst = rng.integers(len(order), size=2)
            order.insert(dst, order.pop(src))
        rank = {name: i for i, name in enumerate(order)}
        offsets = first_fit(bufs, rules, lambda b, rank=rank: rank[b.name])
        size = _arena(bufs, offsets)
        if best_size is None or size <= best_size:
            best_order, best, best_size = order, offsets, size
    return best


def _floor(n: int) -> int:
    return n // ALIGN * ALIGN


def chain_optimal(bufs: list[Buffer], rules, upper: int) -> dict[str, int] | None:
    """The smallest arena exactly, when only consecutive buffers (by first use) are ever live
    together: binary search on the arena size; for each size, the feasible offsets of each
    buffer form at most two intervals, computed front to back."""
    chain = sorted(bufs, key=lambda b: (b.first, b.last, b.name))
    for i, a in enumerate(chain):
        if any(a.overlaps_in_time(b) for b in chain[i + 2:]):
            return None
    gaps = [forbidden(a, b, rules) if a.size and b.size else None for a, b in zip(chain, chain[1:])]

    def feasible_sets(arena):
        sets = [[(0, _floor(arena - chain[0].size))]]
        for gap, buf in zip(gaps, chain[1:]):
            top = _floor(arena - buf.size)
            if gap is None:
                options = [(0, top)]
            else:  # offset(buf) - offset(prev) must be <= gap[0] or >= gap[1]
                low, high = sets[-1][0][0], sets[-1][-1][1]
                options = [(0, min(top, _floor(high + gap[0]))), (max(0, align(low + gap[1])), top)]
            options = [(a, b) for a, b in options if 0 <= a <= b]
            if not options:
                return None
            sets.append(options)
        return sets if sets[0][0][1] >= 0 else None

    def pick(interval, nxt, gap):
        """The lowest offset in `interval` compatible with the next buffer at `nxt`."""
        a, b = interval
        if gap is None or a <= nxt - gap[1]:
            return a
        y = align(max(a, nxt - gap[0]))
        return y if y <= b else None

    lo, hi = align(max(b.size for b in chain)), align(upper)
    if feasible_sets(hi) is None:
        return None
    while lo < hi:  # feasibility is monotone in the arena size
        mid = _floor((lo + hi) // 2)
        if feasible_sets(mid) is None:
            lo = mid + ALIGN
        else:
            hi = mid
    sets = feasible_sets(hi)
    offsets = {chain[-1].name: sets[-1][0][0]}
    for k in range(len(chain) - 2, -1, -1):  # walk back: each offset fits the next one's
        nxt = offsets[chain[k + 1].name]
        picks = [p for p in (pick(i, nxt, gaps[k]) for i in sets[k]) if p is not None]
        if not picks:
            return None
        offsets[chain[k].name] = min(picks)
    return offsets


def _arena(bufs, offsets) -> int:
    return align(max(offsets[b.name] + b.size for b in bufs))


def assign(bufs: list[Buffer], rules: Rules) -> Assignment:
    """Try every strategy; keep the smallest valid arena."""
    results = {name: first_fit(bufs, rules, key) for name, key in ORDERINGS.items()}
    results["no_overlap"] = first_fit(bufs, {}, ORDERINGS["greedy_by_size"])  # always valid
    best = min(_arena(bufs, o) for o in results.values())
    # Kernels' scratch buffers live for one step each: solve the tensors' chain exactly,
    # then fit each scratch buffer into the gaps left at its step.
    tensors = [b for b in bufs if not b.scratch]
    exact = chain_optimal(tensors, rules, best)
    if exact is not None:
        results["chain_exact"] = first_fit(bufs, rules, ORDERINGS["greedy_by_size"], fixed=exact)
    else:  # the exact solver is optimal where it applies: search only where it does not
        results["order_search"] = search_orders(bufs, rules)
        if len(tensors) < len(bufs):  # and as for chains: tensors first, scratch in the gaps
            results["order_search_scratch_after"] = first_fit(
                bufs, rules, ORDERINGS["greedy_by_size"], fixed=search_orders(tensors, rules))
    results = {name: o for name, o in results.items() if not conflicts(bufs, o, rules)}
    sizes = {name: _arena(bufs, o) for name, o in results.items()}
    name = min(sizes, key=lambda n: (sizes[n], n != "chain_exact", n))
    return Assignment(name, results[name], sizes[name], sizes)
