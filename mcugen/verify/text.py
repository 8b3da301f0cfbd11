"""verify's results as text, for a person (--json gives the same fields for scripts)."""

from __future__ import annotations

from mcugen.target.targets import HOST


def format_int8(r) -> str:
    """The text of an int8 verify Result (int8.py)."""
    verdict = "BIT-EXACT" if r.bit_exact else "MISMATCH"
    where = "" if r.target["name"] == HOST else f" on {r.target['name']} in {r.target['emulator']}"
    lines = [
        f"{verdict}: generated C ({r.compiler}){where} vs numpy reference on {r.samples} samples "
        f"({r.calibration_samples} from --calib, {r.samples - r.calibration_samples} random): "
        f"{r.mismatches} differing output bytes in {r.mismatched_samples} samples",
    ]
    if r.first_bad_layer:
        b = r.first_bad_layer
        inside = "" if b.get("streamed_inside") is None else (
            f"; layer #{b['streamed_inside']} runs inside it, streamed, and may be the one")
        if b.get("row_pipeline"):
            inside += (f"; the row pipeline (layers 0-{b['row_pipeline'] - 1}) has no per-layer outputs: "
                       "named by the whole-input build's trace")
        lines.append(f"first layer that differs: #{b['index']} {b['op']} '{b['name']}' ({b['differing_bytes']} bytes{inside})")
    apart = [f"{kind} samples {top1:.1%}, cosine {cos:.4f}" for kind, top1, cos in (
        ("--calib", r.real_top1_agreement, r.real_cosine), ("random", r.random_top1_agreement, r.random_cosine))
        if top1 is not None]
    lines += [
        f"int8 vs float ({r.float_reference}): top-1 agreement {r.top1_agreement:.1%}, "
        f"cosine {r.cosine:.4f}, max abs error {r.max_abs_error:.4g}" + (f" ({'; '.join(apart)})" if apart else ""),
        f"arena {r.arena_bytes:,} bytes (lower bound {r.lower_bound_bytes:,}), constants {r.weights_bytes:,} bytes, "
        f"{r.macs:,} MACs",
    ]
    if r.qdq_within_1_lsb is not None:
        layers = "" if r.qdq_layers_within_1_lsb is None else (
            f"; layer by layer on mcugen's own inputs, {r.qdq_layers_within_1_lsb:.2%} of the elements of "
            f"{r.qdq_layers_compared} tensors")
        real = "" if r.qdq_real_within_1_lsb is None else (
            f"{r.qdq_real_within_1_lsb:.1%} on the {r.qdq_real_samples} real samples alone, ")
        lines.insert(-1, f"int8 vs onnxruntime running the QDQ model, {r.qdq_samples} samples: "
                         f"{r.qdq_within_1_lsb:.1%} of output elements within 1 LSB ({real}at most "
                         f"{r.qdq_max_lsb:g} LSB apart); {r.qdq_fused_within_1_lsb:.1%} with its fused integer "
                         f"kernels, which agree with its own unfused run on "
                         f"{r.qdq_onnxruntime_self_within_1_lsb:.1%}{layers}")
    if r.tflm_identical is not None:
        lines.insert(-1, f"C vs TensorFlow Lite Micro running the .tflite, {r.tflm_samples} samples: "
                         f"{r.tflm_identical:.2%} of output bytes identical (at most {r.tflm_max_lsb} LSB apart)")
    if r.accuracy is not None:
        a = r.accuracy
        lines.insert(-1, f"accuracy on {a['source']} ({a['samples']} labelled samples): float model {a['float']:.2%}, "
                         f"generated C {a['int8']:.2%} ({'bit-exact' if a['bit_exact'] else 'NOT bit-exact'} on them)")
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)


def format_float32(r) -> str:
    """The text of a float32 verify FloatResult (float32.py)."""
    if r.within_tolerance:
        verdict = "WITHIN TOLERANCE"
    else:
        verdict = "WITHIN BOUNDS" if r.within_bound else "BEYOND BOUNDS"
    where = "" if r.target["name"] == HOST else f" on {r.target['name']} in {r.target['emulator']}"
    fmt = lambda v: "n/a" if v is None else f"{v:.3g}"  # noqa: E731
    lines = [
        f"{verdict}: float32 C ({r.compiler}){where} on {r.samples} samples ({r.calibration_samples} from --calib, "
        f"{r.samples - r.calibration_samples} random); relative error = max |c - r| / max |r| per sample, "
        f"tolerance {r.tolerance:g}",
        f"vs onnxruntime: {fmt(r.max_rel_error_vs_onnxruntime)} (bound {r.bound_vs_onnxruntime:.3g}: onnxruntime "
        f"differs from itself unoptimized by {fmt(r.onnxruntime_spread)})",
        f"vs mcugen's float64 reference: {fmt(r.max_rel_error_vs_reference)} (bound {r.bound_vs_reference:.3g}: "
        f"onnxruntime is {fmt(r.onnxruntime_drift)} from it)",
    ]
    if r.first_bad_layer:
        b = r.first_bad_layer
        lines.append(f"first layer beyond the bound: #{b['index']} {b['op']} '{b['name']}' "
                     f"(relative error {b['rel_error']:.3g})")
    if r.max_rel_error_vs_onnxruntime is None:
        lines.append(f"float reference: {r.float_reference}")
    lines += [
        f"top-1 agreement {r.top1_agreement:.1%}, max abs error {r.max_abs_error:.4g}",
        f"arena {r.arena_bytes:,} bytes (lower bound {r.lower_bound_bytes:,}), constants {r.weights_bytes:,} bytes, "
        f"{r.macs:,} MACs",
    ]
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines)
