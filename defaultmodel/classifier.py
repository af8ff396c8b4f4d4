"""A small CNN that reads a Mintmark Shapes image's attributes back (plain module, no Django).

It is the measuring instrument of the quality evaluation: its colour, shape and count heads
score a generated image against the caption it was asked for, and its penultimate features
stand in for Inception's in a Frechet distance (no Inception weights are available offline)."""

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from defaultmodel import scenes

HEADS: dict[str, tuple] = {
    "shape": scenes.SHAPES,
    "colour": tuple(scenes.COLOURS),
    "count": scenes.COUNTS,
    "position": scenes.POSITIONS,
    "size": scenes.SIZES,
    "texture": scenes.TEXTURES,
    "background": tuple(scenes.BACKGROUNDS),
}
FEATURES = 256


def _block(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU(inplace=True),
    )


class AttributeNet(nn.Module):
    """64 px RGB in [0, 1] -> one logit vector per attribute. The last feature map is 4x4 and
    flattened rather than pooled, so position survives to the heads."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            _block(3, 32, 1),
            _block(32, 32, 2),
            _block(32, 64, 1),
            _block(64, 64, 2),
            _block(64, 128, 1),
            _block(128, 128, 2),
            _block(128, 128, 2),
            nn.Flatten(),
            nn.Linear(128 * 4 * 4, FEATURES),
            nn.ReLU(inplace=True),
        )
        self.heads = nn.ModuleDict({name: nn.Linear(FEATURES, len(v)) for name, v in HEADS.items()})

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(images * 2.0 - 1.0)

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        hidden = self.features(images)
        return {name: head(hidden) for name, head in self.heads.items()}


def labels_of(attributes: Sequence[dict]) -> dict[str, torch.Tensor]:
    """Class indices per head for a list of scene attribute dicts."""
    return {
        name: torch.tensor([values.index(a[name]) for a in attributes], dtype=torch.long)
        for name, values in HEADS.items()
    }


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(N, 64, 64, 3) uint8 -> (N, 3, 64, 64) float in [0, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float().div_(255.0)


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    # Generated images are a little soft and noisy; blur and noise during training keep the
    # instrument from marking such images wrong for reasons a person would not.
    n = batch.shape[0]
    blur = torch.rand(n, 1, 1, 1, device=batch.device, generator=generator) < 0.4
    soft = F.avg_pool2d(batch, 3, stride=1, padding=1, count_include_pad=False)
    batch = torch.where(blur, soft, batch)
    sigma = 0.04 * torch.rand(n, 1, 1, 1, device=batch.device, generator=generator)
    noise = torch.randn(batch.shape, device=batch.device, generator=generator)
    return (batch + sigma * noise).clamp_(0.0, 1.0)


def train(
    images: torch.Tensor,
    labels: dict[str, torch.Tensor],
    *,
    steps: int,
    batch: int,
    lr: float,
    seed: int,
    log: list | None = None,
) -> AttributeNet:
    """Trains an AttributeNet on `images` ((N, 3, 64, 64) in [0, 1], on the training device)
    with one cross-entropy per head; appends {"step", "loss"} every 50 steps to `log`."""
    device = images.device
    torch.manual_seed(seed)
    net = AttributeNet().to(device).to(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=1e-4)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=lr, total_steps=steps)
    generator = torch.Generator(device).manual_seed(seed)
    labels = {name: value.to(device) for name, value in labels.items()}
    net.train()
    for step in range(1, steps + 1):
        index = torch.randint(images.shape[0], (batch,), device=device, generator=generator)
        x = _augment(images[index], generator)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = net(x.contiguous(memory_format=torch.channels_last))
        loss = sum(F.cross_entropy(logits[n].float(), labels[n][index]) for n in HEADS)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        schedule.step()
        if log is not None and (step % 50 == 0 or step == steps):
            log.append({"step": step, "loss": loss.item()})
    return net.eval()


@torch.no_grad()
def predict(
    net: AttributeNet, images: torch.Tensor, batch: int = 1024
) -> tuple[dict, torch.Tensor]:
    """Predicted class index per head and the penultimate features, for (N, 3, 64, 64) images
    in [0, 1]."""
    device = next(net.parameters()).device
    predictions: dict[str, list] = {name: [] for name in HEADS}
    features = []
    for start in range(0, images.shape[0], batch):
        x = images[start : start + batch].to(device)
        hidden = net.features(x)
        features.append(hidden.float().cpu())
        for name, head in net.heads.items():
            predictions[name].append(head(hidden).argmax(dim=1).cpu())
    return {name: torch.cat(v) for name, v in predictions.items()}, torch.cat(features)


def accuracy(predictions: dict, labels: dict, heads: Sequence[str] = tuple(HEADS)) -> dict:
    """Per-head accuracy, plus "all" (every listed head right at once)."""
    right = {name: predictions[name] == labels[name] for name in heads}
    result = {name: float(value.float().mean()) for name, value in right.items()}
    result["all"] = float(torch.stack(list(right.values())).all(dim=0).float().mean())
    return result
