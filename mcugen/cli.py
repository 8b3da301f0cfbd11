"""The mcugen command: compile, report, verify, bench.

Exit status: 0 success; 1 verification failed (the C and the reference differ); 2 bad
input or usage, with one line on stderr and nothing written; 3 a bug in mcugen.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from mcugen import __version__, output, pipeline, precision, report
from mcugen.backend import codegen
from mcugen.errors import McugenError
from mcugen.ops.base import OPTIMIZE_CHOICES
from mcugen.report import picture
from mcugen.target import targets, toolchain
from mcugen.verify import HostRunner, TargetRunner, text, verify
from mcugen.verify.float32 import verify_float

MAX_SAMPLES = 100_000
MAX_SAMPLE_BYTES = 512 << 20


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, like every other bad input
        raise McugenError(f"{message} (see '{self.prog} --help')")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say(kind: str, text: str) -> None:
    print(f"mcugen: {kind}: {_one_line(text)}", file=sys.stderr)


def _build(args, quantized=True, ram_limit=None, warn=True):
    compiled = pipeline.build(args.model, args.calib, args.calib_percentile, quantized=quantized, ram_limit=ram_limit,
                              input_shape=parse_shape(args.input_shape), precision=args.precision,
                              stream=not args.no_stream, optimize=args.optimize)
    for note in compiled.notes:
        _say("note", note)
    for warning in compiled.warnings if warn else ():
        _say("warning", warning)
    return compiled


MAX_DIM = 1 << 24  # any real input is far smaller; bounds what reaches ONNX's int64 fields


def parse_shape(text: str | None) -> tuple[int, ...] | None:
    """--input-shape 1,3,48,192: positive sizes, comma-separated."""
    if text is None:
        return None
    parts = text.replace(" ", "").split(",")
    if not all(re.fullmatch(r"[0-9]{1,9}", p) and 0 < int(p) <= MAX_DIM for p in parts):
        raise McugenError(f"--input-shape must be comma-separated sizes from 1 to {MAX_DIM:,}, such as 1,3,48,192; "
                          f"got {text!r}")
    return tuple(int(p) for p in parts)


def _name(args) -> str:
    return codegen.check_name(args.name) if args.name else codegen.default_name(args.model)


# ---------------------------------------------------------------------------- compile


def cmd_compile(args) -> int:
    name = _name(args)
    out = Path(args.output)
    output.check_output_folder(out)  # before the work, so a refusal is quick
    compiled = _build(args, ram_limit=args.ram_limit)
    files = codegen.generate(compiled.graph, compiled.plan, name, Path(args.model).name, compiled.optimize)
    summary = report.summary(compiled.graph, compiled.plan, compiled.optimize)
    files[output.MANIFEST] = output.manifest(args.model, compiled, name, files, summary)
    output.write_folder(out, files)
    print(f"wrote {out}/: {', '.join(sorted(files))}")
    print(f"{len(compiled.graph.nodes)} layers, {summary['macs']:,} MACs, arena {summary['arena_bytes']:,} bytes "
          f"(lower bound {summary['lower_bound_bytes']:,}), constants {summary['weights_bytes']:,} bytes")
    return 0


# ---------------------------------------------------------------------------- report


def cmd_report(args) -> int:
    for option, path in (("--html", args.html), ("--plot", args.plot)):
        if path and Path(path).suffix.lower() != (".html" if option == "--html" else ".svg"):
            raise McugenError(f"{option} {path}: the file name must end in {'.html' if option == '--html' else '.svg'}")
    # Quantized for the accumulators' headroom; sizes do not depend on the calibration, so
    # the synthetic one is used without a warning when no --calib is given.
    compiled = _build(args, ram_limit=args.ram_limit, warn=False)
    summary = report.summary(compiled.graph, compiled.plan, compiled.optimize)
    summary["calibration"] = output.calibration_name(compiled)
    for path, render in ((args.html, picture.html), (args.plot, picture.svg)):
        if path:
            output.write_file(Path(path), render(summary))
    print(json.dumps(summary, indent=2) if args.json else report.format_text(summary))
    return 0


# ---------------------------------------------------------------------------- verify


def cmd_verify(args) -> int:
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise McugenError(f"--samples must be between 1 and {MAX_SAMPLES:,}, got {args.samples}")
    if args.seed < 0:
        raise McugenError(f"--seed must be 0 or more, got {args.seed}")
    name = _name(args)
    runner = _runner(args)
    start = time.perf_counter()
    compiled = _build(args, ram_limit=args.ram_limit)
    g = compiled.graph
    if args.samples * g.tensors[g.input].size * compiled.plan.elem_bytes > MAX_SAMPLE_BYTES:
        raise McugenError(f"--samples {args.samples:,} would need more than {MAX_SAMPLE_BYTES >> 20} MiB of inputs")
    summary = report.summary(compiled.graph, compiled.plan, compiled.optimize)
    check = verify if compiled.precision.quantized else verify_float
    result = check(args.model, compiled, name, args.samples, runner, summary["weights_bytes"], summary["macs"],
                   args.seed)
    result.notes.append(f"verify took {time.perf_counter() - start:.1f} s")
    if args.json:
        print(json.dumps(result.to_dict(), indent=2))
    elif not compiled.precision.quantized:
        print(text.format_float32(result))
    else:
        print(text.format_int8(result))
    return 0 if result.passed else 1


def _runner(args):
    """Where verify runs the C: natively, or on a Cortex-M core in the emulator. Checked
    before any work, so a missing toolchain is reported at once."""
    target = targets.get(args.target)
    if target is None:
        return HostRunner(toolchain.find_cc(args.cc), sanitize=getattr(args, "sanitize", False))
    if getattr(args, "sanitize", False):
        raise McugenError("--sanitize builds for the host; it cannot be combined with --target")
    runner = TargetRunner(target, targets.find_cross(args.cc), precision.get(args.precision))
    runner.info()  # the emulator must be importable
    return runner


# ---------------------------------------------------------------------------- bench


def cmd_bench(args) -> int:
    from mcugen.target import (
        bench,  # needs the target packages; imported only when asked for
    )

    if args.seed < 0:
        raise McugenError(f"--seed must be 0 or more, got {args.seed}")
    target = targets.get(args.target)
    if target is None:
        raise McugenError("bench needs a Cortex-M --target (" + ", ".join(targets.TARGETS) + ")")
    runner = _runner(args)
    name = _name(args)
    compiled = _build(args, ram_limit=args.ram_limit)
    summary = report.summary(compiled.graph, compiled.plan, compiled.optimize)
    macs = [layer["macs"] for layer in summary["layers"]]
    result = bench.bench(args.model, compiled, name, target, runner.cross, macs, args.seed)
    print(json.dumps(result.to_dict(), indent=2) if args.json else bench.format_text(result))
    return 0 if result.output_ok else 1


# ---------------------------------------------------------------------------- main


def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="mcugen",
        description="Compile a MobileNet-family ONNX model to int8 C99 for microcontrollers, "
        "report its flash and RAM, and verify the C bit-exact against mcugen's numpy reference.",
        epilog="Exit status: 0 ok, 1 verification mismatch, 2 bad input or usage, 3 internal error.",
    )
    top.add_argument("--version", action="version", version=f"mcugen {__version__}")
    sub = top.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def common(p, calib=True):
        p.add_argument("model", help="the ONNX model file")
        p.add_argument("--input-shape", metavar="N,C,H,W",
                       help="the input's shape, in the model's input layout, for a model whose input has "
                            "symbolic sizes (e.g. [N,3,?,?]): 1,3,48,192. Sizes the model fixes must agree")
        p.add_argument("--precision", choices=list(precision.PRECISIONS), default=precision.INT8.name,
                       help="int8 (default): quantized kernels, no float; float32: float kernels for parts "
                            "with an FPU, 4-byte activations, no calibration")
        p.add_argument("--ram-limit", metavar="BYTES",
                       help="fail (exit 2) when the arena needs more, naming the layer that sets the peak; "
                            "accepts 37500, 64K, 0.5M (K = 1024 bytes, M = 1024 K)")
        p.add_argument("--optimize", choices=list(OPTIMIZE_CHOICES), default=OPTIMIZE_CHOICES[0],
                       help="speed (default): the pointwise convs' weights pre-expanded to int16 in the order "
                            "the kernel reads them (about twice their flash, fewer cycles); size: int8 weights "
                            "(docs/cortex-m.md)")
        p.add_argument("--no-stream", action="store_true",
                       help="run every layer whole: no pointwise conv streamed row by row into the depthwise "
                            "conv after it (by default, int8 only, where that lowers the peak; a row window "
                            "instead of the whole tensor, ~1%% more instructions; README, Memory)")
        if calib:
            p.add_argument("--calib", metavar="FILE.npz",
                           help="calibration samples: float32 array [N, ...] in the ONNX input's layout, "
                                "keyed by the input's name (or the only array). Without it, a warning and "
                                "32 synthetic samples uniform in [-1, 1]. float32 calibrates nothing: verify "
                                "takes its first samples from it. A full-int8 model (int8/uint8 input) needs none; "
                                "its samples may be integers of the input's type, taken as the C takes them")
            p.add_argument("--calib-percentile", type=float, default=100.0, metavar="P",
                           help="activation range = the [100-P, P] percentiles over the samples instead of "
                                "min/max (e.g. 99.99 ignores outliers); default 100 (min/max)")
            p.add_argument("--name", help="C prefix for files and symbols (default: from the model's file name)")
        else:
            p.set_defaults(calib=None, calib_percentile=100.0, name=None)

    p = sub.add_parser("compile", help="generate C99 files (NAME.h, NAME.c, NAME_weights.c, mcugen.json)",
                       description="Quantize the model to int8 and write plain C99: NAME.h (API), NAME.c "
                       "(kernels, arena, NAME_run), NAME_weights.c (const constants) and mcugen.json (summary). "
                       "The folder is written whole or not at all.")
    common(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (created or replaced)")
    p.set_defaults(func=cmd_compile)

    p = sub.add_parser("report", help="flash, RAM and MACs per layer and in total",
                       description="Per layer: op, shapes, MACs, constant bytes, arena offset and size; "
                       "totals: flash for constants, arena bytes, the arena's lower bound, MACs. "
                       "Sizes do not depend on calibration; --calib only sharpens the accumulator headroom column "
                       "(computed with synthetic samples otherwise, silently).")
    common(p)
    p.add_argument("--json", action="store_true",
                   help="machine-readable output, with every tensor's offset and lifetime")
    p.add_argument("--html", metavar="FILE.html", help="write a page with a picture of the arena and its tensors")
    p.add_argument("--plot", metavar="FILE.svg", help="write the picture of the arena alone, as SVG")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("verify", help="build and run the C, compare with the reference byte for byte",
                       description="Compile, build the generated C with the host compiler, run it on "
                       "--samples inputs (half from --calib when given, the rest random int8) and compare "
                       "every output byte with mcugen's numpy reference; on a mismatch, name the first "
                       "layer that differs. Then compare with the float model (onnxruntime). "
                       "Exit 0 only when bit-exact. With --precision float32: random inputs are uniform in "
                       "[-1, 1], and the C is compared with onnxruntime and mcugen's float64 reference; exit 0 "
                       "when within the bounds (the README's Float32 section).")
    common(p)
    p.add_argument("--samples", type=int, default=20, metavar="N", help="number of inputs (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default 0)")
    target_options(p)
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--sanitize", action="store_true",
                   help="build the host runner with AddressSanitizer and UndefinedBehaviorSanitizer: any "
                        "out-of-bounds access, overflow or other undefined behaviour fails the run")
    p.set_defaults(func=cmd_verify)

    p = sub.add_parser("bench", help="instructions, cycles, flash and RAM on a Cortex-M core (emulated)",
                       description="Build the model for a Cortex-M core (arm-none-eabi-gcc -O3), run one "
                       "inference in the emulator and report, per layer and in total: executed instructions, "
                       "instructions per MAC and estimated cycles (a per-instruction cost model from ARM's "
                       "manuals); and the flash (.text + .rodata + .data) and RAM (.data + .bss + deepest "
                       "stack) of the ELF. Exit 1 if the emulated output differs from the reference.")
    common(p)
    p.add_argument("--seed", type=int, default=0, help="seed of the random input when there is no --calib")
    target_options(p, default="cortex-m4")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_bench)
    return top


def target_options(p, default: str = targets.HOST) -> None:
    p.add_argument("--target", default=default, metavar="T",
                   help=f"where the C runs: {', '.join(targets.TARGET_NAMES)} (default {default}); a Cortex-M "
                        "build uses arm-none-eabi-gcc (or the ziglang package) and runs in unicorn")
    p.add_argument("--cc", help="C compiler (default: host: $CC, cc, gcc or clang; Cortex-M: arm-none-eabi-gcc, "
                                "else 'zig' from the ziglang package)")


def main(argv: list[str] | None = None) -> int:
    # numpy's warnings are not messages for users: bad values are checked and refused
    # explicitly, with one line that names them.
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return _main(argv)


def _main(argv: list[str] | None) -> int:
    try:
        args = parser().parse_args(argv)
        if not getattr(args, "func", None):
            parser().print_help()
            return 2
        return args.func(args)
    except McugenError as exc:
        _say("error", str(exc))
        return 2
    except toolchain.BuildError as exc:
        _say("error", f"{exc} (a bug in mcugen: please report it)")
        return 3
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mcugen report | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get("MCUGEN_DEBUG"):
            raise
        _say("internal error", f"{type(exc).__name__}: {exc} (a bug in mcugen; MCUGEN_DEBUG=1 shows the traceback)")
        return 3
