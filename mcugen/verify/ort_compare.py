"""A QDQ model's int8 against onnxruntime running the QDQ model itself (verify's figures).

Each figure is the share of elements within 1 LSB (of their tensor's scale):

- end to end: the model's outputs, with onnxruntime running the QDQ model as written
  (graph optimization 'basic': each DequantizeLinear, the float op, each QuantizeLinear,
  which is what the format means);
- layer by layer: every quantized tensor mcugen also computes, with onnxruntime's op given
  mcugen's own int8 inputs (the model is cut at each QuantizeLinear -> DequantizeLinear
  edge): mcugen's arithmetic against onnxruntime's, without the earlier layers' drift;
- fused: the outputs with onnxruntime's default optimizations, which fuse the pairs into
  its own integer kernels (QLinearConv, QLinearAdd, QLinearGlobalAveragePool, ...);
- end to end on the real inputs alone (the samples verify takes from --calib), since
  random inputs take a trained network where it was never meant to go;
- onnxruntime against itself: its fused outputs against its outputs as written, the
  yardstick for the others (two correct int8 executions of one model, both onnxruntime's).

Equality is not the contract, and not to be expected. mcugen requantizes as TFLite does:
a Q31 multiplier (ties rounded up), then a rounding shift (ties away from zero), so a value
within about 2**-8 LSB of a half rounds the other way about half the time; onnxruntime
multiplies by a float scale and rounds once, half to even. mcugen also requantizes once
where onnxruntime rounds twice (a ReLU6 after a conv's pair, the max/min clamps), and a
pooling layer keeps its input's scale before a table requantizes it. Those 1-LSB
differences are rare in each layer, but every later layer multiplies them by its gain, so
a deep network with large gains (the random example networks) drifts far apart at the
output while each layer agrees. onnxruntime's fused uint8 x int8 kernels on x86 without
VNNI also saturate int16 pair sums (its reduce_range caveat), so the fused figure is
onnxruntime's own approximation too.
"""

from __future__ import annotations

import numpy as np
import onnx

from mcugen import layout
from mcugen.frontend import qdq
from mcugen.ir import Graph
from mcugen.quant import quantize

SLACK = 1e-3  # float32 rounding of onnxruntime's dequantized outputs, in LSB


def _session(model: bytes, level: str):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # failures are reported by the caller
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, level)
    return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])


def _outputs(session, feeds: list[dict]) -> list[list[np.ndarray]]:
    return [session.run(None, feed) for feed in feeds]


def compare(model: onnx.ModelProto, graph: Graph, x_onnx: np.ndarray, y_ours: np.ndarray,
            ours_by_tensor: dict[str, np.ndarray], real: int = 0) -> dict:
    """The figures (verify.Result's qdq_* fields); raises when onnxruntime fails.
    y_ours: mcugen's outputs dequantized, flat, in ONNX order; ours_by_tensor: every int8
    tensor of the reference run (graph layout); real: how many of the first samples are
    real inputs (from --calib) rather than random ones."""
    input_name = graph.input
    feeds = [{input_name: x_onnx[i: i + 1]} for i in range(len(x_onnx))]
    lsb = graph.tensors[graph.output].q.scale
    serialized = model.SerializeToString()

    def end_to_end(level):
        runs = _outputs(_session(serialized, level), feeds)
        return np.stack([run[0].astype(np.float64).reshape(-1) for run in runs])

    y_basic, y_fused = end_to_end("ORT_ENABLE_BASIC"), end_to_end("ORT_ENABLE_ALL")
    basic, fused = np.abs(y_ours - y_basic) / lsb, np.abs(y_ours - y_fused) / lsb
    within, compared = _layers(model, graph, feeds, ours_by_tensor)
    return dict(qdq_within_1_lsb=_share(basic), qdq_max_lsb=round(float(basic.max()), 3),
                qdq_real_within_1_lsb=_share(basic[:real]) if real else None, qdq_real_samples=real,
                qdq_fused_within_1_lsb=_share(fused),
                qdq_onnxruntime_self_within_1_lsb=_share(np.abs(y_fused - y_basic) / lsb),
                qdq_layers_within_1_lsb=within, qdq_layers_compared=compared)


def _share(lsb: np.ndarray) -> float:
    return float(np.mean(lsb <= 1 + SLACK))


def _layers(model, graph, feeds, ours_by_tensor) -> tuple[float | None, int]:
    """(share of elements within 1 LSB over every compared tensor, how many tensors)."""
    types = _static_types(model, graph)
    cut, inputs, outputs = _cut(model, graph, types)
    if not outputs:
        return None, 0
    session = _session(cut.SerializeToString(), "ORT_ENABLE_BASIC")
    names = [o.name for o in session.get_outputs()]
    close = total = 0
    for i, feed in enumerate(feeds):
        feed = dict(feed, **{new: _as_onnx(ours_by_tensor[ours][i: i + 1], *types[edge])
                             for new, (edge, ours) in inputs.items()})
        for name, got in zip(names, session.run(None, feed)):
            want = _as_onnx(ours_by_tensor[outputs[name]][i: i + 1], *types[name])
            diff = np.abs(got.astype(np.int64) - want.astype(np.int64))
            close += int(np.sum(diff <= 1))
            total += diff.size
    return close / total, len(outputs)


def _static_types(model, graph) -> dict[str, tuple[int, tuple[int, ...]]]:
    """{tensor: (ONNX element type, static shape)} with the input at its compiled shape."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    dims = m.graph.input[[i.name for i in m.graph.input].index(graph.input)].type.tensor_type.shape.dim
    for d, size in zip(dims, (1, *quantize.onnx_input_shape(graph))):
        d.Clear()
        d.dim_value = size
    inferred = onnx.shape_inference.infer_shapes(m, data_prop=True).graph
    types = {}
    for vi in list(inferred.value_info) + list(inferred.output):
        t = vi.type.tensor_type
        if t.HasField("shape") and all(d.HasField("dim_value") for d in t.shape.dim):
            types[vi.name] = (t.elem_type, tuple(d.dim_value for d in t.shape.dim))
    return types


def _cut(model, graph, types):
    """The model with each QuantizeLinear -> DequantizeLinear edge of a tensor mcugen also
    computes (same quantization) replaced by a graph input, and those QuantizeLinear
    outputs as graph outputs. Returns (model, {input: (edge, our tensor)}, {output: our tensor})."""
    m = onnx.ModelProto.FromString(model.SerializeToString())
    values = {t.name: onnx.numpy_helper.to_array(t) for t in m.graph.initializer}
    ours = {}
    for node in m.graph.node:
        name = _our_tensor(graph, node, values) if node.op_type == "QuantizeLinear" else None
        if name is not None and node.output[0] in types:
            ours[node.output[0]] = name
    inputs = {}
    for node in m.graph.node:
        if node.op_type == "DequantizeLinear" and node.input[0] in ours:
            new = node.input[0] + "/mcugen_input"
            inputs[new] = (node.input[0], ours[node.input[0]])
            node.input[0] = new
    m.graph.input.extend(onnx.helper.make_tensor_value_info(new, *types[edge]) for new, (edge, _) in inputs.items())
    del m.graph.output[:]
    m.graph.output.extend(onnx.helper.make_tensor_value_info(name, *types[name]) for name in ours)
    return m, inputs, ours


def _our_tensor(graph, quantize_node, values) -> str | None:
    """The tensor of mcugen's quantized graph that holds this QuantizeLinear's output: its
    input, folded (passes/fold_qdq.py), or its output, a requantizing table."""
    inputs = list(quantize_node.input) + ["", ""]
    if inputs[1] not in values or (inputs[2] and inputs[2] not in values):
        return None
    zp = values[inputs[2]] if inputs[2] else np.zeros((), np.uint8)
    if np.asarray(values[inputs[1]]).size != 1 or zp.dtype not in qdq.ACTIVATION_TYPES:
        return None
    params = qdq.activation_qparams(float(np.asarray(values[inputs[1]]).reshape(-1)[0]), int(zp.reshape(-1)[0]), zp.dtype)
    for name in (quantize_node.output[0], quantize_node.input[0]):
        if name in graph.tensors and graph.tensors[name].q == params:
            return name
    return None


def _as_onnx(ours: np.ndarray, elem_type: int, shape) -> np.ndarray:
    """mcugen's int8 values (graph layout) as the ONNX tensor: its layout, shape and type."""
    flat = ours.reshape(len(ours), -1)
    if len(shape) == 4:
        n, c, h, w = shape
        flat = layout.to_onnx(flat.reshape(n, h, w, c))
    dtype = onnx.helper.tensor_dtype_to_np_dtype(elem_type)
    offset = qdq.ACTIVATION_TYPES.get(np.dtype(dtype), 0)
    return (flat.reshape(shape).astype(np.int64) + offset).astype(dtype)
