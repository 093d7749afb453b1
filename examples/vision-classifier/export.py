"""Writes the model artifact directory: model.onnx, model.json (the platform's mlops-model/v1 contract),
checkpoint.pt and parity/ (sample images with the tensors this code's preprocessing makes of them), and checks
the ONNX file against PyTorch before anything is uploaded."""

from __future__ import annotations

import json
import os

import shutil

import numpy as np
import torch
from PIL import Image

import onnx_runner
from data import load_image, normalize, preprocessing
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


def exporter_opset() -> int:
    """The opset to ask for. PyTorch's default exporter since 2.9 (dynamo-based) implements opset 18 and later
    only: asked for an older one, it tries a down-conversion that fails on this graph and keeps 18 anyway,
    printing a traceback. Older PyTorch keeps ONNX_OPSET. The platform's onnxruntime serves both."""
    major, minor = (int(part) for part in torch.__version__.split("+")[0].split(".")[:2])
    return 18 if (major, minor) >= (2, 9) else ONNX_OPSET


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
            opset_version=exporter_opset(),
            do_constant_folding=True,
        )
    inline_external_data(path)


def inline_external_data(path: str) -> None:
    """Makes ``path`` one self-contained file. Newer PyTorch exporters (the dynamo-based default since 2.9)
    write the weights next to the graph (``model.onnx.data``); the platform serves ``model.onnx`` alone,
    and a model this small (well under ONNX's 2 GB protobuf limit) needs no external data."""
    import onnx
    from onnx.external_data_helper import uses_external_data

    graph_only = onnx.load(path, load_external_data=False)
    files = set()
    for tensor in graph_only.graph.initializer:
        if uses_external_data(tensor):
            files.update(entry.value for entry in tensor.external_data if entry.key == "location")
    if not files:
        return
    model = onnx.load(path)  # reads the external data from the same directory
    onnx.save_model(model, path, save_as_external_data=False)
    directory = os.path.dirname(os.path.abspath(path))
    for name in files:
        data = os.path.normpath(os.path.join(directory, name))
        if os.path.dirname(data) == directory and os.path.exists(data):
            os.remove(data)


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


def write_parity_samples(out_dir: str, source: str, image_size: int) -> list[str]:
    """parity/<name>.<image> + parity/<name>.f32 (float32 little-endian, C x H x W): one training image as it
    is, and as the forms users send (another size in grayscale, RGBA, JPEG), each with the tensor *this*
    preprocessing makes of it. Registration and deployment check that serving reproduces every one
    (docs/serving-model-format.md, "Parity samples"); returns the sample names."""
    parity = os.path.join(out_dir, "parity")
    shutil.rmtree(parity, ignore_errors=True)
    os.makedirs(parity)
    ext = os.path.splitext(source)[1].lower()
    shutil.copyfile(source, os.path.join(parity, f"original{ext}"))
    with Image.open(source) as image:
        rgb = image.convert("RGB")
    small, large = max(1, image_size * 7 // 8), image_size * 3 // 2 + 1
    rgb.resize((small, small), Image.BILINEAR).convert("L").save(os.path.join(parity, "gray.png"))
    rgba = rgb.resize((large, image_size + 3), Image.BICUBIC).convert("RGBA")
    rgba.putalpha(180)
    rgba.save(os.path.join(parity, "rgba.png"))
    rgb.resize((image_size * 2, image_size * 2), Image.BICUBIC).save(os.path.join(parity, "photo.jpg"), quality=90)
    names = []
    for file in sorted(os.listdir(parity)):
        name = os.path.splitext(file)[0]
        pixels = torch.from_numpy(np.array(load_image(os.path.join(parity, file), [image_size, image_size])))
        tensor = normalize(pixels.permute(2, 0, 1).unsqueeze(0))[0]
        tensor.numpy().astype("<f4").tofile(os.path.join(parity, f"{name}.f32"))
        names.append(name)
    return names


def write_model_dir(model: SmallCNN, classes: list[str], image_size: int, out_dir: str, check_batch,
                    parity_source: str | None = None) -> float:
    os.makedirs(out_dir, exist_ok=True)
    if parity_source:
        write_parity_samples(out_dir, parity_source, image_size)
    onnx_path = os.path.join(out_dir, "model.onnx")
    export_onnx(model, image_size, onnx_path)
    diff = verify_onnx(onnx_path, model, check_batch)
    with open(os.path.join(out_dir, "model.json"), "w", encoding="utf-8") as out:
        json.dump(model_json(classes, image_size), out, indent=2)
        out.write("\n")
    torch.save(checkpoint_dict(model, classes, image_size), os.path.join(out_dir, "checkpoint.pt"))
    return diff
