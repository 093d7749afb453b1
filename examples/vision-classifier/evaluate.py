#!/usr/bin/env python3
"""Accuracy and per-class metrics of an exported model on an ImageFolder directory.

--model is a model directory (model.onnx + model.json [+ checkpoint.pt]), a model.onnx file, or
MODEL:VERSION from the registry (downloaded through the SDK; VERSION may be a number, a stage or an alias).
Images are preprocessed as the model's model.json says, so this checks what serving will see."""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile

import numpy as np
import torch

import onnx_runner
from data import list_image_folder, load_items, normalize

HERE = os.path.dirname(os.path.abspath(__file__))


def _sdk():
    try:
        import mlops_sdk
    except ImportError:
        sys.path.insert(0, os.path.join(HERE, "..", "..", "sdk", "python"))
        import mlops_sdk
    return mlops_sdk


def resolve_model_dir(ref: str, workdir: str) -> str:
    if os.path.isfile(ref):
        return os.path.dirname(os.path.abspath(ref))
    if os.path.isdir(ref):
        return ref
    sdk = _sdk()
    name, version = sdk.parse_model_ref(ref)
    dest = os.path.join(workdir, "model")
    sdk.Client.from_env().get_model_version_download(name, version, dest)
    return dest


def predictor(model_dir: str, backend: str):
    onnx_path = os.path.join(model_dir, "model.onnx")
    if backend == "auto":
        backend = "onnx" if os.path.isfile(onnx_path) else "torch"
    if backend == "onnx":
        run = onnx_runner.load(onnx_path)
        return lambda x: run(x.numpy())
    from model import load_checkpoint, model_from_checkpoint

    model = model_from_checkpoint(load_checkpoint(os.path.join(model_dir, "checkpoint.pt"))).eval()

    def predict(x):
        with torch.no_grad():
            return model(x).numpy()

    return predict


def evaluate_model(model_dir: str, data_dir: str, backend: str = "auto", batch_size: int = 256) -> dict:
    with open(os.path.join(model_dir, "model.json"), encoding="utf-8") as f:
        meta = json.load(f)
    pre = meta["preprocessing"]
    classes = meta["classes"]
    data_classes, items = list_image_folder(data_dir)
    x_u8, labels = load_items(data_dir, items, classes, pre["resize"])
    x = normalize(x_u8, pre["scale"], pre["mean"], pre["std"])
    predict = predictor(model_dir, backend)
    preds = np.concatenate([predict(x[i : i + batch_size]).argmax(1) for i in range(0, len(x), batch_size)])
    y = labels.numpy()
    n = len(classes)
    confusion = np.zeros((n, n), dtype=np.int64)
    for truth, pred in zip(y, preds):
        if truth >= 0:
            confusion[truth, pred] += 1
    per_class = {}
    for i, name in enumerate(classes):
        tp = int(confusion[i, i])
        support = int(confusion[i].sum())
        predicted = int(confusion[:, i].sum())
        precision = tp / predicted if predicted else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        per_class[name] = {"precision": precision, "recall": recall, "f1": f1, "support": support}
    return {
        "accuracy": float((preds == y).mean()),  # images of classes the model lacks count as wrong
        "count": int(len(y)),
        "classes": classes,
        "unknown_classes": sorted(set(data_classes) - set(classes)),
        "per_class": per_class,
        "confusion": confusion.tolist(),
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", required=True, help="model dir, model.onnx, or MODEL:VERSION")
    p.add_argument("--data", required=True, help="ImageFolder directory")
    p.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as workdir:
        result = evaluate_model(resolve_model_dir(args.model, workdir), args.data, args.backend)
    result["model"] = args.model
    result["data"] = args.data
    if args.json:
        print(json.dumps(result))
    else:
        print(f"accuracy {result['accuracy']:.4f} on {result['count']} images")
        for name, m in result["per_class"].items():
            print(f"  {name:12s} precision {m['precision']:.3f} recall {m['recall']:.3f} f1 {m['f1']:.3f} n={m['support']}")
        if result["unknown_classes"]:
            print(f"  classes unknown to the model (counted as wrong): {', '.join(result['unknown_classes'])}")
    return result


if __name__ == "__main__":
    main()
