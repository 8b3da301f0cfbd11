"""NCHW (ONNX) and NHWC (mcugen's IR, the C buffers): the one place layouts convert.

Arrays carry a leading batch. Only rank-4 tensors differ between the two layouts;
vectors [N, F] are the same in both.
"""

from __future__ import annotations

import numpy as np


def ir_shape(onnx_shape) -> tuple[int, ...]:
    s = tuple(onnx_shape)
    return (s[0], s[2], s[3], s[1]) if len(s) == 4 else s


def onnx_shape(shape) -> tuple[int, ...]:
    s = tuple(shape)
    return (s[0], s[3], s[1], s[2]) if len(s) == 4 else s


def to_ir(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 2, 3, 1) if array.ndim == 4 else array


def to_onnx(array: np.ndarray) -> np.ndarray:
    return array.transpose(0, 3, 1, 2) if array.ndim == 4 else array


def as_image(shape) -> tuple[int, ...]:
    """The NHWC view a windowed kernel takes: a vector [N, F] is a 1x1 image [N, 1, 1, F]."""
    s = tuple(shape)
    return s if len(s) == 4 else (s[0], 1, 1, int(np.prod(s[1:])))


def file_input_shape(graph) -> tuple[int, ...]:
    """The graph input's shape as the model file has it (batch 1)."""
    if graph.input_file_shape is not None:
        return tuple(graph.input_file_shape)
    shape = graph.shape(graph.input)
    return tuple(shape) if graph.input_layout == "NHWC" else onnx_shape(shape)


def input_to_ir(array: np.ndarray, graph) -> np.ndarray:
    """Samples in the model file's input shape -> the IR's. An NHWC file input (tf2onnx,
    its Transpose or one-channel Reshape absorbed by the frontend) holds the IR's bytes."""
    if graph.input_layout == "NHWC":
        return array.reshape(len(array), *graph.shape(graph.input)[1:])
    return to_ir(array)


def input_to_onnx(array: np.ndarray, graph) -> np.ndarray:
    """IR samples -> the model file's input shape (what onnxruntime is fed)."""
    if graph.input_layout == "NHWC":
        return array.reshape(len(array), *file_input_shape(graph)[1:])
    return to_onnx(array)
