#!/usr/bin/env python3
"""Accuracy and per-class metrics of an exported model on an ImageFolder directory.

--model is a model directory (model.onnx + model.json [+ checkpoint.pt]), a model.onnx file, or
MODEL:VERSION from the registry (downloaded through the SDK; VERSION may be a number, a stage or an alias).
Images are preprocessed as the model's model.json says, so this checks what serving will see.

--snapshot ID evaluates on one split of a platform dataset snapshot (default: holdout, the split no training
job downloads); the result names the evaluated items by the sha256 of their sorted ids."""

from __future__ import annotations

import argparse
import hashlib
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
    crop = pre.get("crop")
    x_u8, labels = load_items(data_dir, items, classes, pre["resize"], pre.get("interpolation", "bilinear"),
                              crop["center"] if isinstance(crop, dict) else None)
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
    p.add_argument("--data", help="ImageFolder directory")
    p.add_argument("--snapshot", help="platform dataset snapshot id (instead of --data)")
    p.add_argument("--split", default="holdout", choices=["train", "val", "holdout"], help="split of --snapshot")
    p.add_argument("--backend", choices=["auto", "onnx", "torch"], default="auto")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    args = p.parse_args(argv)
    if not args.data and not args.snapshot:
        p.error("give --data DIR or --snapshot ID")
    with tempfile.TemporaryDirectory() as workdir:
        data_dir, snapshot_info = args.data, {}
        if args.snapshot:
            got = _sdk().Client.from_env().download_snapshot(
                args.snapshot, os.path.join(workdir, "snapshot"), splits=(args.split,)
            )
            data_dir = got["splits"][args.split]
            ids = sorted(i["id"] for i in got["manifest"]["items"] if i["split"] == args.split and i.get("sha256"))
            snapshot_info = {
                "snapshot": got["id"],
                "split": args.split,
                "item_set_sha256": hashlib.sha256("\n".join(ids).encode("utf-8")).hexdigest(),
            }
        result = evaluate_model(resolve_model_dir(args.model, workdir), data_dir, args.backend)
    result.update(snapshot_info)
    result["model"] = args.model
    result["data"] = args.data or f"snapshot:{args.snapshot}/{args.split}"
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
