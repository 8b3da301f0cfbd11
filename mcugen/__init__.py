"""mcugen: compile MobileNet-family ONNX models to int8 C99 for microcontrollers.

Pipeline (one module per stage, data flows one way):
    frontend -> passes -> quantize -> planner -> codegen -> verify
"""

__version__ = "0.1.0"
