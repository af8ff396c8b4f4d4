"""The memorization gate (plain module): an output whose perceptual hashes are within the
policy's Hamming radius of a training item of its model is a likely copy and is blocked, naming
the item. The same catalog serves the fingerprint registry of released images.

pHash finds the candidates through the exact index; a candidate counts as a match when a second
hash (dHash or wHash) agrees within the radius too, which keeps unrelated images that merely
share a low-frequency layout from matching. The mirrored image is checked as well, so a flipped
copy is caught."""

from collections.abc import Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
from PIL import Image, ImageOps

from moderation.gates import GateContext, GateError, GateOutcome
from moderation.hamming import HammingIndex

KINDS = ("phash", "dhash", "whash")


def hashes_of(image: Image.Image) -> dict[str, int]:
    return {
        "phash": int(str(imagehash.phash(image)), 16),
        "dhash": int(str(imagehash.dhash(image)), 16),
        "whash": int(str(imagehash.whash(image)), 16),
    }


def _popcount(a: int, b: int) -> int:
    return (a ^ b).bit_count()


@dataclass(frozen=True)
class HashMatch:
    key: str
    label: str
    distance: int  # pHash distance
    distances: dict[str, int]
    mirrored: bool


class HashCatalog:
    """Perceptual hashes of a set of images (training items, released assets) keyed by id."""

    def __init__(
        self,
        keys: Sequence[str],
        hashes: dict[str, Sequence[str]],
        labels: Sequence[str] | None = None,
    ):
        # `labels`: what a person needs to find each image (its dataset's name), kept in memory
        # so that a gate answers without touching the database.
        self.keys = list(keys)
        self.labels = list(labels) if labels is not None else [""] * len(self.keys)
        self._values = {
            kind: np.array([int(value, 16) for value in hashes[kind]], dtype=np.uint64)
            for kind in KINDS
        }
        positions = np.arange(len(self.keys), dtype=np.int64)
        self._index = HammingIndex(self._values["phash"], positions)

    def __len__(self) -> int:
        return len(self.keys)

    def _matches(self, query: dict[str, int], radius: int, mirrored: bool) -> list[HashMatch]:
        found = []
        for position, distance in self._index.search(query["phash"], radius):
            distances = {
                kind: _popcount(int(self._values[kind][position]), query[kind]) for kind in KINDS
            }
            if min(distances["dhash"], distances["whash"]) <= radius:
                found.append(
                    HashMatch(
                        self.keys[position], self.labels[position], distance, distances, mirrored
                    )
                )
        return found

    def search(self, image: Image.Image, radius: int) -> list[HashMatch]:
        """Every catalogued image within `radius` of the image or of its mirror image, closest
        first."""
        found = self._matches(hashes_of(image), radius, False)
        found += self._matches(hashes_of(ImageOps.mirror(image)), radius, True)
        best: dict[str, HashMatch] = {}
        for match in sorted(found, key=lambda m: (m.distance, sum(m.distances.values()))):
            best.setdefault(match.key, match)
        return list(best.values())


class MemorizationGate:
    name = "memorization"
    version = "memorization-v1:phash-index+dhash|whash"

    def __init__(self, catalog: HashCatalog):
        # Loaded by the caller (the gates worker keeps it in memory): the gate itself never
        # touches the database, so it can run under a time limit in another thread.
        self.catalog = catalog

    def check(self, image: Image.Image, context: GateContext) -> GateOutcome:
        rules = context.rules.memorization
        if not rules.enabled:
            return GateOutcome("pass", "", {}, {"note": "memorization check disabled by policy"})
        if rules.embedding_similarity is not None:
            raise GateError(
                "the policy asks for an embedding-similarity check, which this installation "
                "does not provide; remove memorization.embedding_similarity from the policy"
            )
        matches = self.catalog.search(image, rules.max_hamming)
        scores = {"closest_distance": float(matches[0].distance if matches else 64)}
        details = {"training_items": len(self.catalog), "radius": rules.max_hamming}
        if not matches:
            return GateOutcome("pass", "", scores, details)
        best = matches[0]
        details["item"] = {"item": best.key, "dataset": best.label}
        details["matches"] = [
            {
                "item": m.key,
                "dataset": m.label,
                "distance": m.distance,
                "distances": m.distances,
                "mirrored": m.mirrored,
            }
            for m in matches[:10]
        ]
        reason = (
            f"likely copy of training item {best.key} of dataset {best.label!r}: pHash distance "
            f"{best.distance} (the policy allows up to {rules.max_hamming})"
            + (", mirrored" if best.mirrored else "")
        )
        return GateOutcome("block", reason, scores, details)
