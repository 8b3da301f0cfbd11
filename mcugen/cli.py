"""The mcugen command: compile, report, verify, bench.

Exit status: 0 success; 1 verification failed (the C and the reference differ); 2 bad
input or usage, with one line on stderr and nothing written; 3 a bug in mcugen; 4 a limit
or gate the user set is not met (--ram-limit, --flash-limit, --min-cosine). With --json,
stdout is always one JSON document, an error's too: {"error": ..., "exit_status": ...}.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from mcugen import __version__, api, output, packages, precision, samples
from mcugen.backend import codegen
from mcugen.errors import LimitError, McugenError
from mcugen.ops.base import OPTIMIZE_CHOICES
from mcugen.planner import budget
from mcugen.progress import Progress, wipe
from mcugen.report import format_text as report_text
from mcugen.report import picture
from mcugen.report import summary as summarize
from mcugen.target import targets, toolchain
from mcugen.verify import runner_for, text

MAX_SAMPLES = 100_000
MAX_SAMPLE_BYTES = 512 << 20


class Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2, like every other bad input
        raise McugenError(f"{message} (see '{self.prog} --help')")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _say(kind: str, text: str) -> None:
    wipe()  # a progress line, if one shows
    print(f"mcugen: {kind}: {_one_line(text)}", file=sys.stderr)


def _preprocess(args) -> samples.Preprocess:
    return samples.Preprocess(pixel_scale=_number(args.pixel_scale, "--pixel-scale")[0],
                              mean=_number(args.mean, "--mean"), std=_number(args.std, "--std"), bgr=args.bgr)


def _number(text: str, option: str) -> tuple[float, ...]:
    """'0.485,0.456,0.406' or '1/255' -> floats (finite)."""
    values = []
    for part in text.replace(" ", "").split(","):
        num, _, den = part.partition("/")
        try:
            value = float(num) / float(den) if den else float(num)
        except (ValueError, ZeroDivisionError):
            raise McugenError(f"{option} {text!r}: expected numbers such as 0.5 or 1/255, comma-separated") from None
        if not np.isfinite(value):
            raise McugenError(f"{option} {text!r}: values must be finite")
        values.append(value)
    return tuple(values)


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
    """bench's C prefix (compile and verify leave it to mcugen/api.py, which does the same)."""
    return codegen.check_name(args.name) if args.name else codegen.default_name(args.model)


# ---------------------------------------------------------------------------- compile


def _options(args) -> dict:
    """The options every command passes on to mcugen/api.py."""
    return dict(calib=args.calib, calib_percentile=args.calib_percentile, input_shape=parse_shape(args.input_shape),
                precision=args.precision, ram_limit=args.ram_limit, flash_limit=args.flash_limit,
                stream=not args.no_stream, optimize=args.optimize, preprocess=_preprocess(args), tell=_say,
                row_input=args.row_input)


def cmd_compile(args) -> int:
    out = Path(args.output)
    built = api.compile(args.model, out, name=args.name, package=args.package or [], into=args.into,
                        **_options(args))
    print(f"wrote {out}/: {', '.join(built.files)}")
    print(f"{len(built.summary['layers'])} layers, {built.macs:,} MACs, arena "
          f"{built.arena_bytes:,} bytes (lower bound {built.lower_bound_bytes:,}), constants {built.weights_bytes:,} bytes")
    return 0


# ---------------------------------------------------------------------------- report


def cmd_report(args) -> int:
    for option, path in (("--html", args.html), ("--plot", args.plot)):
        if path and Path(path).suffix.lower() != (".html" if option == "--html" else ".svg"):
            raise McugenError(f"{option} {path}: the file name must end in {'.html' if option == '--html' else '.svg'}")
    summary = api.report(args.model, **_options(args)).summary
    for path, render in ((args.html, picture.html), (args.plot, picture.svg)):
        if path:
            output.write_file(Path(path), render(summary))
    print(json.dumps(summary, indent=2) if args.json else report_text(summary))
    return 0


# ---------------------------------------------------------------------------- verify


def cmd_verify(args) -> int:
    if not 1 <= args.samples <= MAX_SAMPLES:
        raise McugenError(f"--samples must be between 1 and {MAX_SAMPLES:,}, got {args.samples}")
    if args.seed < 0:
        raise McugenError(f"--seed must be 0 or more, got {args.seed}")
    start = time.perf_counter()
    progress = Progress.for_command(args.json)
    try:
        result = api.verify(args.model, samples=args.samples, seed=args.seed, target=args.target, cc=args.cc,
                            name=args.name, eval=args.eval, min_accuracy=args.min_accuracy,
                            min_cosine=args.min_cosine, sanitize=getattr(args, "sanitize", False),
                            progress=progress, **_options(args))
    finally:
        progress.done()
    result.notes.append(f"verify took {time.perf_counter() - start:.1f} s")
    status = 1 if not result.passed else 4 if result.gate else 0
    if args.json:
        print(json.dumps(dict(result.to_dict(), exit_status=status, **({"error": result.gate} if result.gate else {})),
                         indent=2))
    elif result.precision != "int8":
        print(text.format_float32(result))
    else:
        print(text.format_int8(result))
    if result.gate and result.passed:
        _say("error", result.gate)
    return status


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
    runner = runner_for(args.target, args.cc, args.precision)
    name = _name(args)
    progress = Progress.for_command(args.json)
    try:
        progress("importing, quantizing and planning the model")
        compiled = api.build(args.model, **{k: v for k, v in _options(args).items() if k != "flash_limit"})
        summary = summarize(compiled.graph, compiled.plan, compiled.optimize)
        macs = [layer["macs"] for layer in summary["layers"]]
        progress(f"building for {target.name} and running one inference in the emulator")
        result = bench.bench(args.model, compiled, name, target, runner.cross, macs, args.seed)
    finally:
        progress.done()
    print(json.dumps(result.to_dict(), indent=2) if args.json else bench.format_text(result))
    if not result.output_ok:
        return 1
    budget.check_flash(result.flash["total"], args.flash_limit, f"the {target.name} ELF's .text + .rodata + .data")
    return 0


# ---------------------------------------------------------------------------- main


# Built once per process: argparse's add_argument calls cost ~10 ms a parser, which the
# conformance run (2,000 main() calls in one process) paid 2,000 times. parse_args leaves it as it is.
@functools.lru_cache(maxsize=1)
def parser() -> argparse.ArgumentParser:
    top = Parser(
        prog="mcugen",
        description="Compile a MobileNet-family ONNX model to int8 C99 for microcontrollers, "
        "report its flash and RAM, and verify the C bit-exact against mcugen's numpy reference.",
        epilog="Exit status: 0 ok, 1 verification mismatch, 2 bad input or usage, 3 internal error, "
               "4 a limit or gate not met (--ram-limit, --flash-limit, --min-cosine).",
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
                       help="the cheapest execution whose arena fits (every layer whole, else streamed, else the "
                            "peak layer one pixel at a time, else with fused blocks; docs/memory.md), and fail "
                            "(exit 4) when none does, naming the layer that sets the peak; accepts 37500, 64K, 0.5M "
                            "(K = 1024 bytes, M = 1024 K)")
        p.add_argument("--flash-limit", metavar="BYTES",
                       help="fail (exit 4) when the model needs more flash: its constants (compile, report, "
                            "verify; the generated code is not counted) or, for bench, the whole ELF's "
                            ".text + .rodata + .data; same units as --ram-limit")
        p.add_argument("--optimize", choices=list(OPTIMIZE_CHOICES), default=OPTIMIZE_CHOICES[0],
                       help="speed (default): the pointwise convs' weights pre-expanded to int16 in the order "
                            "the kernel reads them (about twice their flash, fewer cycles); size: int8 weights "
                            "(docs/cortex-m.md)")
        p.add_argument("--no-stream", action="store_true",
                       help="run every layer whole: no pointwise conv streamed row by row into the depthwise "
                            "conv after it and no fused inverted-residual blocks (by default, int8 only, where "
                            "that lowers the peak; row windows instead of whole tensors, ~1%% more "
                            "instructions; docs/memory.md)")
        p.add_argument("--row-input", action="store_true",
                       help="the input arrives row by row: the C calls NAME_input_row (you implement it) for each "
                            "row, once, in order, and the first layers run as a pipeline of row windows, so the "
                            "input never exists whole (a smaller arena; int8 only; docs/c-api.md)")
        if calib:
            p.add_argument("--calib", metavar="PATH",
                           help="calibration samples: a .npz (the array named after the input, or the only one), "
                                "a .npy, or a folder of images (PNG/JPEG/BMP, any size: resized to the input, then "
                                "--pixel-scale, --mean, --std). Arrays are [N, ...] in the ONNX input's layout; "
                                "float values are taken as they are, uint8 ones as pixels. Without it, a warning and "
                                "32 synthetic samples uniform in [-1, 1]. float32 calibrates nothing: verify "
                                "takes its first samples from it. A full-int8 model (int8/uint8 input) needs none; "
                                "its samples may be integers of the input's type, taken as the C takes them")
            p.add_argument("--calib-percentile", type=float, default=100.0, metavar="P",
                           help="activation range = the [100-P, P] percentiles over the samples instead of "
                                "min/max (e.g. 99.99 ignores outliers); default 100 (min/max)")
            p.add_argument("--name", help="C prefix for files and symbols (default: from the model's file name)")
            p.add_argument("--pixel-scale", default="1/255", metavar="S",
                           help="images and uint8 arrays: value = (pixel * S - mean) / std (default 1/255)")
            p.add_argument("--mean", default="0", metavar="M[,M,M]", help="per-channel mean, RGB order (default 0)")
            p.add_argument("--std", default="1", metavar="S[,S,S]", help="per-channel std, RGB order (default 1)")
            p.add_argument("--bgr", action="store_true", help="the model takes BGR channels (images are RGB)")
        else:
            p.set_defaults(calib=None, calib_percentile=100.0, name=None, pixel_scale="1/255", mean="0", std="1",
                           bgr=False)

    p = sub.add_parser("compile", help="generate C99 files (NAME.h, NAME.c, NAME_weights.c, mcugen.json)",
                       description="Quantize the model to int8 and write plain C99: NAME.h (API), NAME.c "
                       "(kernels, arena, NAME_run), NAME_weights.c (const constants) and mcugen.json (summary). "
                       "The folder is written whole or not at all.")
    common(p)
    p.add_argument("-o", "--output", required=True, metavar="DIR", help="output folder (created or replaced)")
    p.add_argument("--package", action="append", choices=list(packages.PACKAGES), metavar="KIND",
                   help="also write build-system glue: cmake (a library target NAME for add_subdirectory), zephyr "
                        "(a module), platformio (library.json), arduino (a library: the C under src/); repeatable")
    p.add_argument("--into", action="store_true",
                   help="write into an existing folder of your project (e.g. Core/Src): only mcugen's files are "
                        "written, replaced or removed there (its manifest NAME.mcugen.json lists them)")
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
    p.add_argument("--eval", metavar="PATH",
                   help="a labelled set: a folder with one subfolder of images per class (sorted names are the "
                        "class indices), or a .npz with x and y; reports the float model's and the C's top-1 "
                        "accuracy, per class too")
    p.add_argument("--min-accuracy", type=float, metavar="A",
                   help="a CI gate: exit 4 when the C's top-1 accuracy on --eval is below A (e.g. 0.95)")
    p.add_argument("--min-cosine", type=float, metavar="C",
                   help="a CI gate: exit 4 when the int8 C's outputs and the float model's have a cosine "
                        "similarity below C (e.g. 0.99), even when bit-exact")
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
    argv = sys.argv[1:] if argv is None else list(argv)
    as_json = "--json" in argv
    try:
        args = parser().parse_args(argv)
        if not getattr(args, "func", None):
            parser().print_help()
            return 2
        return args.func(args)
    except LimitError as exc:
        return _fail("error", str(exc), 4, as_json)
    except McugenError as exc:
        return _fail("error", str(exc), 2, as_json)
    except toolchain.BuildError as exc:
        return _fail("error", f"{exc} (a bug in mcugen: please report it)", 3, as_json)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `mcugen report | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except Exception as exc:
        if os.environ.get("MCUGEN_DEBUG"):
            raise
        return _fail("internal error", f"{type(exc).__name__}: {exc} (a bug in mcugen; MCUGEN_DEBUG=1 shows the "
                     "traceback)", 3, as_json)


def _fail(kind: str, message: str, status: int, as_json: bool) -> int:
    """One line on stderr; with --json also the one JSON document on stdout."""
    _say(kind, message)
    if as_json:
        print(json.dumps({"error": _one_line(message), "exit_status": status}, indent=2))
    return status
