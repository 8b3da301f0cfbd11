"""Merge element-wise lookup tables, and fold Mul(x, f(x)) into the table of f.

A lut node computes f(x) from its input alone (mcugen/ops/lut.py), so a lut feeding only
another lut is one table of the composed steps, and Mul(x, f(x)), f a table of x, is one
table of x * f(x). That is how the older exporters' HardSwish, x * Clip(x + 3, 0, 6) / 6
in any order of Add/Clip/Div/Mul (or Mul by 1/6), and HardSigmoid, Clip(x + 3, 0, 6) / 6,
become a single 256-byte table, exactly as if they had been one ONNX op. Runs after
fuse_activation: a clamp fused into a table becomes a clip step when it is merged on.

Nothing merges across a tensor whose quantization the model fixes (a QDQ pair between
the steps): the model rounds there, op by op, as TFLite does, and one merged table would
round once. Such steps stay separate tables (and Mul(x, f(x)) the int8 MUL).
"""

MUL_INPUT = ("mul_input",)

LEFTOVER: dict[str, str] = {}  # leaves no transitional op behind


def run(graph):
    while _merge_chain(graph) or _fold_self_mul(graph):
        pass


def _steps(node) -> tuple:
    """The node's steps with its fused clamp, if any, as a last step."""
    act = node.attrs.get("act")
    return tuple(node.attrs["steps"]) + ((("clip", *act),) if act else ())


def _keep_act(node) -> dict:
    return {"act": node.attrs["act"]} if "act" in node.attrs else {}


def _merge_chain(graph) -> bool:
    for node in graph.nodes:
        # A table that multiplies by its own input needs that input: it cannot take another's.
        if node.op != "lut" or MUL_INPUT in node.attrs["steps"]:
            continue
        producer = graph.folds_into(node, ("lut",))
        if producer is not None and graph.tensors[producer.output].fixed is None:
            producer.attrs = dict(steps=_steps(producer) + tuple(node.attrs["steps"]), **_keep_act(node))
            graph.merge_into_producer(producer, node)
            return True
    return False


def _fold_self_mul(graph) -> bool:
    for mul in graph.nodes:
        if mul.op != "mul":
            continue
        a, b = mul.inputs
        if a == b:  # x * x
            mul.op, mul.inputs, mul.attrs = "lut", [a], dict(steps=(MUL_INPUT,), **_keep_act(mul))
            return True
        for x, fx in ((a, b), (b, a)):
            table = graph.producer(fx)
            if (table is not None and table.op == "lut" and table.input == x and graph.sole_consumer(fx) is mul
                    and graph.tensors[fx].fixed is None):
                table.attrs = dict(steps=_steps(table) + (MUL_INPUT,), **_keep_act(mul))
                graph.merge_into_producer(table, mul)
                return True
    return False
