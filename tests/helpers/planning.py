"""An independent check of a plan: byte by byte and step by step."""

import itertools


def allowed(src, dst, offsets, rule) -> bool:
    """May dst (written at the step that last reads src) share bytes with src? A rule is an
    int (the output at least that far below the input: its kernel runs front to back) or an
    Overlap (the same `below`, or the output's end at least `above` above the input's end:
    back to front)."""
    below, above = (rule, None) if isinstance(rule, int) else (rule.below, rule.above)
    s0, d0 = offsets[src.name], offsets[dst.name]
    return ((below is not None and d0 <= s0 - below)
            or (above is not None and d0 + dst.size >= s0 + src.size + above))


def corrupts(bufs, offsets, rules) -> bool:
    """Independent check, byte by byte and step by step: two live buffers may share bytes
    only as an allowed (input, output) pair, the output far enough below or above."""
    for step in range(max(b.last for b in bufs) + 1):
        live = [b for b in bufs if b.first <= step <= b.last and b.size]
        for a, b in itertools.combinations(live, 2):
            a0, b0 = offsets[a.name], offsets[b.name]
            if a0 < b0 + b.size and b0 < a0 + a.size:  # bytes shared
                for src, dst in ((a, b), (b, a)):
                    pair = (src.name, dst.name)
                    if pair in rules and step == src.last == dst.first and allowed(src, dst, offsets, rules[pair]):
                        break
                else:
                    return True
    return False
