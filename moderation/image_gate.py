"""The image-safety gate (plain module): the policy's required classifiers score the pixels and
any score at or over its threshold blocks the image."""

from collections.abc import Sequence

from PIL import Image

from moderation.gates import GateContext, GateError, GateOutcome


class ImageSafetyGate:
    name = "image_safety"

    def __init__(self, classifiers: Sequence, unavailable: dict[str, str]):
        # `unavailable`: required classifiers that could not be loaded, with the reason. The
        # gate still exists so that the reason is recorded on every image it holds back.
        self.classifiers = list(classifiers)
        self.unavailable = dict(unavailable)
        parts = [f"{c.name}@{c.version}" for c in self.classifiers] or ["none"]
        self.version = "image-safety-v1:" + "+".join(parts)

    def check(self, image: Image.Image, context: GateContext) -> GateOutcome:
        if self.unavailable:
            raise GateError(
                "; ".join(
                    f"the policy requires classifier {name!r}, which is not available: {why}"
                    for name, why in sorted(self.unavailable.items())
                )
            )
        thresholds = context.rules.image_safety.thresholds
        scores: dict[str, float] = {}
        details: dict[str, dict] = {}
        over: list[str] = []
        for classifier in self.classifiers:
            (result,) = classifier.classify([image])
            details[classifier.name] = dict(result.details)
            for score_name, value in result.scores.items():
                scores[f"{classifier.name}.{score_name}"] = float(value)
                threshold = thresholds.get(score_name)
                if threshold is not None and value >= threshold:
                    over.append(
                        f"{score_name} {value:.2f} is at or over the policy's {threshold:.2f} "
                        f"({classifier.name})"
                    )
        if over:
            return GateOutcome("block", "unsafe image: " + "; ".join(over), scores, details)
        if not self.classifiers:
            return GateOutcome("pass", "", scores, {"note": "the policy requires no classifier"})
        return GateOutcome("pass", "", scores, details)
