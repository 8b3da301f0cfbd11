"""mcugen: compile MobileNet-family ONNX models to int8 C99 for microcontrollers.

Pipeline (one module per stage, data flows one way):
    frontend -> passes -> quantize -> planner -> codegen -> verify

The Python API (mcugen/api.py): mcugen.compile, mcugen.report, mcugen.verify, and the
errors they raise, McugenError (bad input) and LimitError (a limit or gate not met).
It is loaded on first use, so `import mcugen` stays cheap. `report` and `verify` are
also the subpackages mcugen/report/ and mcugen/verify/: calling either package calls the
API's function of that name (their __init__.py says how), so both uses work.
"""

__version__ = "0.1.0"

API = ("Built", "LimitError", "McugenError", "Preprocess", "Report", "compile", "report", "verify")
__all__ = ["__version__", *API]


def __getattr__(name: str):
    if name in ("report", "verify"):  # the callable subpackages
        import importlib

        return importlib.import_module(f"mcugen.{name}")
    if name == "Preprocess":
        from mcugen.samples import Preprocess

        return Preprocess
    if name in API:
        from mcugen import api

        return getattr(api, name)
    raise AttributeError(f"module 'mcugen' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *API])
