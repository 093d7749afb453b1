"""A small CNN for 32x32 or 64x64 images: a convolutional backbone (global average pooling, so it accepts
any input size) and a linear head. Checkpoints carry the classes, so a new class set gets a new head."""

from __future__ import annotations

import torch
from torch import nn

ARCH = "smallcnn-v1"
CHECKPOINT_FORMAT = "mlops-checkpoint/v1"


def _block(c_in: int, c_out: int, pool: bool) -> list[nn.Module]:
    layers: list[nn.Module] = [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()]
    if pool:
        layers.append(nn.MaxPool2d(2))
    return layers


class SmallCNN(nn.Module):
    def __init__(self, num_classes: int, width: int = 16) -> None:
        super().__init__()
        self.width = width
        self.backbone = nn.Sequential(
            *_block(3, width, pool=True),
            *_block(width, width * 2, pool=True),
            *_block(width * 2, width * 4, pool=True),
            *_block(width * 4, width * 4, pool=False),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.head = nn.Linear(width * 4, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    def set_backbone_frozen(self, frozen: bool) -> None:
        for p in self.backbone.parameters():
            p.requires_grad_(not frozen)


def checkpoint_dict(model: SmallCNN, classes: list[str], image_size: int) -> dict:
    return {
        "format": CHECKPOINT_FORMAT,
        "arch": ARCH,
        "width": model.width,
        "image_size": image_size,
        "classes": list(classes),
        "state_dict": model.state_dict(),
    }


def load_checkpoint(path: str) -> dict:
    checkpoint = torch.load(path, map_location="cpu")
    if checkpoint.get("arch") != ARCH:
        raise SystemExit(f"{path}: architecture {checkpoint.get('arch')!r} is not {ARCH!r}")
    return checkpoint


def model_from_checkpoint(checkpoint: dict) -> SmallCNN:
    model = SmallCNN(len(checkpoint["classes"]), checkpoint["width"])
    model.load_state_dict(checkpoint["state_dict"])
    return model


def init_from_checkpoint(model: SmallCNN, checkpoint: dict, classes: list[str]) -> bool:
    """Loads the backbone; the head too when the class list is the same. Returns whether the head was kept
    (False: the class set changed and the head stays freshly initialised)."""
    if checkpoint["width"] != model.width:
        raise SystemExit(f"checkpoint width {checkpoint['width']} does not match model width {model.width}")
    state = checkpoint["state_dict"]
    backbone = {k[len("backbone."):]: v for k, v in state.items() if k.startswith("backbone.")}
    model.backbone.load_state_dict(backbone)
    if list(checkpoint["classes"]) == list(classes):
        model.head.load_state_dict({k[len("head."):]: v for k, v in state.items() if k.startswith("head.")})
        return True
    return False
