"""--ram-limit and --flash-limit: a plan over the budget is refused (LimitError, exit 4),
naming the layer that sets the peak."""

from __future__ import annotations

import re

from mcugen.errors import LimitError, McugenError, quote
from mcugen.ir import Graph

UNITS = {"": 1, "B": 1, "K": 1024, "KB": 1024, "KIB": 1024, "M": 1 << 20, "MB": 1 << 20, "MIB": 1 << 20}


def parse_bytes(text: str, option: str = "--ram-limit") -> int:
    """'37500', '64K', '0.5M' -> bytes; K and M are 1024 and 1024**2, as for RAM sizes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([A-Za-z]*)\s*", text)
    if not match or match.group(2).upper() not in UNITS:
        raise McugenError(f"{option} {text!r}: expected bytes such as 37500, 64K or 0.5M")
    return int(float(match.group(1)) * UNITS[match.group(2).upper()])


def check_limit(graph: Graph, plan, limit_text: str | None) -> None:
    """Refuse a plan over --ram-limit, saying which layer sets the peak and by how much."""
    if limit_text is None:
        return
    limit = parse_bytes(limit_text)
    if plan.arena_size <= limit:
        return
    node = graph.nodes[min(plan.peak_step, len(graph.nodes) - 1)]
    where = f"layer {plan.peak_step} ({node.op} {quote(node.name or '<unnamed>')})"
    if plan.lower_bound > limit:
        raise LimitError(
            f"the model needs {plan.arena_size:,} bytes of arena, {plan.arena_size - limit:,} over --ram-limit "
            f"{limit_text} ({limit:,} bytes); no plan for this execution fits: {where} alone needs "
            f"{plan.lower_bound:,} bytes live at once")
    raise LimitError(
        f"the model needs {plan.arena_size:,} bytes of arena, {plan.arena_size - limit:,} over --ram-limit "
        f"{limit_text} ({limit:,} bytes); the peak is {where}, which needs {plan.lower_bound:,} bytes live at once")


def check_flash(flash_bytes: int, limit_text: str | None, what: str) -> None:
    """Refuse a model whose flash (`what` says which figure) is over --flash-limit."""
    if limit_text is None:
        return
    limit = parse_bytes(limit_text, "--flash-limit")
    if flash_bytes > limit:
        raise LimitError(f"the model needs {flash_bytes:,} bytes of flash ({what}), {flash_bytes - limit:,} over "
                         f"--flash-limit {limit_text} ({limit:,} bytes)")
