"""Image-safety classifiers: what the image gate asks about the pixels (plain module, no Django).

Two classifiers, each one file behind the `ImageClassifier` interface, named as policies name
them (`policies.rules.IMAGE_CLASSIFIERS`):

- `clip_concepts` (`image_safety_clip.py`): CLIP image embeddings against concept texts kept in
  `moderation/data/clip_concepts.yaml`, the way the Stable Diffusion safety checker compares
  them. Needs a CLIP checkpoint in a local folder.
- `nudenet` (`image_safety_nudenet.py`): NudeNet's ONNX detector. Optional: NudeNet is AGPL-3.0
  and installed only by `make optional`.

A classifier that cannot be loaded raises `ClassifierUnavailable` with a reason an admin can act
on; the gate then keeps the image quarantined and records the reason. `classify` never skips an
image or returns made-up scores: bad input raises `ValueError`/`TypeError`, a failing model raises
whatever it raised, and both leave the decision to the gate, which fails closed."""

import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
from PIL import Image, ImageOps

CLASSIFIER_NAMES = ("clip_concepts", "nudenet")


class ClassifierUnavailable(RuntimeError):
    """A classifier cannot run here; the message says why, in words an admin can act on."""


@dataclass(frozen=True)
class ClassifierScores:
    """One image's result. `scores` are probabilities in [0, 1], named like the policy's
    thresholds (`nudity`, `violence`, `unsafe`, possibly more); `details` is JSON-serialisable
    evidence (matched concepts, detections) for reviewers and the audit log."""

    name: str
    version: str
    scores: dict[str, float]
    details: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for score_name, value in self.scores.items():
            if not isinstance(value, float) or not math.isfinite(value) or not 0 <= value <= 1:
                raise ValueError(
                    f"{self.name}: score {score_name!r} is {value!r}, not a probability in [0, 1]"
                )


@runtime_checkable
class ImageClassifier(Protocol):
    name: str
    version: str

    def classify(self, images: Sequence[Image.Image]) -> list[ClassifierScores]:
        """One result per image, in order; raises rather than skipping an image."""
        ...


_lock = threading.Lock()
_loaded: dict[tuple[str, str | None], ImageClassifier] = {}


def load_classifier(name: str, *, clip_model_dir: str | Path | None) -> ImageClassifier:
    """The classifier called `name`, loaded once per process (per CLIP folder for
    `clip_concepts`). Raises `ClassifierUnavailable` saying why it cannot run; failures are not
    cached, so fixing the configuration takes effect on the next call."""
    if name not in CLASSIFIER_NAMES:
        raise ClassifierUnavailable(
            f"unknown image classifier {name!r}; known: {', '.join(CLASSIFIER_NAMES)}"
        )
    folder = None
    if name == "clip_concepts":
        if clip_model_dir is None or not str(clip_model_dir).strip():
            raise ClassifierUnavailable(
                "CLIP weights are not configured: set MINTMARK_CLIP_MODEL_DIR to a local folder "
                "holding a transformers CLIP checkpoint"
            )
        folder = str(Path(clip_model_dir).expanduser().resolve())
    key = (name, folder)
    # One lock for all loads: a second thread asking for the same model waits for the first
    # load instead of holding a second copy of the weights.
    with _lock:
        if key not in _loaded:
            _loaded[key] = _load(name, folder)
        return _loaded[key]


def _load(name: str, folder: str | None) -> ImageClassifier:
    if name == "nudenet":
        from moderation.image_safety_nudenet import load_nudenet

        return load_nudenet()
    from moderation.image_safety_clip import load_clip_concepts

    return load_clip_concepts(Path(folder))


def clear_classifier_cache() -> None:
    """Forgets loaded classifiers, so the next `load_classifier` reads weights again."""
    with _lock:
        _loaded.clear()


def classifier_status(*, clip_model_dir: str | Path | None) -> dict[str, str | None]:
    """Each classifier's name with None if it can run here, else the reason it cannot. Loads
    the classifiers to find out (cached per process), so ask where they run: the gates worker."""
    status: dict[str, str | None] = {}
    for name in CLASSIFIER_NAMES:
        try:
            load_classifier(name, clip_model_dir=clip_model_dir)
        except ClassifierUnavailable as exc:
            status[name] = str(exc)
        else:
            status[name] = None
    return status


def image_views(images: Sequence[Image.Image]) -> list[list[Image.Image]]:
    """Checks every image and returns, per image, the RGB pictures to classify.

    An opaque image has one view. An image with transparency has three: its colour channels
    with alpha dropped, and its composites over white and over black, because content can hide
    in either (colour under alpha 0 shows once alpha is stripped; a pattern drawn by alpha alone
    shows on a background). Classifiers score every view and keep the worst."""
    if isinstance(images, Image.Image):
        raise TypeError("classify takes a sequence of images, not one image")
    views = []
    for index, image in enumerate(images):
        if not isinstance(image, Image.Image):
            raise TypeError(f"image {index} is a {type(image).__name__}, not a PIL image")
        try:
            image.load()
        except Exception as exc:
            raise ValueError(f"image {index} cannot be decoded: {exc}") from exc
        if image.width < 1 or image.height < 1:
            raise ValueError(f"image {index} is empty ({image.width} by {image.height} px)")
        try:
            views.append(_rgb_views(ImageOps.exif_transpose(image)))
        except ValueError as exc:
            raise ValueError(f"image {index}: {exc}") from exc
    return views


def _rgb_views(image: Image.Image) -> list[Image.Image]:
    if image.mode in ("I", "F"):
        raise ValueError(
            f"mode {image.mode} has no defined display range; convert it to 8 or 16 bits first"
        )
    if image.mode.startswith("I;16"):
        # 16-bit greyscale: keep the high byte, as a viewer scales it to 8 bits (convert("L")
        # would clip everything above 255 to white).
        image = Image.fromarray((np.asarray(image) >> 8).astype(np.uint8), "L")
    if not image.has_transparency_data:
        return [image.convert("RGB")]
    rgba = image.convert("RGBA")
    if rgba.getchannel("A").getextrema() == (255, 255):
        return [rgba.convert("RGB")]
    return [
        rgba.convert("RGB"),
        Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba).convert(
            "RGB"
        ),
        Image.alpha_composite(Image.new("RGBA", rgba.size, (0, 0, 0, 255)), rgba).convert("RGB"),
    ]
