"""Offsets: buffers in, offsets out. Nothing here knows about graphs, ops or precisions.

A Buffer is a size and the steps it is live (first to last, inclusive). Two buffers live at
the same step may not share a byte, except an (input, output) pair named in `rules`: there
the output may start `distance` bytes below the input and run into it (a kernel that runs
front to back reads every input byte before it overwrites it), or, for a kernel that can
also run back to front, end `above` bytes above the input's end and run into it from
above (an Overlap with both distances). mcugen/planner/execution.py derives the distances
from each op's loop orders; direction() tells which one a placement uses. Offsets are
multiples of ALIGN.

assign() tries first fit over several orderings (TFLM's greedy-by-size among them), an
exact solver for chains (at most two buffers live at any step, as in MobileNet v1) and a
seeded search over orders, and keeps the smallest valid arena. lower_bound() is the most
bytes any one step needs under the same rules: no assignment can use fewer.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ALIGN = 4


@dataclass(frozen=True)
class Overlap:
    """How an output may overlap its input: start `below` bytes (or more) below the input's
    start (the kernel runs front to back), or end `above` bytes (or more) above the input's
    end (it runs back to front). None: the kernel has no such direction. A plain int in
    the rules is Overlap(below=int)."""

    below: int | None = None
    above: int | None = None


Rules = dict[tuple[str, str], "int | Overlap"]  # (input, output) -> how the output may overlap the input


def overlap(rule) -> Overlap:
    return rule if isinstance(rule, Overlap) else Overlap(below=rule)


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
        return _gap(a.size, b.size, overlap(rules[(a.name, b.name)]))
    if (b.name, a.name) in rules:
        gap = _gap(b.size, a.size, overlap(rules[(b.name, a.name)]))
        return gap and (-gap[1], -gap[0])
    return -b.size, a.size


def _gap(src: int, dst: int, rule: Overlap) -> tuple[int, int] | None:
    """The forbidden open interval of offset(dst) - offset(src) for an overlapping pair: the
    output below by at least `below`, or its end above the input's by at least `above`,
    or apart. None when the two directions leave no offset forbidden."""
    lo = -dst if rule.below is None else -rule.below
    hi = src if rule.above is None else src - dst + rule.above
    return (lo, hi) if lo < hi else None


def direction(src: Buffer, dst: Buffer, offsets: dict[str, int], rule) -> str:
    """Which way the kernel must run for this placement: "backward" only when the output
    overlaps the input from above (front to back is the default, and the faster)."""
    delta = offsets[dst.name] - offsets[src.name]
    above = overlap(rule).above
    if above is not None and -dst.size < delta < src.size and delta >= src.size - dst.size + above:
        below = overlap(rule).below
        if below is None or delta > -below:
            return "backward"
    return "forward"


def shared_bytes(src: int, dst: int, rule) -> int:
    """The fewest bytes an overlapped pair can take together, in the better direction."""
    rule = overlap(rule)
    spans = [max(src + d, dst) for d in (rule.below, rule.above) if d is not None]
    return min([src + dst, *spans])


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
    for (src, dst), rule in rules.items():
        a, b = sizes[src], sizes[dst]
        needs[b.first] -= a.size + b.size - shared_bytes(a.size, b.size, rule)
    return needs


def lower_bound(bufs: list[Buffer], rules=None) -> int:
    return max(step_needs(bufs, rules or {}))


# ---------------------------------------------------------------------------- offsets


Neighbours = dict[str, list[tuple[str, int, int]]]


def neighbours(bufs: list[Buffer], rules) -> Neighbours:
    """For each buffer, the others it may not freely share bytes with, and the open interval
    of offset(buffer) - offset(other) that would corrupt data. Computed once per set of
    rules: first fit runs hundreds of times over the same pairs (search_orders), and most
    pairs are never live together."""
    near: Neighbours = {b.name: [] for b in bufs}
    for i, a in enumerate(bufs):
        for b in bufs[i + 1:]:
            if not (a.size and b.size and a.overlaps_in_time(b)):
                continue
            for x, y in ((a, b), (b, a)):
                interval = forbidden(x, y, rules)
                if interval:
                    near[y.name].append((x.name, *interval))
    return near


def first_fit(bufs: list[Buffer], rules, key, fixed: dict[str, int] | None = None,
              near: Neighbours | None = None) -> dict[str, int]:
    """Place buffers in `key` order, each at the lowest aligned offset the rules allow
    (around those already at the `fixed` offsets). `near`: neighbours(bufs, rules), when
    the caller has it already."""
    near = neighbours(bufs, rules) if near is None else near
    offsets = dict(fixed or {})
    for buf in sorted((b for b in bufs if b.name not in offsets), key=key):
        blocked = sorted((offsets[other] + lo, offsets[other] + hi) for other, lo, hi in near[buf.name]
                         if other in offsets)
        offset = 0
        for lo, hi in blocked:
            if offset <= lo:
                break
            if offset < hi:
                offset = align(hi)
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
    near = neighbours(bufs, rules)
    best_order, best, best_size = None, None, None
    for step in range(SEARCH_STEPS):
        if step < SEARCH_STEPS // 4:
            order = [names[i] for i in rng.permutation(len(names))]
        else:
            order = list(best_order)
            src, dst = rng.integers(len(order), size=2)
            order.insert(dst, order.pop(src))
        rank = {name: i for i, name in enumerate(order)}
        offsets = first_fit(bufs, rules, lambda b, rank=rank: rank[b.name], near=near)
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


def prefer_forward(bufs: list[Buffer], rules, offsets: dict[str, int]) -> dict[str, int]:
    """Where a pair overlaps from above (its kernel must run back to front) though it could
    run front to back, move its output or its input, alone, to the lowest place where front
    to back works, if the arena does not grow and fewer pairs run back to front: the forward
    kernels are the measured, default ones, and a search often picks a direction at random."""
    by_name = {b.name: b for b in bufs}
    arena = _arena(bufs, offsets)
    for (src, dst), rule in sorted(rules.items(), key=lambda item: item[0]):
        if overlap(rule).below is None or direction(by_name[src], by_name[dst], offsets, rule) == "forward":
            continue
        forward = dict(rules)
        forward[(src, dst)] = overlap(rule).below
        for name in (dst, src):
            fixed = {k: v for k, v in offsets.items() if k != name}
            trial = first_fit(bufs, forward, lambda b: b.name, fixed=fixed)
            if (_arena(bufs, trial) <= arena and not conflicts(bufs, trial, rules)
                    and len(backward_pairs(bufs, rules, trial)) < len(backward_pairs(bufs, rules, offsets))):
                offsets = trial
                break
    return offsets


def backward_pairs(bufs: list[Buffer], rules, offsets: dict[str, int]) -> list[tuple[str, str]]:
    """The overlapped pairs whose kernel must run back to front under these offsets."""
    by_name = {b.name: b for b in bufs}
    return [pair for pair, rule in sorted(rules.items(), key=lambda item: item[0])
            if direction(by_name[pair[0]], by_name[pair[1]], offsets, rule) == "backward"]


def resolve(bufs: list[Buffer], rules, offsets: dict[str, int]) -> Rules:
    """The rules as these offsets use them: each pair in the one direction its kernel will
    run (an int: front to back; Overlap(above=...): back to front)."""
    back = set(backward_pairs(bufs, rules, offsets))
    return {pair: Overlap(above=overlap(rule).above) if pair in back else overlap(rule).below
            for pair, rule in rules.items() if pair in back or overlap(rule).below is not None}


def forward_only(rules) -> Rules:
    """The rules with every kernel run front to back."""
    return {pair: overlap(rule).below for pair, rule in rules.items() if overlap(rule).below is not None}


def assign_directions(bufs: list[Buffer], rules: Rules) -> Assignment:
    """assign(), running kernels back to front only where that lowers the arena: every
    layer front to back first; both directions only if that plan is above the bound they
    allow, and kept only if smaller. A chain (solved exactly, in a moment) then gives up
    each back-to-front pair that the arena does not need; other plans keep prefer_forward's."""
    found = assign(bufs, forward_only(rules))
    if found.arena_size <= lower_bound(bufs, rules):
        return found
    both = assign(bufs, rules)
    if both.arena_size >= found.arena_size:
        return found
    if both.strategy == "chain_exact":
        for pair in backward_pairs(bufs, rules, both.offsets):
            fewer = {p: r if p != pair else overlap(r).below for p, r in rules.items()}
            fewer = {p: r for p, r in fewer.items() if r is not None}
            trial = assign(bufs, fewer)
            if trial.arena_size <= both.arena_size and not conflicts(bufs, trial.offsets, rules):
                rules, both = fewer, trial
    return both


def _arena(bufs, offsets) -> int:
    return align(max(offsets[b.name] + b.size for b in bufs))


def assign(bufs: list[Buffer], rules: Rules) -> Assignment:
    """Try every strategy; keep the smallest valid arena."""
    near = neighbours(bufs, rules)
    results = {name: first_fit(bufs, rules, key, near=near) for name, key in ORDERINGS.items()}
    results["no_overlap"] = first_fit(bufs, {}, ORDERINGS["greedy_by_size"])  # always valid
    best = min(_arena(bufs, o) for o in results.values())
    # Kernels' scratch buffers live for one step each: solve the tensors' chain exactly,
    # then fit each scratch buffer into the gaps left at its step.
    tensors = [b for b in bufs if not b.scratch]
    exact = chain_optimal(tensors, rules, best)
    if exact is not None:
        results["chain_exact"] = first_fit(bufs, rules, ORDERINGS["greedy_by_size"], fixed=exact, near=near)
    else:  # the exact solver is optimal where it applies: search only where it does not
        results["order_search"] = search_orders(bufs, rules)
        if len(tensors) < len(bufs):  # and as for chains: tensors first, scratch in the gaps
            results["order_search_scratch_after"] = first_fit(
                bufs, rules, ORDERINGS["greedy_by_size"], fixed=search_orders(tensors, rules))
    results = {name: o for name, o in results.items() if not conflicts(bufs, o, rules)}
    sizes = {name: _arena(bufs, o) for name, o in results.items()}
    name = min(sizes, key=lambda n: (sizes[n], n != "chain_exact", n))
    return Assignment(name, prefer_forward(bufs, rules, results[name]), sizes[name], sizes)
