#!/usr/bin/env python3
"""The small CNN trained the way a single-GPU script does it: a DataLoader, Adam, metrics through the SDK,
a checkpoint at the end. train_single_gpu.py and train_ddp.py differ by exactly two lines (the import of
mlops_sdk.distributed and `dist.prepare`); train_ddp.py runs on one process as well as on many ranks:

    mlops run submit --code . --nodes 2 --gpus-per-node 4 --procs-per-node 4 -- python train_ddp.py --data data

(docs/distributed-training.md). train.py is the full example (ONNX export, registration, fine-tuning)."""

from __future__ import annotations

import argparse
import os
import sys

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from data import list_image_folder, load_items, normalize, split_train_val
from model import SmallCNN, checkpoint_dict

try:
    import mlops_sdk
except ImportError:  # running from a checkout: use the SDK next door
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sdk", "python"))
    import mlops_sdk
import mlops_sdk.distributed as dist


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="ImageFolder directory (<class>/<image>)")
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--width", type=int, default=16, help="channels of the first convolution")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--output", default=os.environ.get("MLOPS_OUTPUT_DIR") or "mlops-output")
    return p.parse_args(argv)


@torch.no_grad()
def evaluate(model, loader, device) -> float:
    model.eval()
    correct, seen = 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        correct += int((model(x).argmax(1) == y).sum())
        seen += len(y)
    return correct / seen


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    classes, items = list_image_folder(args.data)
    train_items, val_items = split_train_val(items)
    size = [args.image_size, args.image_size]
    x_train, y_train = load_items(args.data, train_items, classes, size)
    x_val, y_val = load_items(args.data, val_items, classes, size)
    loader = DataLoader(TensorDataset(normalize(x_train), y_train), batch_size=args.batch_size, shuffle=True)
    val_loader = DataLoader(TensorDataset(normalize(x_val), y_val), batch_size=256)

    model = SmallCNN(len(classes), args.width).to(device)
    model, loader = dist.prepare(model, loader)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    loss_fn = nn.CrossEntropyLoss()
    run = mlops_sdk.start_run("vision-classifier", output_dir=args.output)
    run.log_params({"epochs": args.epochs, "batch_size": args.batch_size, "lr": args.lr, "width": args.width})

    for epoch in range(1, args.epochs + 1):
        model.train()
        total_loss, correct, seen = 0.0, 0, 0
        for x, y in loader:
            x, y = x.to(device), y.to(device)
            logits = model(x)
            loss = loss_fn(logits, y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total_loss += float(loss) * len(y)
            correct += int((logits.argmax(1) == y).sum())
            seen += len(y)
        val_accuracy = evaluate(model, val_loader, device)
        metrics = {"train_loss": total_loss / seen, "train_accuracy": correct / seen, "val_accuracy": val_accuracy}
        run.log_metrics(metrics, step=epoch)
        print(f"epoch {epoch}/{args.epochs}: " + " ".join(f"{k} {v:.4f}" for k, v in metrics.items()), flush=True)

    os.makedirs(args.output, exist_ok=True)
    path = os.path.join(args.output, "checkpoint.pt")
    partial = f"{path}.{os.getpid()}.partial"
    torch.save(checkpoint_dict(model, classes, args.image_size), partial)
    os.replace(partial, path)  # a reader never sees half a checkpoint
    run.log_artifact(path, "model")
    run.end_run()
    return {"run_id": run.run_id, "checkpoint": path, **metrics}


if __name__ == "__main__":
    main()
