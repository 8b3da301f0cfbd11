"""An independent check of a plan: byte by byte and step by step."""

import itertools


def corrupts(bufs, offsets, rules) -> bool:
    """Independent check, byte by byte and step by step: two live buffers may share bytes
    only as an allowed (input, output) pair with the output at least `distance` below."""
    for step in range(max(b.last for b in bufs) + 1):
        live = [b for b in bufs if b.first <= step <= b.last and b.size]
        for a, b in itertools.combinations(live, 2):
            a0, b0 = offsets[a.name], offsets[b.name]
            if a0 < b0 + b.size and b0 < a0 + a.size:  # bytes shared
                for src, dst in ((a, b), (b, a)):
                    allowed = (src.name, dst.name) in rules and step == src.last == dst.first
                    if allowed and offsets[dst.name] <= offsets[src.name] - rules[(src.name, dst.name)]:
                        break
                else:
                    return True
    return False
