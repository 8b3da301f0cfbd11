"""Reports: per-layer tables and totals (summary.py) and the arena picture (picture.py)."""

import sys

from mcugen.report.summary import format_text, layers, summary, tensors  # noqa: F401  the interface


class _CallablePackage(type(sys.modules[__name__])):
    """mcugen.report(...) is the Python API's report (mcugen/api.py), and mcugen.report this package."""

    def __call__(self, *args, **kwargs):
        from mcugen import api

        return api.report(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
