"""The memorization check (plain module): is an image a copy of one of its model's training
items? Used by the release gate on every output, by the submit path on every input image of an
edit job, and by `manage.py memorization_check`.

Two stages:

1. Candidates, wide and cheap. The item hashes (pHash, dHash, wHash, 64 bits each) are searched
   exactly through one HammingIndex per kind: every item within `candidate_radius` bits of the
   image, or of its mirror image, on ANY of the three kinds is a candidate. They are ranked by
   their pHash + dHash distance (the closer orientation) and the nearest `candidates` are
   kept; an item that the earlier one-stage rule matched (pHash and dHash or wHash within
   `max_hamming`) is always kept. One hash kind alone is not enough: pHash keeps the signs of
   low DCT frequencies, which flip on symmetric and flat images, so the default model's copies
   of poster 4 come out 18 to 22 pHash bits from the item but within 8 on dHash or wHash.
   Views of the image that undo a small shift or crop are hashed too (`undo_views`), and an
   item the one-stage rule matches to one of them is always kept.
2. Precise comparison. Each candidate's pixels are compared with the image's by
   `copy_detection.compare` (largest per-tile pixel difference after aligning scale, crop,
   shift and mirror); similarity = 1 - that distance. A candidate is a copy when its
   similarity reaches the policy's `exact_similarity`, or reaches `min_similarity` while it
   stands out from its neighbours: its distance is at most `max_neighbour_ratio` of the mean
   distance of the next NEIGHBOURS candidates compared (Carlini et al. 2023 normalise the same
   way). An ordinary output of a plain scene (a shape or two on a flat background) is about as
   close to many training items as to its nearest, while a copy is much closer to its own item
   than to any other; a fixed limit alone held 2.3 % of the default model's ordinary outputs
   to catch its copies (bench/README.md, "Memorization gate"). Hashes never decide alone: on
   images of flat shapes unrelated pictures collide within a few bits (bench/README.md,
   "Memorization radius").

An item's pixels are needed only for the few candidates of an image; the caller passes a loader
(the datasets storage behind a cache, in the platform). A loader that fails raises, so the
gate errors and the image stays quarantined: the check fails closed."""

import dataclasses
import functools
import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import imagehash
import numpy as np
from PIL import Image, ImageOps

from moderation import copy_detection
from moderation.gates import GateContext, GateError, GateOutcome
from moderation.hamming import HammingIndex

KINDS = ("phash", "dhash", "whash")
# The neighbours a candidate's distance is measured against, and the distance assumed for each
# one missing (an image with few hash candidates stands out by that alone): about the pixel
# distance between unrelated scenes of the default model's training set.
NEIGHBOURS = 5
UNRELATED_DISTANCE = 0.25


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
        files: Sequence[str] | None = None,
    ):
        # `labels`: what a person needs to find each image (its dataset's name); `files`: where
        # its pixels are (a storage key), for the precise stage. Both are kept in memory so a
        # gate answers without touching the database.
        self.keys = list(keys)
        self.labels = list(labels) if labels is not None else [""] * len(self.keys)
        self.files = list(files) if files is not None else [""] * len(self.keys)
        self._values = {
            kind: np.array([int(value, 16) for value in hashes[kind]], dtype=np.uint64)
            for kind in KINDS
        }
        self._positions = np.arange(len(self.keys), dtype=np.int64)
        self._index = HammingIndex(self._values["phash"], self._positions)

    def __len__(self) -> int:
        return len(self.keys)

    @functools.cached_property
    def _indexes(self) -> dict[str, HammingIndex]:
        # Built on the first candidate search: the fingerprint registry only needs pHash's.
        return {
            "phash": self._index,
            **{kind: HammingIndex(self._values[kind], self._positions) for kind in KINDS[1:]},
        }

    def _one_stage(self, query: dict[str, int], radius: int) -> list[int]:
        """Positions whose pHash and dHash or wHash are within `radius` of `query`."""
        return [
            position
            for position, _ in self._index.search(query["phash"], radius)
            if min(
                _popcount(int(self._values[kind][position]), query[kind])
                for kind in ("dhash", "whash")
            )
            <= radius
        ]

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
        """Every catalogued image whose pHash and dHash or wHash are within `radius` of the
        image or of its mirror image, closest first (the one-stage rule)."""
        found = self._matches(hashes_of(image), radius, False)
        found += self._matches(hashes_of(ImageOps.mirror(image)), radius, True)
        best: dict[str, HashMatch] = {}
        for match in sorted(found, key=lambda m: (m.distance, sum(m.distances.values()))):
            best.setdefault(match.key, match)
        return list(best.values())

    def candidates(
        self, image: Image.Image, *, radius: int, limit: int, always_radius: int
    ) -> "CandidateSearch":
        """Stage 1: the items within `radius` of the image or its mirror on any hash kind, the
        `limit` nearest by summed distance, plus every one-stage match at `always_radius`."""
        queries = (hashes_of(image), hashes_of(ImageOps.mirror(image)))
        found = self._found(queries, radius)
        # Items the one-stage rule matches to a view that undoes a shift or a crop: always kept.
        viewed = {
            position
            for view in undo_views(image)
            for position in self._one_stage(hashes_of(view), always_radius)
        }
        found |= viewed
        if not found:
            return CandidateSearch([], 0, radius)
        positions = np.fromiter(found, dtype=np.int64, count=len(found))
        # Per orientation, the distances of every found item; each keeps its closer one.
        per = self._distances(positions, queries)
        # Ranked by pHash + dHash, which imagehash computes on a fixed-size thumbnail whatever
        # the image's size. wHash widens the search but does not rank: it is computed at the
        # image's own power-of-two scale, so a 56 px copy of a 64 px item lands 30-odd bits
        # from it (the scale of item 4 of issue #17).
        flipped, best = _oriented(per)  # best: (kind, item)
        total = best[0] + best[1]
        one_stage = (per[:, 0] <= always_radius) & (per[:, 1:].min(axis=1) <= always_radius)
        ranked = np.lexsort((positions, total))
        keep = np.zeros(positions.size, dtype=bool)
        keep[ranked[:limit]] = True
        keep |= one_stage.any(axis=0) | np.isin(positions, list(viewed))
        order = [k for k in ranked if keep[k]]
        return CandidateSearch(
            [self._candidate(positions[k], best[:, k], flipped[k], KINDS) for k in order],
            int(positions.size),
            radius,
        )

    def _candidate(self, position, distances, flipped, kinds) -> "Candidate":
        return Candidate(
            int(position),
            self.keys[position],
            self.labels[position],
            self.files[position],
            {kind: int(distance) for kind, distance in zip(kinds, distances, strict=True)},
            bool(flipped),
        )

    def _found(self, queries: Sequence[dict[str, int]], radius: int) -> set[int]:
        """The positions of the items within `radius` of any query on any hash kind it has."""
        found: set[int] = set()
        for query in queries:
            for kind in KINDS:
                if kind in query:
                    found.update(p for p, _ in self._indexes[kind].search(query[kind], radius))
        return found

    def _distances(self, positions: np.ndarray, queries: Sequence[dict[str, int]]) -> np.ndarray:
        """(query, kind, item) Hamming distances of the items at `positions` to each query,
        over the hash kinds the queries have, in KINDS order."""
        return np.stack(
            [
                np.stack(
                    [
                        np.bitwise_count(self._values[kind][positions] ^ np.uint64(query[kind]))
                        for kind in KINDS
                        if kind in query
                    ]
                )
                for query in queries
            ]
        ).astype(np.int64)

    def near(
        self, image: Image.Image, *, radius: int, limit: int, queries=None
    ) -> "CandidateSearch":
        """The tight search for a view that undoes a change (moderation.region_rotation): the
        items within `radius` of the view or its mirror on pHash or dHash, the `limit` nearest
        by summed distance. No wHash and no shift or crop views: a search runs for each of
        many views, and the two cheap hashes of a view that undoes the change land on its
        item's. `queries`: those two hashes of the view and its mirror image when the caller
        has them already."""
        queries = queries or [
            {
                "phash": int(str(imagehash.phash(view)), 16),
                "dhash": int(str(imagehash.dhash(view)), 16),
            }
            for view in (image, ImageOps.mirror(image))
        ]
        found = self._found(queries, radius)
        if not found:
            return CandidateSearch([], 0, radius)
        positions = np.fromiter(found, dtype=np.int64, count=len(found))
        per = self._distances(positions, queries)
        flipped, best = _oriented(per)
        ranked = np.lexsort((positions, best[0] + best[1]))[:limit]
        kinds = ("phash", "dhash")
        return CandidateSearch(
            [self._candidate(positions[k], best[:, k], flipped[k], kinds) for k in ranked],
            int(positions.size),
            radius,
        )


def _oriented(per: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For distances per (orientation, kind, item): whether each item is nearer the mirror
    image (by pHash + dHash, the first two kinds) and its distances in that orientation."""
    sums = per[:, 0] + per[:, 1]
    flipped = sums[1] < sums[0]
    return flipped, np.where(flipped, per[1], per[0])


# Views of an image that undo the handling which moves perceptual hashes most on images of small
# shapes (10 to 20 pHash and dHash bits): a shift of a few pixels either way, and a crop of a few
# pixels a side (the image shrunk back into the middle, its edge repeated around it). In pixels
# of a 64 px side.
UNDO_SHIFT = 4
UNDO_CROPS = (4, 6)


def undo_views(image: Image.Image) -> list[Image.Image]:
    rgb = np.asarray(image.convert("RGB").resize((64, 64), Image.Resampling.LANCZOS))
    views = []
    for axis in (0, 1):
        for step in (UNDO_SHIFT, -UNDO_SHIFT):
            moved = np.roll(rgb, step, axis=axis)
            edge = slice(0, step) if step > 0 else slice(step, None)
            source = slice(step, step + 1) if step > 0 else slice(step - 1, step)
            if axis == 0:
                moved[edge] = moved[source]
            else:
                moved[:, edge] = moved[:, source]
            views.append(Image.fromarray(moved))
    for crop in UNDO_CROPS:
        inner = Image.fromarray(rgb).resize((64 - 2 * crop,) * 2, Image.Resampling.LANCZOS)
        padded = np.pad(np.asarray(inner), ((crop, crop), (crop, crop), (0, 0)), mode="edge")
        views.append(Image.fromarray(padded))
    return views


def colour_undo_views(image: Image.Image) -> list[tuple[str, Image.Image]]:
    """The image after each colour change a person can undo exactly: inverted, and its colour
    channels in every other order. An input so changed gives back the training item it was made
    from (inverted again, channels swapped back; Canny edges of an inverted image are the
    item's own), so it is judged as the picture it undoes to."""
    rgb = image.convert("RGB")
    bands = rgb.split()
    views = [("inverted", ImageOps.invert(rgb))]
    for order in itertools.permutations(range(3)):
        if order != (0, 1, 2):
            name = "channels " + "".join("RGB"[band] for band in order)
            views.append((name, Image.merge("RGB", [bands[band] for band in order])))
    return views


# Quarter turns: with the mirror image, which every search hashes too, they undo each rotation
# and flip by right angles (a vertical flip is a half turn mirrored).
_TURNS = (
    ("rotated 90°", Image.Transpose.ROTATE_270),
    ("rotated 180°", Image.Transpose.ROTATE_180),
    ("rotated 270°", Image.Transpose.ROTATE_90),
)


def turn_undo_views(image: Image.Image) -> list[tuple[str, Image.Image]]:
    """The image turned back by each quarter turn. A training item turned or flipped is the item
    to anyone who turns it back, and an edit of it at a low strength comes out as the item
    turned; the hashes and the pixel comparison see neither through a turn, so such an input is
    judged as the picture it turns back to."""
    return [(name, image.transpose(undo)) for name, undo in _TURNS]


# A frame row or column: its pixels are on average no further than this from the line's median
# colour (of 255); an average, as JPEG rings and bleeds colour into a bar along its edge.
FRAME_TOLERANCE = 12
# A frame is only taken off when what is left keeps this many pixels a side.
FRAME_MIN_SIDE = 16
# A second view also shaves this many pixels (of the side FRAME_SEARCH_SIDE searches at) off
# each side that had a frame: JPEG's ringing and colour bleed leave a line or two of neither
# frame nor picture, which the pixel comparison reads as a strip of frame (a picture cropped a
# little is what it aligns; one with a strip of frame left is not).
FRAME_SHAVE = 2
# Frames are found on the image shrunk to at most this side (a 16-megapixel upload took 15 s
# line by line at full size), and the box is scaled back.
FRAME_SEARCH_SIDE = 256


def search_copy(image: Image.Image, side: int) -> tuple[np.ndarray, float]:
    """The image as int16 RGB, box-shrunk to at most `side` pixels a side for a search over
    its rows and columns, and the factor that takes its coordinates back to the image's."""
    width, height = image.size
    scale = max(1.0, max(width, height) / side)
    small = image.convert("RGB")
    if scale > 1.0:
        size = (max(1, round(width / scale)), max(1, round(height / scale)))
        small = small.resize(size, Image.Resampling.BOX)
    return np.asarray(small, dtype=np.int16), scale


def frame_undo_views(image: Image.Image) -> list[tuple[str, Image.Image]]:
    """The image without the flat rows and columns around it (letterbox or pillarbox bars, a
    mount or border of one colour a side), as cut and shaved a little more; no view when it has
    none. A training item so framed is still the item, and an edit of it comes out as the item
    framed; the hashes and the pixel comparison judge the whole canvas, frame included."""
    width, height = image.size
    rgb, scale = search_copy(image, FRAME_SEARCH_SIDE)

    def flat(lines: np.ndarray) -> np.ndarray:
        # lines: (count, length, 3); whether each line is one colour.
        median = np.median(lines, axis=1, keepdims=True)
        return np.abs(lines - median).max(axis=2).mean(axis=1) <= FRAME_TOLERANCE

    def kept(flags: np.ndarray) -> tuple[int, int]:
        inner = np.flatnonzero(~flags)
        return (int(inner[0]), int(inner[-1]) + 1) if inner.size else (0, 0)

    top, bottom = kept(flat(rgb))
    if top == bottom:  # one colour throughout: nothing inside a frame
        return []
    left, right = kept(flat(rgb[top:bottom].transpose(1, 0, 2)))
    small_height, small_width = rgb.shape[:2]
    if (left, top, right, bottom) == (0, 0, small_width, small_height):
        return []
    views = []
    for shave in (0, FRAME_SHAVE):
        inner = (
            left + shave * (left > 0),
            top + shave * (top > 0),
            right - shave * (right < small_width),
            bottom - shave * (bottom < small_height),
        )
        limits = (width, height, width, height)
        box = tuple(min(round(e * scale), most) for e, most in zip(inner, limits, strict=True))
        if min(box[2] - box[0], box[3] - box[1]) >= FRAME_MIN_SIDE:
            views.append(("frame removed", image.crop(box)))
    return views


@dataclass(frozen=True)
class Candidate:
    position: int
    key: str
    label: str
    file: str
    distances: dict[str, int]  # per hash kind, for the closer orientation
    mirrored: bool

    @property
    def summed(self) -> int:
        return self.distances["phash"] + self.distances["dhash"]


@dataclass(frozen=True)
class CandidateSearch:
    candidates: list[Candidate]
    found: int  # items within the radius before the cap
    radius: int


@dataclass(frozen=True)
class Compared:
    candidate: Candidate
    similarity: float
    mirrored: bool
    zoom: float
    shift: tuple[int, int]
    # Its distance over the mean distance of the next NEIGHBOURS candidates compared.
    neighbour_ratio: float = 1.0

    def summary(self) -> dict:
        return {
            "item": self.candidate.key,
            "dataset": self.candidate.label,
            "similarity": round(self.similarity, 4),
            "neighbour_ratio": round(self.neighbour_ratio, 3),
            "distance": self.candidate.distances["phash"],
            "distances": self.candidate.distances,
            "mirrored": self.mirrored,
            "zoom": self.zoom,
            "shift": list(self.shift),
        }


# An item's canonical pixels (copy_detection.canonical) by its storage key.
PixelLoader = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class Report:
    """What the check found for one image, stage by stage."""

    training_items: int
    search: CandidateSearch
    compared: list[Compared] = field(default_factory=list)  # most similar first
    limit: float = 1.0  # min_similarity
    exact: float = 1.0  # exact_similarity
    max_ratio: float = 0.0  # max_neighbour_ratio

    def is_copy(self, compared: Compared) -> bool:
        return compared.similarity >= self.exact or (
            compared.similarity >= self.limit and compared.neighbour_ratio <= self.max_ratio
        )

    @property
    def copies(self) -> list[Compared]:
        return [c for c in self.compared if self.is_copy(c)]

    @property
    def copy(self) -> Compared | None:
        # `compared` is most similar first: the first copy is the closest one.
        return next((c for c in self.compared if self.is_copy(c)), None)

    def nearest_text(self) -> str:
        """The nearest item searched, in words: never a placeholder distance."""
        if not self.compared:
            return (
                f"no training item within {self.search.radius} bits on pHash, dHash or wHash "
                f"(searched {self.training_items} items)"
            )
        best = self.compared[0]
        return (
            f"nearest training item {best.candidate.key} of dataset {best.candidate.label!r}: "
            f"similarity {best.similarity:.3f}, {best.neighbour_ratio:.2f} of the distance to the "
            "next nearest items, hash distances "
            + ", ".join(f"{k} {v}" for k, v in best.candidate.distances.items())
        )


def memorization_check(
    image: Image.Image, catalog: HashCatalog, pixels: PixelLoader, rules, mask=None
) -> Report:
    """Both stages for one image under `rules` (policies.rules.MemorizationRules); `mask`: as
    for view_check."""
    search = catalog.candidates(
        image,
        radius=rules.candidate_radius,
        limit=rules.candidates,
        always_radius=rules.max_hamming,
    )
    report = Report(
        len(catalog),
        search,
        [],
        rules.similarity_limit,
        rules.exact_similarity,
        rules.max_neighbour_ratio,
    )
    return _compared(report, image, pixels, mask)


def view_check(
    image: Image.Image, catalog: HashCatalog, pixels: PixelLoader, rules, mask=None, queries=None
) -> Report:
    """Both stages for a view that undoes a change, at the tight radius (`max_hamming`) and
    the `candidates` cap of `rules`; `mask`: the view's pixels that came from the input
    (copy_detection.compare), None for all; `queries`: as for HashCatalog.near."""
    search = catalog.near(image, radius=rules.max_hamming, limit=rules.candidates, queries=queries)
    report = Report(
        len(catalog),
        search,
        [],
        rules.similarity_limit,
        rules.exact_similarity,
        rules.max_neighbour_ratio,
    )
    return _compared(report, image, pixels, mask, VIEW_COARSE_LIMIT)


# Candidates the tolerant pass compares: the nearest by hash of the plain search. Tone changes
# and covers of up to a quarter of the image kept 291 of 300 disguised copies' items among
# them (bench/README.md, "Tone and covers"); each tolerant comparison costs several plain ones.
TOLERANT_CANDIDATES = 8
# The tolerant pass's own floor over the policy's min_similarity: fitting tone brings an
# unrelated picture closer too (ordinary scenes of flat shapes whose nearest item is 0.917 to
# 0.955 similar plainly reached 0.945 to 0.958), while most disguised copies land over 0.97.
TOLERANT_MIN_SIMILARITY = 0.96


def tolerant_check(image: Image.Image, report: Report, pixels: PixelLoader) -> Report:
    """Stage 2 again for the nearest TOLERANT_CANDIDATES of `report`'s candidates, with the
    tolerant comparison (copy_detection.compare: tone fitted, a covered share left out): an
    input check's last look at an image that may be an item under a veil, a tint, another
    contrast or gamma, or with a caption bar or a sticker over part of it."""
    search = dataclasses.replace(
        report.search, candidates=report.search.candidates[:TOLERANT_CANDIDATES]
    )
    again = dataclasses.replace(
        report,
        search=search,
        compared=[],
        limit=max(report.limit, TOLERANT_MIN_SIMILARITY),
        exact=max(report.exact, TOLERANT_MIN_SIMILARITY),
    )
    return _compared(again, image, pixels, tolerant=True)


# A view's candidate whose coarse distance (copy_detection.coarse_distance) is over this is not
# compared in full: a copy seen through a view is within about 0.03 of its item there, while an
# input of flat shapes has a candidate in many of its hundred-odd views.
VIEW_COARSE_LIMIT = 0.05


def _compared(
    report: Report,
    image: Image.Image,
    pixels: PixelLoader,
    mask=None,
    coarse=None,
    tolerant: bool = False,
) -> Report:
    """Stage 2: `report` with each of its candidates compared pixel by pixel (those within
    `coarse` on copy_detection.coarse_distance, when given; by the tolerant comparison when
    `tolerant`)."""
    search = report.search
    if not search.candidates:
        return report
    query = copy_detection.canonical(image)
    side = min(image.size)
    found = []
    for candidate in search.candidates:
        try:
            item = pixels(candidate.file)
        except Exception as exc:
            raise GateError(
                f"could not read training item {candidate.key} for the precise comparison: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        if coarse is not None and copy_detection.coarse_distance(query, item, mask) > coarse:
            continue
        result = copy_detection.compare(query, item, side, mask, tolerant)
        found.append((candidate, result))
    distances = sorted(result.distance for _, result in found)
    for candidate, result in found:
        report.compared.append(
            Compared(
                candidate,
                1.0 - result.distance,
                result.mirrored,
                result.alignment.zoom,
                result.alignment.shift,
                neighbour_ratio(result.distance, distances),
            )
        )
    report.compared.sort(key=lambda c: (-c.similarity, c.candidate.summed))
    return report


def neighbour_ratio(distance: float, distances: Sequence[float]) -> float:
    """`distance` over the mean of the NEIGHBOURS nearest other `distances` (sorted, `distance`
    among them), each missing one counted as UNRELATED_DISTANCE."""
    others = list(distances)
    others.remove(distance)
    others = (others[:NEIGHBOURS] + [UNRELATED_DISTANCE] * NEIGHBOURS)[:NEIGHBOURS]
    mean = sum(others) / NEIGHBOURS
    return distance / mean if mean > 0 else 1.0


def report_details(report: Report, rules) -> tuple[dict, dict]:
    """The scores and details a gate result records for a report."""
    scores = {}
    details = {
        "training_items": report.training_items,
        "radius": rules.max_hamming,
        "candidate_radius": report.search.radius,
        "candidates_found": report.search.found,
        "compared": len(report.compared),
        "min_similarity": report.limit,
        "exact_similarity": report.exact,
        "max_neighbour_ratio": report.max_ratio,
        "nearest": report.nearest_text(),
    }
    if report.compared:
        best = report.compared[0]
        scores["similarity"] = round(best.similarity, 4)
        scores["neighbour_ratio"] = round(best.neighbour_ratio, 3)
        scores["closest_distance"] = float(best.candidate.distances["phash"])
        details["matches"] = [c.summary() for c in report.compared[:10]]
    copy = report.copy
    if copy is not None:
        details["item"] = {"item": copy.candidate.key, "dataset": copy.candidate.label}
    return scores, details


def copy_reason(copy: Compared, report: Report) -> str:
    why = (
        f"the policy holds {report.exact:g} and over a copy"
        if copy.similarity >= report.exact
        else f"over {report.limit:g}, and {copy.neighbour_ratio:.2f} of the distance to the "
        f"next nearest items (the policy holds {report.max_ratio:g} or less a copy)"
    )
    return (
        f"likely copy of training item {copy.candidate.key} of dataset {copy.candidate.label!r}: "
        f"similarity {copy.similarity:.3f} ({why}), "
        f"pHash distance {copy.candidate.distances['phash']}"
        + (", mirrored" if copy.mirrored else "")
    )


class MemorizationGate:
    name = "memorization"
    version = "memorization-v3:hash-candidates+tiled-pixels+neighbour-ratio"

    def __init__(self, catalog: HashCatalog, pixels: PixelLoader):
        # Loaded by the caller (the gates worker keeps them in memory): the gate itself never
        # touches the database, so it can run under a time limit in another thread.
        self.catalog = catalog
        self.pixels = pixels

    def check(self, image: Image.Image, context: GateContext) -> GateOutcome:
        rules = context.rules.memorization
        if not rules.enabled:
            return GateOutcome("pass", "", {}, {"note": "memorization check disabled by policy"})
        report = memorization_check(image, self.catalog, self.pixels, rules)
        scores, details = report_details(report, rules)
        copy = report.copy
        if copy is None:
            return GateOutcome("pass", "", scores, details)
        return GateOutcome("block", copy_reason(copy, report), scores, details)
