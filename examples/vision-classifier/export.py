"""Writes the model artifact directory: model.onnx, model.json (the platform's mlops-model/v1 contract)
and checkpoint.pt, and checks the ONNX file against PyTorch before anything is uploaded."""

from __future__ import annotations

import json
import os

import numpy as np
import torch

import onnx_runner
from data import preprocessing
from model import SmallCNN, checkpoint_dict

ONNX_OPSET = 13
INPUT_NAME = "input"
OUTPUT_NAME = "logits"


def model_json(classes: list[str], image_size: int) -> dict:
    return {
        "format": "mlops-model/v1",
        "task": "classification",
        "framework": "pytorch",
        "inputName": INPUT_NAME,
        "inputShape": [3, image_size, image_size],
        "preprocessing": preprocessing(image_size),
        "classes": list(classes),
        "output": {"kind": "logits"},
    }


def export_onnx(model: SmallCNN, image_size: int, path: str) -> None:
    model.eval()
    dummy = torch.zeros(1, 3, image_size, image_size)
    with torch.no_grad():
        torch.onnx.export(
            model,
            dummy,
            path,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}},
            opset_version=ONNX_OPSET,
            do_constant_folding=True,
        )


def verify_onnx(path: str, model: SmallCNN, batch: torch.Tensor, tolerance: float = 1e-3) -> float:
    """Max absolute difference between ONNX and PyTorch logits on ``batch``; raises above ``tolerance``."""
    model.eval()
    with torch.no_grad():
        expected = model(batch).numpy()
    actual = onnx_runner.load(path)(batch.numpy())
    if actual.shape != expected.shape:
        raise RuntimeError(f"ONNX output shape {actual.shape} != PyTorch {expected.shape}")
    diff = float(np.max(np.abs(actual - expected)))
    if not diff <= tolerance:
        raise RuntimeError(f"ONNX export differs from PyTorch by {diff:.2e} (tolerance {tolerance:.0e})")
    return diff


def write_model_dir(model: SmallCNN, classes: list[str], image_size: int, out_dir: str, check_batch) -> float:
    os.makedirs(out_dir, exist_ok=True)
    onnx_path = os.path.join(out_dir, "model.onnx")
    export_onnx(model, image_size, onnx_path)
    diff = verify_onnx(onnx_path, model, check_batch)
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as out:
        json.dump(model_json(classes, image_size), out, indent=2)
        out.write("\n")
    torch.save(checkpoint_dict(model, classes, image_size), os.path.join(out_dir, "checkpoint.pt"))
    return diff
