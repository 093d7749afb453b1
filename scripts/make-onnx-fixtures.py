#!/usr/bin/python3
"""Write small, deterministic ONNX models with their model.json for the serving tests.

Usage: /usr/bin/python3 scripts/make-onnx-fixtures.py OUT_DIR
Writes OUT_DIR/<name>/{model.onnx,model.json} for:
  tiny-classifier   3 classes, input 3x32x32, output logits [N, 3]
  tiny-detector     follows docs/serving-model-format.md: boxes [N,K,4] (x1,y1,x2,y2 in 0..1),
                    scores [N,K], labels int64 [N,K]; K = 4
  slow-classifier   same contract as tiny-classifier, but one inference costs tens of milliseconds
                    (a shared conv applied many times on an upsampled map) for concurrency tests

Needs torch only (and its ONNX exporter). The weights are seeded, so reruns give the same numbers.
"""

import json
import os
import sys

import torch
from torch import nn

CLASSES = ["circle", "square", "triangle"]
OPSET = 13


def descriptor(task, size, output, classes=CLASSES):
    return {
        "format": "mlops-model/v1",
        "task": task,
        "framework": "pytorch",
        "inputName": "input",
        "inputShape": [3, size, size],
        "preprocessing": {
            "resize": [size, size],
            "colorSpace": "RGB",
            "scale": 1 / 255,
            "mean": [0.5, 0.5, 0.5],
            "std": [0.5, 0.5, 0.5],
            "layout": "NCHW",
        },
        "classes": classes,
        "output": output,
        "created": {"by": "scripts/make-onnx-fixtures.py", "at": "fixture"},
    }


class TinyClassifier(nn.Module):
    def __init__(self, num_classes):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 3, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        return self.head(torch.flatten(self.features(x), 1))


class SlowClassifier(nn.Module):
    """Cheap to store (one shared conv), expensive to run: the conv is applied `depth` times."""

    def __init__(self, num_classes, depth, upsample):
        super().__init__()
        self.depth = depth
        self.upsample = upsample
        self.stem = nn.Conv2d(3, 16, 3, padding=1)
        self.shared = nn.Conv2d(16, 16, 3, padding=1)
        self.head = nn.Linear(16, num_classes)

    def forward(self, x):
        x = nn.functional.interpolate(x, scale_factor=self.upsample, mode="nearest")
        x = torch.relu(self.stem(x))
        for _ in range(self.depth):
            # Residual + scaling keeps the activations bounded however deep the loop is.
            x = 0.5 * x + 0.5 * torch.relu(self.shared(x))
        x = nn.functional.adaptive_avg_pool2d(x, 1)
        return self.head(torch.flatten(x, 1))


class TinyDetector(nn.Module):
    """Predicts K boxes per image from a small conv trunk; outputs follow the serving convention."""

    def __init__(self, num_classes, k):
        super().__init__()
        self.k = k
        self.num_classes = num_classes
        self.trunk = nn.Sequential(
            nn.Conv2d(3, 8, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.Conv2d(8, 16, 3, stride=2, padding=1),
            nn.ReLU(),
            nn.AdaptiveAvgPool2d(1),
        )
        self.box = nn.Linear(16, k * 4)
        self.score = nn.Linear(16, k)
        self.cls = nn.Linear(16, k * num_classes)

    def forward(self, x):
        f = torch.flatten(self.trunk(x), 1)
        n = f.shape[0]
        raw = torch.sigmoid(self.box(f)).reshape(n, self.k, 4)
        # Order the corners so that x1 <= x2 and y1 <= y2 always hold.
        x1 = torch.minimum(raw[:, :, 0], raw[:, :, 2])
        x2 = torch.maximum(raw[:, :, 0], raw[:, :, 2])
        y1 = torch.minimum(raw[:, :, 1], raw[:, :, 3])
        y2 = torch.maximum(raw[:, :, 1], raw[:, :, 3])
        boxes = torch.stack([x1, y1, x2, y2], dim=2)
        scores = torch.sigmoid(self.score(f))
        # The last slot is padding (score 0), as a real detector's fixed-size output would have.
        pad = torch.ones_like(scores)
        pad[:, -1] = 0
        scores = scores * pad
        labels = torch.argmax(self.cls(f).reshape(n, self.k, self.num_classes), dim=2)
        return boxes, scores, labels


def export(model, size, out_dir, name, output_names, meta):
    model.eval()
    path = os.path.join(out_dir, name)
    os.makedirs(path, exist_ok=True)
    dummy = torch.zeros(1, 3, size, size)
    dynamic = {"input": {0: "batch"}}
    for o in output_names:
        dynamic[o] = {0: "batch"}
    torch.onnx.export(
        model,
        dummy,
        os.path.join(path, "model.onnx"),
        input_names=["input"],
        output_names=output_names,
        dynamic_axes=dynamic,
        opset_version=OPSET,
        do_constant_folding=True,
    )
    with open(os.path.join(path, "model.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    print(f"{name}: {os.path.getsize(os.path.join(path, 'model.onnx'))} bytes")


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    out_dir = sys.argv[1]
    torch.manual_seed(0)
    export(
        TinyClassifier(len(CLASSES)),
        32,
        out_dir,
        "tiny-classifier",
        ["logits"],
        descriptor("classification", 32, {"kind": "logits"}),
    )
    torch.manual_seed(1)
    export(
        TinyDetector(len(CLASSES), 4),
        32,
        out_dir,
        "tiny-detector",
        ["boxes", "scores", "labels"],
        descriptor("detection", 32, {"kind": "detection", "scoreThreshold": 0.3}),
    )
    torch.manual_seed(2)
    # 72 applications of a 16x16 3x3 conv on a 128x128 map: ~70 ms per image on one CPU thread.
    export(
        SlowClassifier(len(CLASSES), 72, 4),
        32,
        out_dir,
        "slow-classifier",
        ["logits"],
        descriptor("classification", 32, {"kind": "logits"}),
    )


if __name__ == "__main__":
    main()
