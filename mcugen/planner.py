"""Memory planner: every activation gets a fixed offset in one arena.

Execution is layer by layer; step i runs layer i, which reads its inputs and writes its
output. The model's input is live from step 0; its output stays live after the last step
so the caller can read it. Offsets are multiples of ALIGN.

Two buffers live at the same step may not share a byte, with one exception: a layer with
one input may write its output over that input when it is the input's last reader (a
residual Add or a Mul keeps both of its inputs apart from its output). The
kernel writes its output front to back while it reads the input front to back
(ops.<op>.access states its loop order), so the output may start `distance` bytes below
the input and run into it: every input byte is read before it is overwritten. That is
how depthwise convolutions run in place (one row of slack instead of a row buffer), and
how a 1x1 conv that widens 8 -> 16 channels needs little more than its output's size.

Streaming (decide_streams, int8 only, on unless stream=False): a pointwise conv whose only
reader is the depthwise conv after it may run inside that layer, row by row, so that its
output never exists whole; the pair is then one step that reads the pointwise input and
writes the depthwise output (overlapping it as the consumer's stream_access allows) with
a window of rows as scratch. It is chosen only where it lowers the lower bound.

Offsets: first fit under these rules, over several orderings (TFLM's largest-first among
them) and a seeded search over orders, plus an exact solver for chains (at most two buffers live at any step, as in
MobileNet v1); the smallest arena wins. The lower bound is the most bytes any one step
needs under the same rules: no plan for this execution order can use fewer.

Sizes are in bytes: elem_bytes is 1 for int8 tensors and 4 for --precision float32, and
the kernels' Access (stated in elements) is scaled by it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import islice

import numpy as np

from mcugen import ops
from mcugen.errors import McugenError, quote
from mcugen.ir import Graph, Node

ALIGN = 4
MAX_ORDERS = 2000  # execution orders tried when branches can run in several orders


@dataclass(frozen=True)
class Buffer:
    name: str
    size: int
    first: int  # first step at which the bytes must hold the tensor
    last: int  # last step that reads it
    scratch: bool = False  # a kernel's working memory, live during its own layer only

    def overlaps_in_time(self, other: Buffer) -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass
class Plan:
    offsets: dict[str, int]
    arena_size: int
    lower_bound: int  # the most bytes live at one step under the overlap rules
    peak_step: int  # the step that sets the lower bound
    buffers: list[Buffer]
    overlaps: dict[tuple[str, str], int]  # (input, output) -> distance, the pairs that may share bytes
    strategy: str
    baseline_bytes: int = 0  # TFLM's greedy-by-size with no overlap, for comparison
    candidates: dict[str, int] = field(default_factory=dict)  # arena size found by each strategy
    elem_bytes: int = 1  # bytes per tensor element: 1 (int8) or 4 (float32)
    streamed: list[int] = field(default_factory=list)  # layers run inside the next one (decide_streams)


def align(n: int) -> int:
    return (n + ALIGN - 1) // ALIGN * ALIGN


# ---------------------------------------------------------------------------- lifetimes and rules


def buffers(graph: Graph, elem_bytes: int = 1) -> list[Buffer]:
    first = {graph.input: 0}
    last = {graph.input: 0}
    for step, (node, read) in enumerate(zip(graph.nodes, reads(graph))):
        for name in read:
            last[name] = max(last.get(name, step), step)
        if is_streamed(node):  # its output never exists whole: no buffer
            continue
        for name in node.outputs:
            first[name] = step
            last.setdefault(name, step)
    last[graph.output] = len(graph.nodes)  # read by the caller, after the last step
    bufs = [Buffer(name, graph.tensors[name].size * elem_bytes, first[name], last[name]) for name in first]
    for step in range(len(graph.nodes)):
        size = step_scratch(graph, step) if elem_bytes == 1 else 0  # the float kernels need none
        if size:  # a kernel's working memory: live during its own layer only
            bufs.append(Buffer(scratch_name(graph, step), size, step, step, scratch=True))
    return bufs


def scratch_bytes(graph: Graph, node: Node) -> int:
    """The optional `scratch` hook of an op: bytes of working memory its kernel needs."""
    hook = getattr(ops.get(node.op), "scratch", None) if node.op in ops.REGISTRY else None
    return align(hook(node, *graph.in_shapes(node), graph.shape(node.output))) if hook else 0


# ---------------------------------------------------------------------------- streaming

STREAMED = "streamed"  # node attrs key: this layer runs row by row inside the next one


def is_streamed(node: Node) -> bool:
    return bool(node.attrs.get(STREAMED))


def streams_from(graph: Graph, step: int) -> Node | None:
    """The producer streamed into layer `step`, if any: the layer just before it."""
    return graph.nodes[step - 1] if step > 0 and is_streamed(graph.nodes[step - 1]) else None


def reads(graph: Graph) -> list[list[str]]:
    """The arena tensors each step reads. A streamed producer runs inside the next step:
    it reads nothing at its own step, and its input is read by the next one in its place."""
    out = [list(node.inputs) for node in graph.nodes]
    for step, node in enumerate(graph.nodes):
        if is_streamed(node):
            out[step] = []
            out[step + 1] = [node.input if name == node.output else name for name in out[step + 1]]
    return out


def step_scratch(graph: Graph, step: int) -> int:
    """Bytes of working memory at a step: the kernel's own, or for a layer with a streamed
    producer, its row window and the producer's scratch (the consumer's stream_scratch)."""
    node = graph.nodes[step]
    if is_streamed(node):
        return 0
    producer = streams_from(graph, step)
    if producer is None:
        return scratch_bytes(graph, node)
    hook = ops.get(node.op).stream_scratch
    return align(hook(node, producer, graph.shape(producer.input), graph.shape(node.input), graph.shape(node.output)))


def can_stream(graph: Graph, step: int) -> bool:
    """May layer `step` run row by row inside layer step + 1? When the next layer's op
    consumes rows (an optional can_stream hook) and is the only reader of the output."""
    if step + 1 >= len(graph.nodes):
        return False
    node, nxt = graph.nodes[step], graph.nodes[step + 1]
    hook = getattr(ops.get(nxt.op), "can_stream", None)
    readers = [n for n in graph.nodes if node.output in n.inputs]
    return (hook is not None and nxt.inputs == [node.output] and len(readers) == 1 and readers[0] is nxt
            and node.output != graph.output and hook(nxt, node, graph.shape(node.input)))


def decide_streams(graph: Graph) -> None:
    """Stream a producer into its consumer (MCUNetV2's patch-based inference, without
    recomputation: a window of rows) where, and only where, that lowers the lower bound:
    the layers that set the peak, one at a time until no candidate helps. Each streamed
    layer costs a few instructions per row and keeps its output from ever existing whole.
    The choice is recorded in the producer's attrs[STREAMED]."""
    for node in graph.nodes:
        node.attrs.pop(STREAMED, None)
    candidates = [step for step in range(len(graph.nodes)) if can_stream(graph, step)]
    bound = lower_bound(buffers(graph), overlap_rules(graph))
    while True:
        best = None
        for step in candidates:
            node = graph.nodes[step]
            # A layer is a producer or a consumer, not both: no chains of streams.
            if is_streamed(node) or is_streamed(graph.nodes[step + 1]) or (step and is_streamed(graph.nodes[step - 1])):
                continue
            node.attrs[STREAMED] = True
            trial = lower_bound(buffers(graph), overlap_rules(graph))
            del node.attrs[STREAMED]
            if trial < bound and (best is None or trial < best[0]):
                best = (trial, step)
        if best is None:
            return
        bound = best[0]
        graph.nodes[best[1]].attrs[STREAMED] = True


def scratch_name(graph: Graph, step: int) -> str:
    """A buffer name no tensor of the model has (ONNX names are the model's to choose)."""
    name = f"<scratch of layer {step}>"
    while name in graph.tensors:
        name += "'"
    return name


def safe_distance(access: ops.common.Access) -> int:
    """How far below the input's start the output may begin: for every write step, the
    bytes written so far must stay below every input byte still to be read."""
    still_read = np.minimum.accumulate(access.first_read[::-1])[::-1]
    written = (np.arange(len(still_read)) + 1) * access.step_bytes
    return align(max(0, int(np.max(written - still_read))))


def scaled(access: ops.common.Access, elem_bytes: int) -> ops.common.Access:
    """An op's Access (in elements) in bytes."""
    return ops.common.Access(access.first_read * elem_bytes, access.step_bytes * elem_bytes)


def overlap_rules(graph: Graph, elem_bytes: int = 1) -> dict[tuple[str, str], int]:
    """(input, output) pairs that may share bytes, with their safe distance."""
    step_reads = reads(graph)
    last_reader = {}
    for step, read in enumerate(step_reads):
        for name in read:
            last_reader[name] = step
    rules = {}
    for step, (node, read) in enumerate(zip(graph.nodes, step_reads)):
        # A node with several inputs (add, mul) keeps each of them apart from its output.
        if len(read) != 1 or len(node.inputs) != 1 or is_streamed(node):
            continue
        src, dst = read[0], node.output
        if last_reader[src] != step or src == graph.output:
            continue
        in_shape, out_shape = graph.shape(src), graph.shape(dst)
        op = ops.get(node.op)
        producer = streams_from(graph, step)
        if producer is not None:  # the consumer's loop order over its producer's input
            access = op.stream_access(node, producer, in_shape, graph.shape(node.input), out_shape)
            distance = safe_distance(scaled(access, elem_bytes))
        else:
            # An op whose float kernel walks memory unlike its int8 one says so with float_access.
            access = getattr(op, "float_access", op.access) if elem_bytes != 1 else op.access
            distance = safe_distance(scaled(access(node, in_shape, out_shape), elem_bytes))
        if distance < graph.tensors[dst].size * elem_bytes:
            rules[(src, dst)] = distance
    return rules


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
        offsets = first_fit(bufs, rules, lambda b: rank[b.name])
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


def assign(bufs: list[Buffer], rules) -> tuple[str, dict[str, int], dict[str, int]]:
    """Try every strategy; keep the smallest valid arena. Returns (name, offsets, sizes)."""
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
    return name, results[name], sizes


# ---------------------------------------------------------------------------- execution order


def topological_orders(graph: Graph):
    """Every execution order of the nodes that respects data dependencies (lazily)."""
    producers = {o: n for n in graph.nodes for o in n.outputs}
    deps = {id(n): {id(producers[i]) for i in n.inputs if i in producers} for n in graph.nodes}

    def walk(done: list[Node], left: list[Node]):
        if not left:
            yield list(done)
            return
        ready_ids = {id(n) for n in done}
        for node in left:
            if deps[id(node)] <= ready_ids:
                done.append(node)
                yield from walk(done, [n for n in left if n is not node])
                done.pop()

    return walk([], list(graph.nodes))


def schedule(graph: Graph) -> list[Node]:
    """The execution order with the smallest lower bound (the graph's order on ties)."""
    best, best_bound = graph.nodes, None
    original = graph.nodes
    for order in islice(topological_orders(graph), MAX_ORDERS):
        graph.nodes = order
        bound = lower_bound(buffers(graph), overlap_rules(graph))
        if best_bound is None or bound < best_bound:
            best, best_bound = order, bound
    graph.nodes = original
    return best


# ---------------------------------------------------------------------------- the plan


def decide_copies(graph: Graph) -> None:
    """Let a layer whose kernel can first copy its input into scratch (ops' optional
    copy_candidate hook: the small depthwise layers) do so where that is free: where the
    step's bytes, with the copy (which frees the whole input for the output) and its
    scratch, stay within the lower bound without any copies. The choice is recorded in the
    node's attrs["padded_copy"], which the op's scratch, access and C fields follow."""
    for node in graph.nodes:
        node.attrs.pop("padded_copy", None)
    bufs = buffers(graph)
    rules = overlap_rules(graph)
    needs = step_needs(bufs, rules)
    bound = max(needs)
    for step, node in enumerate(graph.nodes):
        if is_streamed(node) or streams_from(graph, step) is not None:
            continue  # a streamed pair's consumer reads a row window, not a whole input
        hook = getattr(ops.get(node.op), "copy_candidate", None) if node.op in ops.REGISTRY else None
        copy = hook(node, *graph.in_shapes(node), graph.shape(node.output)) if hook else 0
        if not copy:
            continue
        src, dst = graph.tensors[node.input], graph.tensors[node.output]
        pair = src.size + dst.size
        if (src.name, dst.name) in rules:
            pair = min(pair, max(src.size + rules[(src.name, dst.name)], dst.size))
        own_scratch = scratch_bytes(graph, node)
        with_copy = needs[step] - pair - own_scratch + max(src.size, dst.size) + align(copy)
        if with_copy <= bound:
            node.attrs["padded_copy"] = True


def plan(graph: Graph, elem_bytes: int = 1, stream: bool = True) -> Plan:
    """stream: let decide_streams run producers inside their consumers (int8 only)."""
    for node in graph.nodes:
        node.attrs.pop(STREAMED, None)
    if elem_bytes == 1:  # the float kernels never copy
        decide_copies(graph)
    layered = _plan(graph, elem_bytes)
    if elem_bytes != 1 or not stream:
        return layered
    decide_streams(graph)
    if not any(is_streamed(n) for n in graph.nodes):
        return layered
    decide_copies(graph)
    streamed = _plan(graph, elem_bytes, baseline=layered.baseline_bytes)
    if streamed.arena_size < layered.arena_size:
        return streamed
    for node in graph.nodes:  # a lower bound need not give a smaller arena: keep layer by layer
        node.attrs.pop(STREAMED, None)
    decide_copies(graph)
    return layered


def _plan(graph: Graph, elem_bytes: int, baseline: int | None = None) -> Plan:
    """Offsets for the graph as its attrs say (copies, streams). baseline: TFLM's
    greedy-by-size without overlap, kept from the layer-by-layer buffers for comparison."""
    bufs = buffers(graph, elem_bytes)
    rules = overlap_rules(graph, elem_bytes)
    name, offsets, sizes = assign(bufs, rules)
    needs = step_needs(bufs, rules)
    return Plan(offsets, _arena(bufs, offsets), max(needs), int(np.argmax(needs)), bufs, rules, name,
                sizes["no_overlap"] if baseline is None else baseline, sizes, elem_bytes,
                streamed=[i for i, n in enumerate(graph.nodes) if is_streamed(n)])


# ---------------------------------------------------------------------------- RAM budget


UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20}


def parse_bytes(text: str) -> int:
    """'37500', '64K', '0.5M' -> bytes; K and M are 1024 and 1024**2, as for RAM sizes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise McugenError(f"--ram-limit {text!r}: expected bytes such as 37500, 64K or 0.5M")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def check_limit(graph: Graph, plan: Plan, limit_text: str | None) -> None:
    """Refuse a plan over --ram-limit, saying which layer sets the peak and by how much."""
    if limit_text is None:
        return
    limit = parse_bytes(limit_text)
    if plan.arena_size <= limit:
        return
    node = graph.nodes[min(plan.peak_step, len(graph.nodes) - 1)]
    where = f"layer {plan.peak_step} ({node.op} {quote(node.name or '<unnamed>')})"
    if plan.lower_bound > limit:
        raise McugenError(
            f"the model needs {plan.arena_size:,} bytes of arena, {plan.arena_size - limit:,} over --ram-limit "
            f"{limit_text} ({limit:,} bytes); no plan for this execution fits: {where} alone needs "
            f"{plan.lower_bound:,} bytes live at once")
    raise McugenError(
        f"the model needs {plan.arena_size:,} bytes of arena, {plan.arena_size - limit:,} over --ram-limit "
        f"{limit_text} ({limit:,} bytes); the peak is {where}, which needs {plan.lower_bound:,} bytes live at once")
