"""Image folders (``<root>/<class>/<image>``) -> tensors, with the exact preprocessing that model.json
describes: PIL load -> RGB -> resize (bilinear, PIL's) -> [centre crop] -> scale 1/255 -> normalize (mean 0.5,
std 0.5) -> NCHW. The platform's serving reproduces these steps bit for bit (docs/serving-model-format.md)."""

from __future__ import annotations

import hashlib
import os
from typing import Sequence

import numpy as np
import torch
from PIL import Image

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".webp"}
SCALE = 1.0 / 255.0
MEAN = (0.5, 0.5, 0.5)
STD = (0.5, 0.5, 0.5)
INTERPOLATION = "bilinear"
PIL_FILTERS = {"nearest": Image.NEAREST, "bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC}


def preprocessing(image_size: int) -> dict:
    return {
        "resize": [image_size, image_size],
        "interpolation": INTERPOLATION,
        "crop": "none",
        "colorSpace": "RGB",
        "scale": SCALE,
        "mean": list(MEAN),
        "std": list(STD),
        "layout": "NCHW",
    }


def list_image_folder(root: str) -> tuple[list[str], list[tuple[str, str]]]:
    """Class names (sorted directory names, as torchvision's ImageFolder) and (relative path, class) items."""
    if not os.path.isdir(root):
        raise SystemExit(f"data directory not found: {root}")
    classes, items = [], []
    for name in sorted(os.listdir(root)):
        class_dir = os.path.join(root, name)
        if not os.path.isdir(class_dir):
            continue
        files = sorted(
            f for f in os.listdir(class_dir) if os.path.splitext(f)[1].lower() in IMAGE_EXTENSIONS
        )
        if files:
            classes.append(name)
            items.extend((f"{name}/{f}", name) for f in files)
    if len(classes) < 2:
        raise SystemExit(f"{root} needs at least two class folders with images (ImageFolder layout)")
    return classes, items


def split_train_val(items: Sequence[tuple[str, str]], val_fraction: float = 0.2):
    """Deterministic split by a hash of each item's path: an image stays on its side of the split when
    other images are added or removed."""
    train, val = [], []
    for item in items:
        bucket = int(hashlib.sha1(item[0].encode("utf-8")).hexdigest()[:8], 16) / 0x100000000
        (val if bucket < val_fraction else train).append(item)
    return train, val


def order_by_content(root: str, items: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    """Items in the order of their files' sha256 (then path): training sees the same images in the same order
    whatever the files are called, so a snapshot (files named by platform item ids, which differ between two
    uploads of the same images) and a seed give the same model."""

    def digest(item: tuple[str, str]) -> tuple[str, str]:
        with open(os.path.join(root, item[0]), "rb") as f:
            return hashlib.sha256(f.read()).hexdigest(), item[0]

    return sorted(items, key=digest)


def load_image(path: str, size: Sequence[int], interpolation: str = INTERPOLATION, crop=None) -> np.ndarray:
    """-> uint8 array (H, W, 3). ``size`` is [height, width], as model.json's ``resize``; ``crop`` is
    model.json's ``crop.center`` [height, width] (torchvision's CenterCrop offsets) or None."""
    with Image.open(path) as image:
        image = image.convert("RGB")  # gray, palette, RGBA (alpha dropped) -> RGB
        if image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), PIL_FILTERS[interpolation])
        if crop:
            top, left = int(round((size[0] - crop[0]) / 2.0)), int(round((size[1] - crop[1]) / 2.0))
            image = image.crop((left, top, left + crop[1], top + crop[0]))
        return np.asarray(image, dtype=np.uint8)


def load_items(root: str, items: Sequence[tuple[str, str]], classes: Sequence[str], size: Sequence[int],
               interpolation: str = INTERPOLATION, crop=None):
    """-> (uint8 tensor N x 3 x H x W, int64 labels; -1 for a class the model does not know)."""
    index = {c: i for i, c in enumerate(classes)}
    out = crop or size
    pixels = np.empty((len(items), out[0], out[1], 3), dtype=np.uint8)
    for i, (rel, _) in enumerate(items):
        pixels[i] = load_image(os.path.join(root, rel), size, interpolation, crop)
    labels = torch.tensor([index.get(c, -1) for _, c in items], dtype=torch.int64)
    return torch.from_numpy(pixels).permute(0, 3, 1, 2).contiguous(), labels


def normalize(batch_uint8: torch.Tensor, scale: float = SCALE, mean=MEAN, std=STD) -> torch.Tensor:
    mean_t = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
    std_t = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
    return (batch_uint8.to(torch.float32) * scale - mean_t) / std_t
