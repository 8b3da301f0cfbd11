"""Cortex-M targets: cross compilers (toolchain.py, targets.py), the emulator
(emulator.py), the cycle model (cycles.py) and the benchmark (bench.py)."""
