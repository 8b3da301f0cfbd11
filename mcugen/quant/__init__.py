"""Quantization: calibration and int8 parameters (quantize.py), and the worst-case error
bound of the quantized graph against the float model (errorbound.py)."""
