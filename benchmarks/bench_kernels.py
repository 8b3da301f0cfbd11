"""Instructions per MAC of each kernel on the layer shapes of the CMSIS-NN reference figures.

    python benchmarks/bench_kernels.py [--target cortex-m4 ...]

Builds one chain of VWW-shaped layers with random int8 parameters, runs it once on the
emulated core (mcugen bench's machinery: arm-none-eabi-gcc -O3, unicorn, exact counts)
and prints executed instructions per layer and per MAC beside CMSIS-NN's figures from
docs/cortex-m.md (arm-none-eabi-gcc 12.2 -O3, Cortex-M4). The chain's output is checked against
the numpy reference, so a fast but wrong kernel shows up here too. The kernels that can
also run back to front (the planner's choice where their output overlaps their input from
above: ops' backward_access) are measured that way too, in the last column.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from helpers.chains import build_chain, tightest_plan  # noqa: E402

from mcugen import ops, planner  # noqa: E402
from mcugen.pipeline import Compiled  # noqa: E402
from mcugen.target import bench, targets

# (label, spec for tests/test_overlap.make_layer, input shape, CMSIS-NN M4 instr/MAC, plain C)
LAYERS = [
    ("conv1 3x3 s2 96x96x3->48x48x8", ("conv", 3, 2, 1, (0, 0, 1, 1), 8), (1, 96, 96, 3), 6.1, 16.0),
    ("dw 3x3 48x48x8", ("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0), (1, 48, 48, 8), 9.6, 22.7),
    ("pw 48x48x8->16", ("pointwise_conv", 16), (1, 48, 48, 8), 6.7, 13.1),
    ("dw 3x3 s2 48x48x16", ("depthwise_conv", 3, 2, 1, (0, 0, 1, 1), 0), (1, 48, 48, 16), 9.0, 22.2),
    ("pw 6x6x128->256", ("pointwise_conv", 256), (1, 6, 6, 128), 1.8, 6.4),
    ("dw 3x3 on 3x3x256", ("depthwise_conv", 3, 1, 1, (1, 1, 1, 1), 0), (1, 3, 3, 256), 7.2, 17.5),
]


def _follower(spec):
    """A second layer of the same kind that takes the first one's output."""
    if spec[0] == "pointwise_conv":
        return ("pointwise_conv", spec[1])
    return ("conv", 1, 1, 1, (0, 0, 0, 0), spec[-1])


def measure(target_name: str, seed: int = 0) -> list[tuple[str, int, int, int | None]]:
    """(label, MACs, instructions, instructions back to front or None) per layer; each layer
    is its own one-layer model, at its tightest overlap."""
    target, cross = targets.get(target_name), targets.find_cross()
    rows = []
    for label, spec, shape, _, _ in LAYERS:
        rng = np.random.default_rng(seed)
        # The layer twice: two call sites keep the compiler from inlining the kernel with the
        # first layer's constants, as in a real network (only the first one is counted).
        graph = build_chain([spec, spec if spec[0] == "depthwise_conv" else _follower(spec)], shape, rng)
        node = graph.nodes[0]
        macs = ops.get(node.op).cost(node, graph.shape(node.input), graph.shape(node.output)).macs
        rule = planner.overlap_rules(graph).get((node.input, node.output))
        counts = []
        for backward in ([()] if getattr(rule, "above", None) is None else [(), (0,)]):
            compiled = Compiled(graph, tightest_plan(graph, backward=frozenset(backward)), graph=graph)
            result = bench.bench(label, compiled, "k", target, cross, [macs, 0], seed)
            assert result.output_bit_exact, f"{label}: the C and the reference differ on {target_name}"
            counts.append(result.layers[0].instructions)
        rows.append((label, macs, counts[0], counts[1] if len(counts) > 1 else None))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", action="append", help="cortex-m0plus, cortex-m4, cortex-m7 (repeatable)")
    args = parser.parse_args()
    for target_name in args.target or ["cortex-m4"]:
        print(f"== {target_name}")
        print(f"{'layer':34s} {'MACs':>9} {'instr':>11} {'instr/MAC':>9} {'CMSIS-NN M4':>11} {'plain C M4':>10} "
              f"{'backward':>11}")
        for (label, macs, instructions, back), (_, _, _, cmsis, plain) in zip(measure(target_name), LAYERS):
            print(f"{label:34s} {macs:9,} {instructions:11,} {instructions / macs:9.2f} {cmsis:11.1f} {plain:10.1f} "
                  f"{'' if back is None else format(back, ','):>11}")


if __name__ == "__main__":
    main()
