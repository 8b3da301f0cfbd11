"""C emission: a quantized (or float32), planned graph in; the text of the C files out
(codegen.py), with the precision's constants and literals (float32.py) and the kernel C
library (kernels/)."""
