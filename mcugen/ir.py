"""The intermediate representation: a graph of nodes over named tensors.

Layout: activations of rank 4 are NHWC (the ONNX file is NCHW; the frontend
transposes once); rank-2 activations are [N, features]. Batch is always 1 in the
compiled model; the numpy references take a leading batch of samples.
Constants (weights, biases) live in node.attrs as numpy arrays, not as tensors:
only activations are tensors, so only activations need arena space.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class QParams:
    """Per-tensor affine quantization: real = scale * (q - zero_point)."""

    scale: float
    zero_point: int

    def real_range(self) -> tuple[float, float]:
        """The real values int8 holds: where a QDQ model's QuantizeLinear saturates."""
        return self.scale * (-128 - self.zero_point), self.scale * (127 - self.zero_point)


@dataclass
class Tensor:
    name: str
    shape: tuple[int, ...]
    q: QParams | None = None  # set by quantize
    # The quantization the model itself fixes (a QuantizeLinear/DequantizeLinear pair in a
    # QDQ model, passes/fold_qdq.py); quantize uses it instead of a calibrated range.
    fixed: QParams | None = None

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


@dataclass
class Node:
    name: str  # the ONNX node name, untrusted: only ever shown through errors.quote
    op: str  # mcugen op kind, e.g. "conv", "depthwise_conv"
    inputs: list[str]
    outputs: list[str]
    attrs: dict = field(default_factory=dict)  # float attributes and constants
    onnx_op: str = ""  # the ONNX op type it came from, for messages
    params: dict = field(default_factory=dict)  # integer constants, set by quantize

    @property
    def input(self) -> str:
        """The first input: the only one of every op but `add` and `mul`."""
        return self.inputs[0]

    @property
    def output(self) -> str:
        return self.outputs[0]


@dataclass
class Graph:
    tensors: dict[str, Tensor]
    nodes: list[Node]  # in execution (topological) order
    input: str
    output: str
    opset: int = 0
    source: str = ""  # model file name, for messages and generated comments
    # The layout of the ONNX file's image input: "NCHW", or "NHWC" when the file's input is
    # NHWC followed by a Transpose to NCHW (tf2onnx), which the frontend absorbs. Samples
    # given "in the ONNX input's layout" (--calib, onnxruntime) are converted with it.
    # "NHWC" also when the file's input is reshaped to an image whose NHWC bytes are its
    # own in order (one channel, tidy.absorb_input_reshape): in both, the C input's bytes
    # are the file input's, in order.
    input_layout: str = "NCHW"
    input_file_shape: tuple[int, ...] | None = None  # the file's input shape (batch 1); None: from input
    # The element types of the file's input and output: "float32", or "int8"/"uint8" for a
    # full-int8 model (frontend/integer_io.py), whose C takes and gives those bytes as they are.
    input_type: str = "float32"
    output_type: str = "float32"

    def producer(self, tensor: str) -> Node | None:
        for node in self.nodes:
            if tensor in node.outputs:
                return node
        return None

    def consumers(self, tensor: str) -> list[Node]:
        return [node for node in self.nodes if tensor in node.inputs]

    def shape(self, tensor: str) -> tuple[int, ...]:
        return self.tensors[tensor].shape

    def in_shapes(self, node: Node) -> list[tuple[int, ...]]:
        """The shapes of node's inputs in order: what the op hooks take as *in_shapes."""
        return [self.shape(name) for name in node.inputs]

    def bypass(self, node: Node) -> None:
        """Remove a single-input, single-output node, wiring its input through."""
        src, dst = node.input, node.output
        self.nodes.remove(node)
        if self.tensors[src].fixed is None and dst in self.tensors:
            # The model's quantization of what the node gave is that of what it passed on
            # (a reshape moves no values): it must not go with the tensor.
            self.tensors[src].fixed = self.tensors[dst].fixed
        for other in self.nodes:
            other.inputs = [src if name == dst else name for name in other.inputs]
        if self.output == dst:
            self.output = src
        self.tensors.pop(dst, None)

    def merge_into_producer(self, producer: Node, node: Node) -> None:
        """Drop `node` after folding it into `producer`: producer now writes node's output."""
        old = producer.output
        producer.outputs = [node.output]
        self.nodes.remove(node)
        self.tensors.pop(old, None)

    def sole_consumer(self, tensor: str) -> Node | None:
        """The one node reading `tensor`, if exactly one does and it is not the graph output."""
        users = self.consumers(tensor)
        if len(users) == 1 and tensor != self.output:
            return users[0]
        return None

    def folds_into(self, node: Node, kinds: tuple[str, ...]) -> Node | None:
        """The producer of node's input, if it has kind in `kinds` and feeds only `node`."""
        producer = self.producer(node.input)
        if producer is not None and producer.op in kinds and self.sole_consumer(node.input) is node:
            return producer
        return None
