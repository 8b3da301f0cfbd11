"""A picture of the arena: offset against layer, one box per tensor, the peak marked.

Plain SVG (and an HTML page around it), no plotting library. Boxes that share bytes in
the same column are a layer writing its output over the input it consumes (the planner's
overlap rules). With --row-input, the row pipeline's buffer is drawn as its stages'
windows (dashed), across the columns of the layers it runs. Names arrive escaped
(errors.escape) and are XML-escaped here.
"""

from __future__ import annotations

from html import escape as xml

WIDTH, HEIGHT = 960, 520
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 48, 50


def _color(i: int) -> str:
    return f"hsl({(i * 137) % 360}, 65%, 55%)"  # golden-angle hues: neighbours differ


def svg(summary: dict) -> str:
    tensors, steps = summary["tensors"], len(summary["layers"]) + 1
    arena = max(summary["arena_bytes"], 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(step):
        return LEFT + plot_w * step / steps

    def y(offset):
        return TOP + plot_h * (1 - offset / arena)

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
           f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="11">',
           f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
           f'<text x="{LEFT}" y="22" font-size="14">{xml(summary["model"])}: arena {summary["arena_bytes"]:,} B, '
           f'lower bound {summary["lower_bound_bytes"]:,} B, peak at layer {summary["peak_layer"]}</text>']
    # --row-input's pipeline and the fused segments: their step's scratch is drawn as their windows
    pipes = {p["layers"] - 1: p for p in ([summary["pipeline"]] if "pipeline" in summary else []) + summary.get("fused", [])}
    for i, t in enumerate(tensors):
        if not t["bytes"]:
            continue
        if t["scratch"] and t["first_layer"] in pipes:
            out += _pipeline(pipes[t["first_layer"]], t["offset"], x, y)
            continue
        top, bottom = y(t["offset"] + t["bytes"]), y(t["offset"])
        out.append(
            f'<rect x="{x(t["first_layer"]):.1f}" y="{top:.1f}" width="{x(t["last_layer"] + 1) - x(t["first_layer"]):.1f}" '
            f'height="{max(bottom - top, 0.5):.1f}" fill="{_color(i)}" fill-opacity="0.55" stroke="#333" stroke-width="0.5">'
            f'<title>{xml(t["name"])}: {t["bytes"]:,} B at offset {t["offset"]:,}, '
            f'layers {t["first_layer"]}..{t["last_layer"]}</title></rect>')
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(arena):.1f}" y2="{y(arena):.1f}" stroke="#c00" '
               f'stroke-dasharray="6 3"/>')
    bound = summary["lower_bound_bytes"]
    out.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(bound):.1f}" y2="{y(bound):.1f}" stroke="#06c" '
               f'stroke-dasharray="2 3"/>')
    out.append(f'<text x="{WIDTH - RIGHT}" y="{y(arena) - 4:.1f}" text-anchor="end" fill="#c00">arena</text>')
    peak = summary["peak_layer"]  # outlined on top, so the boxes cannot hide it
    out.append(f'<rect x="{x(peak):.1f}" y="{TOP}" width="{x(peak + 1) - x(peak):.1f}" height="{plot_h}" '
               f'fill="none" stroke="#c00" stroke-width="2"/>')
    out.append(f'<text x="{(x(peak) + x(peak + 1)) / 2:.1f}" y="{TOP - 4}" text-anchor="middle" fill="#c00">peak</text>')
    out += _axes(x, y, steps, arena, plot_h)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _pipeline(pipe: dict, offset: int, x, y) -> list[str]:
    """A row pipeline's (or fused segment's) buffer, one box per stage's window and one for
    the kernels' scratch, across its layers' columns (they run as one step)."""
    first = pipe.get("first", 0)
    boxes = []
    parts = [(f"layer {s['layer']}'s window: {s['rows']} of its input's {s['input_rows']} rows of "
              f"{s['row_bytes']:,} B", s["offset"], s["bytes"]) for s in pipe["stages"]]
    parts.append(("the stages' kernel scratch (one stage runs at a time)", pipe["kernel_scratch_offset"],
                  pipe["kernel_scratch_bytes"]))
    for k, (what, within, size) in enumerate(parts):
        if not size:
            continue
        at = offset + within
        top, bottom = y(at + size), y(at)
        boxes.append(
            f'<rect x="{x(first):.1f}" y="{top:.1f}" width="{x(pipe["layers"]) - x(first):.1f}" '
            f'height="{max(bottom - top, 0.5):.1f}" '
            f'fill="{_color(k)}" fill-opacity="0.35" stroke="#333" stroke-width="0.5" stroke-dasharray="3 2">'
            f'<title>row pipeline of layers {first}..{pipe["layers"] - 1}, {xml(what)}: {size:,} B '
            f'at offset {at:,}</title></rect>')
    return boxes


def _axes(x, y, steps, arena, plot_h) -> list[str]:
    out = [f'<line x1="{LEFT}" x2="{LEFT}" y1="{TOP}" y2="{TOP + plot_h}" stroke="black"/>',
           f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" stroke="black"/>',
           f'<text x="{(LEFT + WIDTH - RIGHT) / 2}" y="{HEIGHT - 12}" text-anchor="middle">layer</text>',
           f'<text x="14" y="{TOP + plot_h / 2}" transform="rotate(-90 14 {TOP + plot_h / 2})" '
           f'text-anchor="middle">offset (bytes)</text>']
    every = max(1, steps // 15)
    for step in range(0, steps, every):
        out.append(f'<text x="{(x(step) + x(step + 1)) / 2:.1f}" y="{TOP + plot_h + 15}" '
                   f'text-anchor="middle">{step}</text>')
    for i in range(5):
        offset = arena * i // 4
        out.append(f'<text x="{LEFT - 4}" y="{y(offset) + 4:.1f}" text-anchor="end">{offset:,}</text>')
    return out


def html(summary: dict) -> str:
    rows = "\n".join(
        f"<tr><td>{t['first_layer']}..{t['last_layer']}</td><td>{t['offset']:,}</td><td>{t['bytes']:,}</td>"
        f"<td>{xml(t['name'])}</td></tr>" for t in summary["tensors"])
    overlaps = "\n".join(
        f"<tr><td>{xml(o['input'])}</td><td>{xml(o['output'])}</td><td>{o['direction']}</td><td>{o['distance']:,}</td></tr>"
        for o in summary["overlaps"])
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>mcugen arena: {xml(summary["model"])}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse}}
td,th{{border:1px solid #ccc;padding:2px 8px;text-align:right}}td:last-child{{text-align:left}}</style>
</head><body>
<h1>Arena of {xml(summary["model"])}</h1>
<p>Arena {summary["arena_bytes"]:,} bytes (planner: {xml(summary["planner"])}); lower bound
{summary["lower_bound_bytes"]:,} bytes, set by layer {summary["peak_layer"]} (outlined in red); TFLM-style greedy
without overlap: {summary["baseline_bytes"]:,} bytes. Boxes that share bytes in one column are a
layer writing its output over the input it consumes.</p>
{svg(summary)}
<h2>Tensors</h2>
<table><tr><th>layers</th><th>offset</th><th>bytes</th><th>name</th></tr>
{rows}
</table>
<h2>Overlapping layers</h2>
<p>Forward (the kernel runs front to back), the output may start this many bytes below the
input it consumes; backward (back to front), it may end this many bytes above the input's end.</p>
<table><tr><th>input</th><th>output</th><th>direction</th><th>distance</th></tr>
{overlaps}
</table>
</body></html>
"""
