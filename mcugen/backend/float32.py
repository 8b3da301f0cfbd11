"""The float32 path (--precision float32): what the float C kernels need from a graph.

No quantization: the graph after the passes is compiled as it is, with float32 weights
(`const float`, in flash) and float32 activations in the same planned arena, 4 bytes an
element. The kernels (mcugen/backend/kernels/mcugen_<op>_f32.c) take their constants from here:
each weighted op's weight and bias as float32 arrays, and per layer the fused activation's
bounds and the op's scalar attributes as C float literals. The numpy reference is each
op's run_float (mcugen/reference.py), on the same normalized graph.

An op whose float kernel needs other constants than `weight` and `bias` may define the
optional hook `float_arrays(node) -> [(suffix, array)]` in its module: float arrays become
float32, integer ones (index tables) keep their type.
"""

from __future__ import annotations

import math

import numpy as np

from mcugen import ops
from mcugen.errors import McugenError, quote

FLOAT32_MAX = float(np.finfo(np.float32).max)


# ---------------------------------------------------------------------------- C literals


def c_float(x: float) -> str:
    """A C float literal for the float32 nearest to x: the float32 is what the C holds, so the
    literal is its exact decimal (9 significant digits round-trip any float32)."""
    x = float(x)
    if math.isinf(x):
        return "INFINITY" if x > 0 else "(-INFINITY)"
    if math.isnan(x) or abs(x) > FLOAT32_MAX:  # the frontend refuses NaN constants
        raise McugenError(f"the constant {x!r} does not fit a float32")
    return _suffix(f"{float(np.float32(x)):.9g}")


def c_floats(values: np.ndarray) -> list[str]:
    """c_float of every element, vectorized: models hold up to millions of weights."""
    text = np.char.mod("%.9g", np.asarray(values, dtype=np.float32).astype(np.float64).reshape(-1))
    return [_suffix(t) for t in text.tolist()]


def _suffix(text: str) -> str:
    """'1' -> '1.0f', '0.5' -> '0.5f', '1e-05' -> '1e-05f': a C float constant, not an int."""
    return (text if ("." in text or "e" in text) else text + ".0") + "f"


# ---------------------------------------------------------------------------- per layer


def arrays(node) -> list[tuple[str, np.ndarray]]:
    """The layer's constants, (suffix, array): float32, or an integer table as it is."""
    found = [(key, np.asarray(values)) for key, values in ops.get(node.op).float_arrays(node)]
    for key, values in found:
        values = values.astype(np.float64)
        if not np.all(np.isfinite(values)) or np.any(np.abs(values) > FLOAT32_MAX):
            # e.g. a BatchNormalization epsilon of NaN, folded into the conv before it
            raise McugenError(f"node {quote(node.name or '<unnamed>')} ({node.onnx_op}): its folded {key} holds "
                              "NaN, infinite or beyond-float32 values")
    return [(key, values if values.dtype.kind in "iu" else values.astype(np.float32)) for key, values in found]


def c_type(values: np.ndarray) -> str:
    """The C type of a float32 layer's array: float, or int16_t, int32_t, ... for a table."""
    return "float" if values.dtype == np.float32 else f"{values.dtype.name}_t"


def flash_bytes(node) -> int:
    return sum(int(a.nbytes) for _, a in arrays(node))


def layer_params(node) -> dict:
    """What a float kernel template reads besides shapes and arrays: the fused activation's
    bounds (act_min, act_max; infinite when there is none) and the node's scalar attributes
    (floats as C literals, ints and bools as ints), with lut's `steps` formatted likewise."""
    low, high = node.attrs.get("act", (-math.inf, math.inf))
    params = dict(act_min=c_float(low), act_max=c_float(high))
    for key, value in node.attrs.items():
        if key != "act" and _is_scalar_tree(value):
            params[key] = _c_tree(value)
    return params


def _is_scalar_tree(value) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_is_scalar_tree(v) for v in value)
    return isinstance(value, (bool, int, float, str, np.integer, np.floating, np.bool_))


def c_literals(value):
    """Numbers in a tree of dicts, lists and tuples as C literals (floats as float32 literals)."""
    if isinstance(value, dict):
        return {k: c_literals(v) for k, v in value.items()}
    if isinstance(value, list):
        return [c_literals(v) for v in value]
    return _c_tree(value)


def _c_tree(value):
    if isinstance(value, (tuple, list)):
        return tuple(_c_tree(v) for v in value)
    if isinstance(value, (bool, np.bool_, int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return c_float(value)
    return value  # a step's name


# ---------------------------------------------------------------------------- accuracy


def relative_errors(got: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Per sample (rows): max_i |got_i - want_i| / max_i |want_i|, the largest difference
    relative to the sample's largest reference magnitude. An all-zero reference gives 0 when
    got is all zero too, else infinity; NaN anywhere gives infinity."""
    got = np.asarray(got, dtype=np.float64).reshape(len(got), -1)
    want = np.asarray(want, dtype=np.float64).reshape(len(want), -1)
    diff = np.max(np.abs(got - want), axis=1)
    scale = np.max(np.abs(want), axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        rel = np.where(scale > 0, diff / np.where(scale > 0, scale, 1.0), np.where(diff == 0, 0.0, np.inf))
    return np.where(np.isnan(rel), np.inf, rel)
