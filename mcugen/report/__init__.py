"""Reports: per-layer tables and totals (summary.py) and the arena picture (picture.py)."""

from mcugen.report.summary import format_text, layers, summary, tensors  # noqa: F401  the interface
