"""`nudenet`: NudeNet's ONNX body-part detector as an optional plug-in (plain module, no Django).

NudeNet is AGPL-3.0, so it is never a dependency: it is listed in requirements-optional.txt,
imported only when this classifier is loaded, and reported unavailable when absent. The detector
ships its own model (320n.onnx, a YOLOv8 at 320 px) inside the package.

The nudity score is the highest confidence among the detections of sexual body parts exposed
(`NUDITY_LABELS`). Other exposed parts (feet, armpits, belly, male chest) are kept in the details
but do not count: they are what beach, sport and fitness pictures show. NudeNet drops detections
under 0.25 confidence (its NMS threshold), so a score of 0.0 means none of those parts was
seen at 0.25 or more."""

import hashlib
import math
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path

import numpy as np
from PIL import Image

from moderation.image_safety import ClassifierScores, ClassifierUnavailable, image_views

NAME = "nudenet"
# nudenet 3.4.2's classes, copied so that a detector answering with a class it never had (a
# changed model) is an error rather than an ignored detection.
LABELS = frozenset(
    {
        "FEMALE_GENITALIA_COVERED",
        "FACE_FEMALE",
        "BUTTOCKS_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_BREAST_EXPOSED",
        "ANUS_EXPOSED",
        "FEET_EXPOSED",
        "BELLY_COVERED",
        "FEET_COVERED",
        "ARMPITS_COVERED",
        "ARMPITS_EXPOSED",
        "FACE_MALE",
        "BELLY_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "ANUS_COVERED",
        "FEMALE_BREAST_COVERED",
        "BUTTOCKS_COVERED",
    }
)
NUDITY_LABELS = frozenset(
    {
        "FEMALE_GENITALIA_EXPOSED",
        "MALE_GENITALIA_EXPOSED",
        "FEMALE_BREAST_EXPOSED",
        "BUTTOCKS_EXPOSED",
        "ANUS_EXPOSED",
    }
)
SUB_BATCH = 8
_INSTALL_HINT = "NudeNet is not installed (optional plug-in, AGPL-3.0): make optional"


def checked_detections(detections: object) -> list[dict]:
    """NudeNet's detections for one picture, checked and made JSON-safe; raises `ValueError` on
    anything that is not a list of {class, score, box} with a known class and a score in [0, 1]."""
    if not isinstance(detections, list):
        raise ValueError(f"NudeNet returned {type(detections).__name__}, not a list of detections")
    checked = []
    for detection in detections:
        try:
            label, score, box = detection["class"], float(detection["score"]), detection["box"]
            box = [int(value) for value in box]
        except (TypeError, KeyError, ValueError) as exc:
            raise ValueError(f"NudeNet returned a malformed detection: {detection!r}") from exc
        if label not in LABELS:
            raise ValueError(f"NudeNet returned an unknown class {label!r}")
        if not math.isfinite(score) or not 0 <= score <= 1 or len(box) != 4:
            raise ValueError(f"NudeNet returned a malformed detection: {detection!r}")
        checked.append({"class": label, "score": round(score, 4), "box": box})
    return checked


def nudity_score(detections: Sequence[dict]) -> float:
    """The highest confidence among checked detections of exposed sexual body parts, else 0."""
    return max((float(d["score"]) for d in detections if d["class"] in NUDITY_LABELS), default=0.0)


def bgr_array(image: Image.Image) -> np.ndarray:
    """The picture as `cv2.imread` would return it, so the detector gets exactly the input of its
    documented file-path route: nudenet 3.4.2 swaps channels for every input type alike
    (`cvtColor(..., COLOR_RGBA2BGR)` then `swapRB`), which is right only for BGR data."""
    return np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])


class NudeNetClassifier:
    """Scores `nudity` from NudeNet detections; see the module docstring."""

    name = NAME

    def __init__(self, *, detector, version: str):
        self.detector = detector
        self.version = version

    def classify(self, images: Sequence[Image.Image]) -> list[ClassifierScores]:
        """One result per image, in order; every view is detected, the worst one counts."""
        views = image_views(images)
        arrays = [bgr_array(view) for own in views for view in own]
        if not arrays:
            return []
        found = self.detector.detect_batch(arrays, batch_size=SUB_BATCH)
        if not isinstance(found, list) or len(found) != len(arrays):
            raise ValueError(f"NudeNet did not answer once per picture ({len(arrays)} sent)")
        results, start = [], 0
        for own in views:
            detections = []
            for offset in range(len(own)):
                for detection in checked_detections(found[start + offset]):
                    detections.append({**detection, "view": offset})
            start += len(own)
            results.append(
                ClassifierScores(
                    self.name,
                    self.version,
                    {"nudity": nudity_score(detections)},
                    {"detections": detections, "views": len(own)},
                )
            )
        return results


def load_nudenet() -> NudeNetClassifier:
    """NudeNet's detector with its packaged model; raises `ClassifierUnavailable` if NudeNet is
    not installed or its model cannot be loaded."""
    try:
        import nudenet
    except ImportError as exc:
        raise ClassifierUnavailable(_INSTALL_HINT) from exc
    try:
        model_path = Path(nudenet.__file__).resolve().parent / "320n.onnx"
        digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
        classifier = NudeNetClassifier(
            detector=nudenet.NudeDetector(model_path=str(model_path)),
            version=f"nudenet-{metadata.version('nudenet')}:model={digest[:12]}",
        )
        # One picture through the whole path, so a detector that loads but cannot run is
        # reported now rather than on the first asset.
        classifier.classify([Image.new("RGB", (8, 8), (128, 128, 128))])
    except Exception as exc:
        raise ClassifierUnavailable(
            f"NudeNet is installed but its detector does not run: {type(exc).__name__}: {exc}"
        ) from exc
    return classifier
