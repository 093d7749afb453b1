"""Runs an exported ONNX model: with onnxruntime when it is installed, else with a small NumPy interpreter
of the operators this example's CNN exports to (Python here has no onnxruntime; the platform's Node side
serves the same file with onnxruntime-node)."""

from __future__ import annotations

import numpy as np
import onnx
from numpy.lib.stride_tricks import sliding_window_view
from onnx import numpy_helper


def load(path: str):
    try:
        import onnxruntime  # type: ignore[import-not-found]

        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        input_name = session.get_inputs()[0].name
        return lambda x: session.run(None, {input_name: x.astype(np.float32)})[0]
    except ImportError:
        model = NumpyOnnxModel(path)
        return model.run


def _attrs(node) -> dict:
    return {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}


def _pad(x: np.ndarray, pads, value: float) -> np.ndarray:
    if not pads or not any(pads):
        return x
    half = len(pads) // 2
    width = [(0, 0), (0, 0)] + [(pads[i], pads[i + half]) for i in range(half)]
    return np.pad(x, width, constant_values=value)


def _windows(x: np.ndarray, kernel, strides) -> np.ndarray:
    view = sliding_window_view(x, tuple(kernel), axis=(2, 3))
    return view[:, :, :: strides[0], :: strides[1]]


def _conv(x, w, b, a):
    if a.get("group", 1) != 1 or any(d != 1 for d in a.get("dilations", [1, 1])):
        raise NotImplementedError("Conv with groups or dilations")
    kernel = w.shape[2:]
    win = _windows(_pad(x, a.get("pads"), 0.0), kernel, a.get("strides", [1, 1]))  # N C OH OW kh kw
    y = np.tensordot(win, w, axes=([1, 4, 5], [1, 2, 3]))  # N OH OW M
    y = y.transpose(0, 3, 1, 2)
    if b is not None:
        y = y + b.reshape(1, -1, 1, 1)
    return y.astype(np.float32)


def _maxpool(x, a):
    kernel = a["kernel_shape"]
    win = _windows(_pad(x, a.get("pads"), -np.inf), kernel, a.get("strides", kernel))
    return win.max(axis=(4, 5))


def _gemm(a_, b_, c_, a):
    if a.get("transA", 0):
        a_ = a_.T
    if a.get("transB", 0):
        b_ = b_.T
    y = a.get("alpha", 1.0) * (a_ @ b_)
    if c_ is not None:
        y = y + a.get("beta", 1.0) * c_
    return y


def _batchnorm(x, scale, bias, mean, var, a):
    shape = (1, -1, 1, 1)
    inv = scale / np.sqrt(var + a.get("epsilon", 1e-5))
    return (x - mean.reshape(shape)) * inv.reshape(shape) + bias.reshape(shape)


class NumpyOnnxModel:
    def __init__(self, path: str) -> None:
        self.model = onnx.load(path)
        graph = self.model.graph
        self.initializers = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
        self.input_name = next(i.name for i in graph.input if i.name not in self.initializers)
        self.output_name = graph.output[0].name

    def run(self, x: np.ndarray) -> np.ndarray:
        values = dict(self.initializers)
        values[self.input_name] = x.astype(np.float32)
        for node in self.model.graph.node:
            ins = [values[name] if name else None for name in node.input]
            values[node.output[0]] = self._apply(node, ins, _attrs(node))
        return values[self.output_name]

    def _apply(self, node, ins, a):
        op = node.op_type
        if op == "Conv":
            return _conv(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        if op == "BatchNormalization":
            return _batchnorm(*ins[:5], a)
        if op == "Relu":
            return np.maximum(ins[0], 0)
        if op == "MaxPool":
            return _maxpool(ins[0], a)
        if op == "GlobalAveragePool":
            return ins[0].mean(axis=(2, 3), keepdims=True)
        if op == "Flatten":
            axis = a.get("axis", 1)
            return ins[0].reshape(int(np.prod(ins[0].shape[:axis])), -1)
        if op == "Gemm":
            return _gemm(ins[0], ins[1], ins[2] if len(ins) > 2 else None, a)
        if op == "MatMul":
            return ins[0] @ ins[1]
        if op == "Add":
            return ins[0] + ins[1]
        if op == "ReduceMean":
            # Opset 18 moved `axes` from an attribute to an optional second input.
            axes = ins[1] if len(ins) > 1 and ins[1] is not None else a.get("axes")
            if axes is None or len(axes) == 0:
                if a.get("noop_with_empty_axes", 0):
                    return ins[0]
                axes = range(ins[0].ndim)
            return ins[0].mean(axis=tuple(int(i) for i in axes), keepdims=bool(a.get("keepdims", 1)))
        if op == "Reshape":
            shape = [int(s) for s in ins[1]]
            if not a.get("allowzero", 0):  # 0 = keep that input dimension
                shape = [ins[0].shape[i] if s == 0 else s for i, s in enumerate(shape)]
            return ins[0].reshape(shape)
        if op == "Identity":
            return ins[0]
        if op == "Constant":
            return numpy_helper.to_array(a["value"])
        raise NotImplementedError(f"ONNX operator {op} is not supported by the NumPy runner")
