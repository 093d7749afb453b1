#!/usr/bin/env python3
"""Does fine-tuning from the previous model version pay off on shifted data?

Trains v1 on the base data set, measures v1 on the shifted validation set (the drop that calls for
retraining), then trains on the shifted set (a) from scratch and (b) fine-tuned from v1, and prints the
epochs each needs to reach the target validation accuracy and their ratio. Generate the data with
`mlops demo data` (see README.md). Everything runs offline (no server needed)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile

import evaluate
import train


def run_train(args, data, val, out, extra) -> dict:
    argv = ["--data", data, "--output", out, "--width", str(args.width), "--image-size", str(args.image_size),
            "--quiet"]
    if val:
        argv += ["--val", val]
    return train.main(argv + extra)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--base", required=True, help="base ImageFolder data set (trains v1)")
    p.add_argument("--shift", required=True, help="shifted ImageFolder data set (new labels)")
    p.add_argument("--base-val", help="validation set for v1 (default: split of --base)")
    p.add_argument("--shift-val", help="validation set on the shifted distribution (default: split of --shift)")
    p.add_argument("--base-epochs", type=int, default=10, help="epochs for v1 (a well-trained v1 transfers best)")
    p.add_argument("--target", type=float, default=0.9, help="target val accuracy on the shifted set")
    p.add_argument("--max-epochs", type=int, default=30)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--width", type=int, default=16)
    p.add_argument("--image-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--finetune-lr", type=float, default=3e-3)
    p.add_argument("--freeze-backbone-epochs", type=int, default=0)
    p.add_argument("--output", help="keep the models here (default: a temporary directory)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = args.output or tmp
        lr = ["--lr", str(args.lr), "--epochs", str(args.max_epochs)]
        v1 = run_train(args, args.base, args.base_val, os.path.join(root, "v1"),
                       ["--lr", str(args.lr), "--epochs", str(args.base_epochs), "--seed", "0"])
        shift_eval_dir = args.shift_val or args.shift
        v1_on_shift = evaluate.evaluate_model(v1["model_dir"], shift_eval_dir, backend="torch")["accuracy"]
        print(f"v1: val_accuracy {v1['val_accuracy']:.3f} on base after {v1['epochs_run']} epochs; "
              f"accuracy on shifted data {v1_on_shift:.3f}", flush=True)
        runs = []
        for seed in args.seeds:
            target = lr + ["--target-accuracy", str(args.target), "--seed", str(seed)]
            scratch = run_train(args, args.shift, args.shift_val, os.path.join(root, f"scratch-{seed}"), target)
            tuned = run_train(args, args.shift, args.shift_val, os.path.join(root, f"finetune-{seed}"), target + [
                "--init-from", v1["model_dir"], "--finetune-lr", str(args.finetune_lr),
                "--freeze-backbone-epochs", str(args.freeze_backbone_epochs)])
            runs.append({"seed": seed, "scratch": _brief(scratch), "finetune": _brief(tuned)})
            print(f"seed {seed}: epochs to {args.target}: scratch {_fmt(scratch)}, fine-tune {_fmt(tuned)}", flush=True)

    # A run that never reaches the target counts as max_epochs + 1 (a lower bound on what it would need).
    cap = args.max_epochs + 1
    mean = lambda key: statistics.mean(r[key]["epochs_to_target"] or cap for r in runs)  # noqa: E731
    result = {
        "target": args.target,
        "v1_base_val_accuracy": v1["val_accuracy"],
        "v1_epochs": v1["epochs_run"],
        "v1_accuracy_on_shift": v1_on_shift,
        "runs": runs,
        "scratch_mean_epochs": mean("scratch"),
        "finetune_mean_epochs": mean("finetune"),
    }
    result["ratio_scratch_over_finetune"] = result["scratch_mean_epochs"] / result["finetune_mean_epochs"]
    print(f"mean epochs to {args.target}: scratch {result['scratch_mean_epochs']:.1f}, "
          f"fine-tune {result['finetune_mean_epochs']:.1f}; "
          f"fine-tuning needs {result['ratio_scratch_over_finetune']:.2f}x fewer epochs")
    if args.json:
        print(json.dumps(result))
    return result


def _brief(summary: dict) -> dict:
    return {k: summary[k] for k in ("epochs_to_target", "epochs_run", "val_accuracy", "train_seconds")}


def _fmt(summary: dict) -> str:
    e = summary["epochs_to_target"]
    return f"{e}" if e is not None else f">{summary['epochs_run']}"


if __name__ == "__main__":
    main()
