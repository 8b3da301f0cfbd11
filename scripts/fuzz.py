"""Fuzz mcugen with mutated and corrupted ONNX models; print the counts by outcome.

    python scripts/fuzz.py [--cases 10000] [--seed 0] [--jobs 2] [--timeout 120] [--json]

Each case takes a seed model (a tiny conv net, the same with exporter idioms, the digits
example, its QDQ version, or VWW) and either
mutates its structure (attribute values, shapes, pads, strides, groups, dtypes; dropped or
duplicated initializers and nodes; cycles; hostile names with quotes, backslashes, `*/`,
newlines, C keywords, 5000-character names; external data pointing outside the model's
folder or at /etc/passwd; tensors claiming 10**12 elements) or corrupts its bytes
(random bytes, truncation, bit flips). mcugen compiles it into a fresh folder; a model
that compiles must also verify bit-exact. A quarter of the cases (drawn apart from the
mutations, so a seed's models stay the same) compile and verify with --precision float32
instead, where verify must find the C within its bounds. Outcomes:

    verified   compiled, and the generated C matched the reference byte for byte (float32:
               within verify's bounds of onnxruntime and the float reference)
    refused    exit status 2 with exactly one line, `mcugen: error: ...`
    crash      anything else: exit 3, a traceback, a C build failure, a stray message
    mismatch   compiled, but verify found the C and the reference differ (float32: beyond the bounds)
    wrote      a file appeared outside -o, or the file outside the model folder changed
    hang       the case ran past --timeout (each worker also has a 4 GiB memory limit)

Exit status 0 when no case crashed, mismatched, wrote outside -o or hung.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import multiprocessing
import os
import random
import resource
import signal
import sys
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from mcugen import cli  # noqa: E402

BAD = ("crash", "mismatch", "wrote", "hang")
HOSTILE = ['a"b', "x\\y", "*/", "/*", "line\nbreak", "int", "main", "return", "a" * 5000, "\u00e9\u202e",
           "", "../../etc/passwd", "%s%n", "$(rm -rf /)", "nul\x00byte", "??/", "#include <stdio.h>"]
INTS = [-3, -1, 0, 1, 2, 3, 7, 64, 2**31, 10**12]
FLOATS = [float("nan"), float("inf"), -1.0, 0.0, 1e-30, 1e30]
STRINGS = ["SAME_UPPER", "SAME_LOWER", "VALID", "NOTSET", "bogus", "reflect", ""]
ATTRS = ["pads", "strides", "group", "kernel_shape", "dilations", "auto_pad", "axis", "alpha", "transB",
         "count_include_pad", "ceil_mode", "epsilon", "mode", "perm", "block_size", "output_dtype", "to"]
LOCATIONS = ["../outside.bin", "/etc/passwd", "../../../../etc/passwd", "nonexistent.bin", "sub/../../outside.bin",
             "link_out"]


class Hang(BaseException):
    """Raised by the alarm; a BaseException so mcugen's own handlers cannot swallow it."""


# ---------------------------------------------------------------------------- seed models


def tiny_model() -> onnx.ModelProto:
    """Conv -> BN -> Relu -> depthwise -> GAP -> Gemm -> Softmax: small, so cases are fast."""
    rng = np.random.default_rng(0)
    f = lambda name, a: numpy_helper.from_array(np.asarray(a, np.float32), name)  # noqa: E731
    nodes = [helper.make_node("Conv", ["input", "w1"], ["c1"], name="conv", pads=[1, 1, 1, 1], strides=[2, 2]),
             helper.make_node("BatchNormalization", ["c1", "g", "b", "m", "v"], ["n1"], name="bn"),
             helper.make_node("Relu", ["n1"], ["r1"], name="relu"),
             helper.make_node("Conv", ["r1", "w2"], ["c2"], name="dw", group=4, pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["r2"], name="relu6"),
             helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="gap"),
             helper.make_node("Flatten", ["p"], ["fl"], name="flat"),
             helper.make_node("Gemm", ["fl", "fw", "fb"], ["logits"], name="fc", transB=1),
             helper.make_node("Softmax", ["logits"], ["output"], name="softmax", axis=1)]
    inits = [f("w1", rng.normal(0, 0.5, (4, 3, 3, 3))), f("g", rng.uniform(0.5, 1.5, 4)), f("b", rng.normal(0, .1, 4)),
             f("m", rng.normal(0, .1, 4)), f("v", rng.uniform(.5, 2, 4)), f("w2", rng.normal(0, 0.5, (4, 1, 3, 3))),
             f("lo", 0.0), f("hi", 6.0), f("fw", rng.normal(0, 0.5, (3, 4))), f("fb", rng.normal(0, .1, 3))]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, 3, 8, 8])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    return model


def idioms_model() -> onnx.ModelProto:
    """The tiny net in exporters' idioms: an NHWC input and its Transpose (tf2onnx), float16
    weights behind a Cast, a Reshape to [0, -1], a dangling node, an unused opset domain."""
    m = tiny_model()
    g = m.graph
    g.input[0].type.tensor_type.shape.dim[1].dim_value, g.input[0].type.tensor_type.shape.dim[3].dim_value = 8, 3
    g.node.insert(0, helper.make_node("Transpose", ["input"], ["nchw"], name="to_nchw", perm=[0, 3, 1, 2]))
    g.node[1].input[0] = "nchw"
    w1 = next(t for t in g.initializer if t.name == "w1")
    w1.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(w1).astype(np.float16), "w1_fp16"))
    g.node.insert(0, helper.make_node("Cast", ["w1_fp16"], ["w1"], name="upcast", to=TensorProto.FLOAT))
    flat = next(n for n in g.node if n.op_type == "Flatten")
    flat.CopyFrom(helper.make_node("Reshape", ["p", "shape"], ["fl"], name="reshape"))
    g.initializer.append(helper.make_tensor("shape", TensorProto.INT64, [2], [0, -1]))
    g.node.append(helper.make_node("Sin", ["r1"], ["unused"], name="dangling"))
    m.opset_import.append(helper.make_opsetid("com.microsoft", 1))
    return m


def seeds() -> list[tuple[str, bytes]]:
    """(name, serialized model); the tiny nets are drawn most often because they are fastest."""
    tiny = tiny_model().SerializeToString()
    idioms = idioms_model().SerializeToString()
    digits = (ROOT / "examples/digits_mobilenet_v1.onnx").read_bytes()
    qdq = (ROOT / "examples/digits_mobilenet_v1_qdq_s8.onnx").read_bytes()
    vww = (ROOT / "examples/vww_mobilenet_v1_025.onnx").read_bytes()
    return [("tiny", tiny)] * 5 + [("idioms", idioms)] * 2 + [("digits", digits)] * 2 + [("qdq", qdq)] * 2 \
        + [("vww", vww)]


# ---------------------------------------------------------------------------- mutations


def _node(m, rng):
    return rng.choice(list(m.graph.node)) if m.graph.node else None


def set_attribute(m, rng):
    node = _node(m, rng)
    if node is None:
        return
    name = rng.choice([a.name for a in node.attribute] + ATTRS)
    kind = rng.choice(["int", "ints", "float", "string"])
    value = {"int": lambda: rng.choice(INTS), "float": lambda: rng.choice(FLOATS), "string": lambda: rng.choice(STRINGS),
             "ints": lambda: [rng.choice(INTS[:8]) for _ in range(rng.choice([1, 2, 4, 8]))]}[kind]()
    kept = [a for a in node.attribute if a.name != name]
    del node.attribute[:]
    node.attribute.extend(kept + [helper.make_attribute(name, value)])


def set_input_dim(m, rng):
    dims = m.graph.input[0].type.tensor_type.shape.dim
    if dims:
        d = rng.choice(list(dims))
        choice = rng.choice([0, -1, 1, 2, 7, 97, 10**6, 10**12, "N"])
        d.Clear()
        if isinstance(choice, str):
            d.dim_param = choice
        else:
            d.dim_value = choice


def set_dtype(m, rng):
    dtype = rng.choice([TensorProto.FLOAT16, TensorProto.DOUBLE, TensorProto.INT8, TensorProto.INT64,
                        TensorProto.BOOL, TensorProto.STRING, TensorProto.UINT8])
    if rng.random() < 0.5 or not m.graph.initializer:
        m.graph.input[0].type.tensor_type.elem_type = dtype
    else:
        rng.choice(list(m.graph.initializer)).data_type = dtype


def drop_or_duplicate(m, rng):
    items = m.graph.initializer if rng.random() < 0.5 else m.graph.node
    if not len(items):
        return
    i = rng.randrange(len(items))
    if rng.random() < 0.5:
        del items[i]
    else:
        items.add().CopyFrom(items[i])


def reorder_or_cycle(m, rng):
    nodes = m.graph.node
    if len(nodes) < 2:
        return
    i, j = sorted(rng.sample(range(len(nodes)), 2))
    if rng.random() < 0.5:  # swap two nodes: breaks topological order
        a, b = onnx.NodeProto(), onnx.NodeProto()
        a.CopyFrom(nodes[i])
        b.CopyFrom(nodes[j])
        nodes[i].CopyFrom(b)
        nodes[j].CopyFrom(a)
    elif nodes[i].input and nodes[j].output:  # an earlier node reads a later node's output
        nodes[i].input[0] = nodes[j].output[0]


def hostile_name(m, rng):
    new = rng.choice(HOSTILE)
    if rng.random() < 0.4 and m.graph.node:
        _node(m, rng).name = new
        return
    names = [o for n in m.graph.node for o in n.output] + [m.graph.input[0].name]
    old = rng.choice(names)
    for n in m.graph.node:  # rename consistently, so the model stays valid
        n.input[:] = [new if x == old else x for x in n.input]
        n.output[:] = [new if x == old else x for x in n.output]
    for v in list(m.graph.input) + list(m.graph.output) + list(m.graph.value_info):
        if v.name == old:
            v.name = new


def external_data(m, rng):
    if not m.graph.initializer:
        return
    t = rng.choice(list(m.graph.initializer))
    t.ClearField("raw_data")
    t.ClearField("float_data")
    t.data_location = TensorProto.EXTERNAL
    del t.external_data[:]
    entry = t.external_data.add()
    entry.key, entry.value = "location", rng.choice(LOCATIONS)


def huge_claim(m, rng):
    choice = rng.random()
    if choice < 0.4 and m.graph.initializer:
        t = rng.choice(list(m.graph.initializer))
        del t.dims[:]
        t.dims.extend([10**6, 10**6])
    elif choice < 0.7 and m.graph.node:
        out = _node(m, rng).output[0]
        m.graph.value_info.append(helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, 10**4, 10**4, 10**4]))
    else:
        dims = m.graph.input[0].type.tensor_type.shape.dim
        if len(dims) > 2:
            dims[2].dim_value = 10**6
            dims[3].dim_value = 10**6


MUTATIONS = [set_attribute] * 4 + [set_input_dim, set_dtype, drop_or_duplicate, drop_or_duplicate, reorder_or_cycle,
                                   hostile_name, hostile_name, external_data, huge_claim]


def corrupt_bytes(data: bytes, rng) -> bytes:
    kind = rng.choice(["random", "truncate", "flip"])
    if kind == "random":
        return bytes(rng.getrandbits(8) for _ in range(rng.choice([0, 1, 16, 300, 5000])))
    if kind == "truncate":
        return data[: rng.randrange(len(data))]
    out = bytearray(data)
    for _ in range(rng.choice([1, 4, 32])):
        out[rng.randrange(len(out))] = rng.getrandbits(8)
    return bytes(out)


def make_case(index: int, base_seed: int, seed_models) -> tuple[str, str, bytes]:
    """(seed name, description, model bytes) of case `index`: deterministic."""
    rng = random.Random(base_seed * 1_000_003 + index)
    name, data = rng.choice(seed_models)
    if rng.random() < 0.15:
        return name, "bytes", corrupt_bytes(data, rng)
    model = onnx.ModelProto.FromString(data)
    done = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        mutation = rng.choice(MUTATIONS)
        mutation(model, rng)
        done.append(mutation.__name__)
    try:
        return name, "+".join(done), model.SerializeToString()
    except Exception:  # e.g. a name protobuf cannot encode: nothing to test
        return name, "unencodable", b""


# ---------------------------------------------------------------------------- running


def call(argv: list[str]) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = cli.main(argv)
    return code, err.getvalue()


def classify(code: int, stderr: str) -> str | None:
    """None when the run is fine so far; else the bad outcome."""
    if "Traceback" in stderr:
        return "crash"
    if code == 2:
        lines = stderr.strip().splitlines()
        return None if len(lines) == 1 and lines[0].startswith("mcugen: error: ") else "crash"
    return None if code in (0, 1) else "crash"


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def precision_of(index: int, base_seed: int) -> str:
    """int8 for three cases in four, float32 for the rest; independent of make_case's draws."""
    return "float32" if random.Random(f"precision {base_seed} {index}").random() < 0.25 else "int8"


def run_case(index: int, base_seed: int, seed_models, timeout: int) -> tuple[str, str, str]:
    seed_name, what, data = make_case(index, base_seed, seed_models)
    precision = ["--precision", precision_of(index, base_seed)]
    if not data and what == "unencodable":
        return "skipped", seed_name, what
    with tempfile.TemporaryDirectory(prefix="mcugen-fuzz-") as tmp:
        tmp = Path(tmp)
        (tmp / "model").mkdir()
        (tmp / "outside.bin").write_bytes(b"secret" * 100)
        (tmp / "model" / "link_out").symlink_to(tmp / "outside.bin")
        model = tmp / "model" / "m.onnx"
        model.write_bytes(data)
        before = files_under(tmp)
        signal.alarm(timeout)
        try:
            code, err = call(["compile", str(model), "-o", str(tmp / "out"), "--name", "m", *precision])
            outcome = classify(code, err)
            if outcome is None and code == 0:
                code, err = call(["verify", str(model), "--samples", "2", "--name", "m", *precision])
                outcome = classify(code, err) or ("mismatch" if code == 1 else None)
                outcome = outcome or ("verified" if code == 0 else "crash")
            outcome = outcome or "refused"
        except Hang:
            outcome, err = "hang", ""
        finally:
            signal.alarm(0)
        extra = {f for f in files_under(tmp) - before if not f.startswith("out")}
        if extra or (tmp / "outside.bin").read_bytes() != b"secret" * 100:
            outcome, err = "wrote", f"{sorted(extra)[:3]}"
    return outcome, seed_name, f"{what} ({precision[1]}): {' '.join(err.split())[:300]}"


def _init_worker():
    global SEED_MODELS
    SEED_MODELS = seeds()
    resource.setrlimit(resource.RLIMIT_AS, (4 << 30, 4 << 30))

    def alarm(*_):
        raise Hang()

    signal.signal(signal.SIGALRM, alarm)


def _work(args):
    index, base_seed, timeout = args
    return (index, *run_case(index, base_seed, SEED_MODELS, timeout))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--timeout", type=int, default=120, help="seconds per case")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--dump", type=int, metavar="CASE", help="write case CASE's model to fuzz-CASE.onnx and stop")
    args = parser.parse_args()
    if args.dump is not None:
        seed_name, what, data = make_case(args.dump, args.seed, seeds())
        Path(f"fuzz-{args.dump}.onnx").write_bytes(data)
        print(f"fuzz-{args.dump}.onnx: {seed_name} {what}")
        return 0
    counts, by_seed, examples = Counter(), Counter(), {}
    with multiprocessing.get_context("fork").Pool(args.jobs, initializer=_init_worker, maxtasksperchild=200) as pool:
        jobs = ((i, args.seed, args.timeout) for i in range(args.cases))
        for index, outcome, seed_name, detail in pool.imap_unordered(_work, jobs, chunksize=4):
            counts[outcome] += 1
            by_seed[(seed_name, outcome)] += 1
            if outcome in BAD:
                examples.setdefault(outcome, []).append(f"case {index} ({seed_name}) {detail}")
    result = dict(cases=args.cases, seed=args.seed, outcomes=dict(sorted(counts.items())),
                  by_seed={f"{s}/{o}": n for (s, o), n in sorted(by_seed.items())},
                  bad_examples={k: v[:10] for k, v in examples.items()})
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.cases} cases (seed {args.seed}):")
        for outcome, n in sorted(counts.items()):
            print(f"  {outcome:10s} {n:6d}")
        for outcome, lines in examples.items():
            print(f"{outcome}:")
            for line in lines[:10]:
                print("  " + line)
    return 1 if any(counts[b] for b in BAD) else 0


if __name__ == "__main__":
    raise SystemExit(main())
