#!/usr/bin/env python3
"""Trains the small CNN on an ImageFolder data set, logs to the run through the mlops SDK, exports
model/ (model.onnx + model.json + checkpoint.pt), uploads it and optionally registers a model version.

Transfer learning: --init-from MODEL:VERSION (from the registry) or a local model dir / checkpoint keeps
the backbone, re-creates the head when the class set changed, can freeze the backbone for the first epochs
and uses --finetune-lr. Inside a retraining job, MLOPS_BASE_MODEL is the default for --init-from.

Platform data: --snapshot ID (default MLOPS_DATASET_SNAPSHOT when --data is not given) downloads the
snapshot's train and val splits through the SDK -- never holdout, which stays unseen for evaluation."""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn

from data import list_image_folder, load_items, normalize, order_by_content, split_train_val
from export import write_model_dir
from model import ARCH, SmallCNN, init_from_checkpoint, load_checkpoint

HERE = os.path.dirname(os.path.abspath(__file__))
try:
    import mlops_sdk
except ImportError:  # running from a checkout: use the SDK next door
    sys.path.insert(0, os.path.join(HERE, "..", "..", "sdk", "python"))
    import mlops_sdk


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="ImageFolder directory (<class>/<image>); or use --snapshot")
    p.add_argument("--snapshot", help="platform dataset snapshot id (default: MLOPS_DATASET_SNAPSHOT); train+val only")
    p.add_argument("--shuffle-labels", type=float, default=0.0, metavar="FRACTION",
                   help="corrupt this fraction of the training labels (to demonstrate a bad candidate)")
    p.add_argument("--val", help="separate validation directory (default: a deterministic 20%% split of --data)")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=3e-3, help="learning rate when training from scratch")
    p.add_argument("--finetune-lr", type=float, help="learning rate with --init-from (default: lr / 3)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--width", type=int, default=16, help="channels of the first convolution")
    p.add_argument("--no-augment", action="store_true", help="no random flips/transposes")
    p.add_argument("--target-accuracy", type=float, help="stop once val_accuracy reaches this")
    p.add_argument("--keep-best", action="store_true",
                   help="export the weights of the epoch with the best val_accuracy, not the last epoch's")
    p.add_argument("--init-from", help="MODEL:VERSION, or a local model dir / checkpoint.pt")
    p.add_argument("--freeze-backbone-epochs", type=int, default=0)
    p.add_argument("--register", metavar="NAME", help="register the trained model under this name")
    p.add_argument("--output", help="output directory (default: MLOPS_OUTPUT_DIR or ./mlops-output)")
    p.add_argument("--experiment", default="vision-classifier", help="experiment when not inside a job")
    p.add_argument("--run-name")
    p.add_argument("--quiet", action="store_true")
    return p.parse_args(argv)


def seed_everything(seed: int) -> None:
    """Same seed, same data: same model, on a GPU too. cuDNN's fastest kernels (and cuBLAS without a fixed
    workspace) add in a varying order, so two GPU runs drifted apart by ~1e-8 per step; the deterministic ones
    cost little for a network this size. The retraining loop relies on it (a retrain is reproducible)."""
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # read when cuBLAS starts: before any CUDA work
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.use_deterministic_algorithms(True, warn_only=True)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_checkpoint(ref: str, run, workdir: str) -> str:
    if os.path.isdir(ref):
        for candidate in (os.path.join(ref, "checkpoint.pt"), os.path.join(ref, "model", "checkpoint.pt")):
            if os.path.isfile(candidate):
                return candidate
        raise SystemExit(f"no checkpoint.pt in {ref}")
    if os.path.isfile(ref):
        return ref
    name, version = mlops_sdk.parse_model_ref(ref)
    dest = os.path.join(workdir, "base-model")
    run.get_model_version_download(name, version, dest)
    return os.path.join(dest, "checkpoint.pt")


def augment(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random flip/transpose per image (the 8 symmetries of the square): a shape keeps its class under
    each, and eight views of every image keep the small model from memorising backgrounds."""
    masks = torch.rand(3, len(x), 1, 1, 1, generator=generator).to(x.device) < 0.5
    x = torch.where(masks[0], x.flip(3), x)
    x = torch.where(masks[1], x.flip(2), x)
    return torch.where(masks[2], x.transpose(2, 3), x) if x.shape[2] == x.shape[3] else x


def run_epoch(model, x, y, optimizer, batch_size, generator, frozen_backbone, use_augment=True):
    model.train()
    if frozen_backbone:
        model.backbone.eval()  # keep the frozen backbone's batch-norm statistics as they were
    loss_fn = nn.CrossEntropyLoss()
    order = torch.randperm(len(y), generator=generator).to(x.device)
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        idx = order[start : start + batch_size]
        batch = augment(x[idx], generator) if use_augment else x[idx]
        logits = model(batch)
        loss = loss_fn(logits, y[idx])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += float(loss) * len(idx)
        correct += int((logits.argmax(1) == y[idx]).sum())
    return total_loss / len(y), correct / len(y)


@torch.no_grad()
def evaluate(model, x, y, batch_size=512):
    model.eval()
    loss_fn = nn.CrossEntropyLoss(reduction="sum")
    total_loss, correct = 0.0, 0
    for start in range(0, len(y), batch_size):
        logits = model(x[start : start + batch_size])
        total_loss += float(loss_fn(logits, y[start : start + batch_size]))
        correct += int((logits.argmax(1) == y[start : start + batch_size]).sum())
    return total_loss / len(y), correct / len(y)


def fetch_snapshot_data(args, env, workdir, say) -> None:
    """--snapshot: the train and val splits into workdir, as ImageFolder directories (holdout is never fetched)."""
    client = mlops_sdk.Client.from_env()
    t0 = time.monotonic()
    got = client.download_snapshot(args.snapshot, os.path.join(workdir, "snapshot"), splits=("train", "val"))
    args.data = got["splits"]["train"]
    args.val = got["splits"]["val"] if got["counts"]["val"] > 0 else None
    args.snapshot_counts = got["counts"]
    say(f"snapshot {args.snapshot[:12]}: {got['counts']['train']} train + {got['counts']['val']} val images "
        f"({time.monotonic() - t0:.1f}s)")


def corrupt_labels(y: torch.Tensor, fraction: float, classes: int, seed: int) -> int:
    """Replaces `fraction` of the labels by a different class (deterministic); returns how many."""
    if fraction <= 0:
        return 0
    g = torch.Generator().manual_seed(seed + 7919)
    picked = torch.randperm(len(y), generator=g)[: int(round(fraction * len(y)))]
    shift = torch.randint(1, classes, (len(picked),), generator=g)
    y[picked] = (y[picked] + shift.to(y.device)) % classes
    return len(picked)


def load_data(args):
    size = [args.image_size, args.image_size]
    classes, items = list_image_folder(args.data)
    if args.val:
        val_classes, val_items = list_image_folder(args.val)
        unknown = sorted(set(val_classes) - set(classes))
        if unknown:
            raise SystemExit(f"validation classes not in the training data: {unknown}")
        train_items, val_root = items, args.val
    else:
        train_items, val_items = split_train_val(items)
        val_root = args.data
    if not val_items and args.val:  # e.g. a snapshot whose val split is empty: fall back to a split
        train_items, val_items = split_train_val(items)
        val_root = args.data
    if not val_items:
        raise SystemExit("the validation split is empty; add images or pass --val")
    # Snapshot files are named by item id: what the model saw, recorded with the run (lineage, and checkable).
    args.used_items = {
        "train": sorted(os.path.splitext(os.path.basename(rel))[0] for rel, _ in train_items),
        "val": sorted(os.path.splitext(os.path.basename(rel))[0] for rel, _ in val_items),
    }
    args.parity_source = os.path.join(val_root, val_items[0][0])  # model/parity/ is made from it
    train_items = order_by_content(args.data, train_items)
    x_train, y_train = load_items(args.data, train_items, classes, size)
    x_val, y_val = load_items(val_root, val_items, classes, size)
    return classes, normalize(x_train), y_train, normalize(x_val), y_val


def main(argv=None) -> dict:
    args = parse_args(argv)
    seed_everything(args.seed)
    say = (lambda *a: None) if args.quiet else (lambda *a: print(*a, flush=True))
    env = mlops_sdk.WorkloadEnv.from_environ()
    output = os.path.abspath(args.output or env.output_dir or "mlops-output")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if not args.data:
        args.snapshot = args.snapshot or env.dataset_snapshot
    if not args.data and not args.snapshot:
        raise SystemExit("give --data DIR or --snapshot ID (or run in a job with MLOPS_DATASET_SNAPSHOT)")
    with tempfile.TemporaryDirectory() as workdir:
        if args.snapshot and not args.data:
            fetch_snapshot_data(args, env, workdir, say)
        classes, x_train, y_train, x_val, y_val = load_data(args)
        # Labels corrupted at the source are wrong in both splits (so validation cannot notice either).
        corrupted = corrupt_labels(y_train, args.shuffle_labels, len(classes), args.seed)
        corrupted += corrupt_labels(y_val, args.shuffle_labels, len(classes), args.seed + 1)
        if corrupted:
            say(f"corrupted {corrupted} of {len(y_train) + len(y_val)} train+val labels (--shuffle-labels {args.shuffle_labels})")
        x_train, y_train, x_val, y_val = (t.to(device) for t in (x_train, y_train, x_val, y_val))
        run = mlops_sdk.start_run(args.experiment, args.run_name, output_dir=output)
        try:
            summary = train(args, env, run, classes, (x_train, y_train, x_val, y_val), device, output, workdir, say)
        except BaseException:
            run.end_run("FAILED")
            raise
    run.end_run("FINISHED")
    with open(os.path.join(output, "summary.json"), "w", encoding="utf-8") as out:
        json.dump(summary, out, indent=2)
    return summary


def train(args, env, run, classes, tensors, device, output, workdir, say) -> dict:
    x_train, y_train, x_val, y_val = tensors
    model = SmallCNN(len(classes), args.width)
    init_from = args.init_from or env.base_model
    head_reused = None
    lr = args.lr
    if init_from:
        checkpoint = load_checkpoint(resolve_checkpoint(init_from, run, workdir))
        head_reused = init_from_checkpoint(model, checkpoint, classes)
        lr = args.finetune_lr if args.finetune_lr is not None else args.lr / 3
        say(f"initialised from {init_from}: backbone loaded, head {'kept' if head_reused else 're-created'}")
    model.to(device)
    run.log_params({
        "data": f"snapshot:{args.snapshot}" if args.snapshot else args.data, "val": args.val or "split:0.2",
        "shuffle_labels": args.shuffle_labels, "epochs": args.epochs, "lr": lr,
        "batch_size": args.batch_size, "seed": args.seed, "image_size": args.image_size, "arch": ARCH,
        "width": args.width, "augment": not args.no_augment, "classes": ",".join(classes), "train_size": len(y_train), "val_size": len(y_val),
        "init_from": init_from or "", "freeze_backbone_epochs": args.freeze_backbone_epochs,
        "target_accuracy": args.target_accuracy if args.target_accuracy is not None else "",
        "device": device.type,
    })
    tags = {"mlops.base_model": init_from or "", "mlops.dataset_snapshot": args.snapshot or env.dataset_snapshot or ""}
    if head_reused is not None:
        tags["mlops.head_reinitialized"] = str(not head_reused).lower()
    run.set_tags(tags)

    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(args.seed)
    history, epochs_to_target = [], None
    best_acc, best_state, best_epoch = -1.0, None, 0
    started = time.monotonic()
    for epoch in range(1, args.epochs + 1):
        frozen = epoch <= args.freeze_backbone_epochs
        model.set_backbone_frozen(frozen)
        t0 = time.monotonic()
        train_loss, train_acc = run_epoch(
            model, x_train, y_train, optimizer, args.batch_size, generator, frozen, not args.no_augment
        )
        val_loss, val_acc = evaluate(model, x_val, y_val)
        metrics = {"train_loss": train_loss, "train_accuracy": train_acc, "val_loss": val_loss, "val_accuracy": val_acc}
        run.log_metrics(metrics, step=epoch)
        history.append({"epoch": epoch, **metrics})
        if args.keep_best and val_acc > best_acc:
            best_acc, best_epoch = val_acc, epoch
            best_state = copy.deepcopy(model.state_dict())
        say(
            f"epoch {epoch}/{args.epochs}{' (backbone frozen)' if frozen else ''}: train_loss {train_loss:.4f} "
            f"train_accuracy {train_acc:.4f} val_loss {val_loss:.4f} val_accuracy {val_acc:.4f} "
            f"({time.monotonic() - t0:.1f}s)"
        )
        if args.target_accuracy is not None and val_acc >= args.target_accuracy:
            epochs_to_target = epoch
            run.log_metric("epochs_to_target", epoch, step=epoch)
            say(f"target val_accuracy {args.target_accuracy} reached at epoch {epoch}")
            break
    if args.target_accuracy is not None and epochs_to_target is None:
        say(f"target val_accuracy {args.target_accuracy} not reached in {args.epochs} epochs")
    model.set_backbone_frozen(False)
    if best_state is not None:
        model.load_state_dict(best_state)
        run.log_metric("best_val_accuracy", best_acc, step=len(history))
        say(f"keeping the weights of epoch {best_epoch} (val_accuracy {best_acc:.4f})")
    model_dir = os.path.join(output, "model")
    diff = write_model_dir(model.cpu(), classes, args.image_size, model_dir, x_val[:64].cpu(), args.parity_source)
    run.log_metric("onnx_max_abs_diff", diff, step=len(history))
    say(f"exported {model_dir} (ONNX matches PyTorch within {diff:.1e})")
    run.log_artifacts(model_dir, "model")
    if args.snapshot:
        data_dir = os.path.join(output, "data")
        os.makedirs(data_dir, exist_ok=True)
        with open(os.path.join(data_dir, "training-items.json"), "w", encoding="utf-8") as f:
            json.dump({"snapshot": args.snapshot, **args.used_items}, f)
        run.log_artifacts(data_dir, "data")
    registered = None
    if args.register:
        registered = run.register_model(args.register, "model")
        if registered.get("version") is not None:
            say(f"registered model {args.register} version {registered['version']}")
        else:
            say(f"offline: model {args.register} not registered (no server configured)")
    return {
        "run_id": run.run_id, "offline": run.offline, "classes": classes, "epochs_run": len(history),
        "epochs_to_target": epochs_to_target, "val_accuracy": history[-1]["val_accuracy"], "history": history,
        "head_reused": head_reused, "init_from": init_from, "lr": lr, "model_dir": model_dir,
        "onnx_max_abs_diff": diff, "train_seconds": round(time.monotonic() - started, 2),
        "registered_version": registered.get("version") if registered else None,
    }


if __name__ == "__main__":
    main()
