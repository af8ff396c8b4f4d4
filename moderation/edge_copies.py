"""Training items traced as line drawings (plain module, numpy and OpenCV, no Django): is a
control image of a line kind (Canny edges, a scribble) the edges of a training item? A user who
runs Canny on a training item, or traces it, and uploads the lines as a ControlNet's control
image gets the item's structure back, and the lines' pixels and hashes look nothing like the
item's, so the pixel-domain check (moderation.memorization) lets them through.

Both sides are brought to line masks EDGE_SIDE pixels a side:

- the upload: greyscale; inverted when most of it is bright (black lines on white); binarised
  (Otsu, so JPEG noise and grey anti-aliasing drop out); max-pooled to EDGE_SIDE (a cell with
  any line is a line, so a thin line at 512 px and a dilated one land on the same cells); then
  thinned to its morphological skeleton (thick traces and dilated edges keep their centre line);
- an item: Canny at ITEM_WORK_SIDE pixels, once with loose thresholds joined with the ControlNet
  defaults (`loose`: every line an attacker's thresholds could keep, pooled but not thinned, since
  a busy texture pools to a blob whose skeleton loses the lines inside it) and once with strict
  ones (`strong`: the lines any edge map showing the item keeps, pooled and thinned).

Stage 1 (candidates): a coarse bitmap of each item's loose lines (COARSE_SIDE square, lines
widened) is kept with the item; the upload's (and its mirror's, and both shrunk into the centre
as a crop of the whole item would be) is compared with every item's: the share of the upload's
cells the item has, plus the Jaccard index (so a busy item, which has every cell, does not crowd
out the item the lines came from); the CANDIDATES best are kept. All items are scored: with
20 000 items that is 20 000 x 16 popcounts per view.

Stage 2 (precise): a chamfer comparison after aligning the item to the upload (mirror, zooms up
to ZOOMS' largest for a crop, shifts up to MAX_SHIFT by template matching on blurred lines), in
two parts. Precision: the mean distance from the upload's lines to the item's loose lines, over
the mean distance from any point of the image to them (a busy item is near everything, a sparse
one near little: lines drawn anywhere score about 1, an item's own edges mostly under 0.1).
Coverage: the share of the item's strong lines that no upload line comes within COVER_TOLERANCE
of (a few lines that happen to lie on an item are not a copy of it). The score is the larger of
the two, each over its limit: an upload that scores 1 or less on an item, and much less than on
the next item (MAX_RATIO), is a copy of it, as is one up to STANDOUT_SCORE that stands out
further (STANDOUT_RATIO) (bench/edge_copies.py measures the numbers)."""

from dataclasses import dataclass, field

import cv2
import numpy as np
from PIL import Image

from mintmark.line_drawings import (
    COARSE_SIDE,
    EDGE_SIDE,
    MAX_SHIFT,
    SQUARE,
    ItemLines,
    coarse,
    line_mask,
)
from moderation.gates import GateError

CANDIDATES = 16
CANDIDATE_ZOOMS = (1.0, 1.15, 1.3)
ZOOMS = (1.0, 1.05, 1.1, 1.15, 1.2, 1.25, 1.3)
CAP = 6.0
# The limits of the score's two parts (see the module docstring). On bench/edge_copies.py's
# catalog of 5 805 items, 481 of 561 checkable disguised edge maps of items scored 1 or less at
# twice these limits, but so did 9 of 320 edge maps of ordinary pictures; at these (with the
# standout rule below) 470 and 2.
COVER_TOLERANCE = 2.0
MAX_PRECISION = 0.09
MAX_UNCOVERED = 0.25
# A copy also scores at most MAX_RATIO of the next nearest candidate's score: an ordinary drawing
# near one item (a lone circle where many items have one) is about as near the next. A missing
# candidate counts as UNRELATED_SCORE, about what unrelated drawings score.
MAX_RATIO = 0.6
UNRELATED_SCORE = 3.0
# An upload that stands out that much from every other item (a dilated edge map loses some
# precision in pooling) is a copy up to the looser score: ordinary edge maps near an item were
# never under 0.35 of the next (bench/edge_copies.py).
STANDOUT_RATIO = 0.3
STANDOUT_SCORE = 2.0
# An upload with fewer line cells than this carries no structure worth checking.
MIN_LINE_CELLS = 24


def _fingerprint_words(fingerprint: str) -> np.ndarray:
    return np.array(
        [int(fingerprint[i : i + 16], 16) for i in range(0, len(fingerprint), 16)],
        dtype=np.uint64,
    )


class EdgeCatalog:
    """The edge fingerprints of a set of training items, kept in memory."""

    def __init__(self, keys, labels, files, fingerprints):
        self.keys = list(keys)
        self.labels = list(labels)
        self.files = list(files)
        words = COARSE_SIDE * COARSE_SIDE // 64
        self._bits = (
            np.stack([_fingerprint_words(f) for f in fingerprints])
            if self.keys
            else np.zeros((0, words), dtype=np.uint64)
        )
        self._counts = np.bitwise_count(self._bits).sum(axis=1).astype(np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def candidates(self, mask: np.ndarray, limit: int = CANDIDATES) -> list[int]:
        """Positions of the `limit` items whose coarse lines share most with the mask's, its
        mirror's or their shrunk views' (Jaccard), best first."""
        if not self.keys:
            return []
        best = np.zeros(len(self.keys))
        for view in (mask, np.ascontiguousarray(mask[:, ::-1])):
            for zoom in CANDIDATE_ZOOMS:
                query = coarse(view, zoom)
                common = np.bitwise_count(self._bits & query).sum(axis=1).astype(np.int64)
                union = self._counts + int(np.bitwise_count(query).sum()) - common
                # The share of the upload's cells the item has (its lines are the item's),
                # then how little else the item has (a busy item contains every drawing).
                contained = common / max(int(np.bitwise_count(query).sum()), 1)
                best = np.maximum(best, contained + common / np.maximum(union, 1))
        order = np.argsort(-best, kind="stable")[:limit]
        return [int(p) for p in order if best[p] > 0]


@dataclass(frozen=True)
class EdgeComparison:
    score: float  # 1 or less: as near as a copy
    precision: float
    uncovered: float
    mirrored: bool
    zoom: float
    shift: tuple[int, int]


def _distances(mask: np.ndarray) -> np.ndarray:
    return cv2.distanceTransform((1 - mask).astype(np.uint8), cv2.DIST_L2, 3)


def _blurred(mask: np.ndarray) -> np.ndarray:
    return cv2.GaussianBlur(cv2.dilate(mask, SQUARE).astype(np.float32), (0, 0), 1.0)


def edge_compare(mask: np.ndarray, item: ItemLines) -> EdgeComparison:
    """The upload's lines against an item's, at the alignment that scores best."""
    best = EdgeComparison(CAP, 1.0, 1.0, False, 1.0, (0, 0))
    if not mask.any():
        return best
    n = EDGE_SIDE
    uploads = []
    for flipped in (False, True):
        upload = np.ascontiguousarray(mask[:, ::-1]) if flipped else mask
        uploads.append((flipped, upload, _blurred(upload), _distances(upload)))
    for zoom in ZOOMS:
        loose, strong = item.at(zoom)
        if not loose.any():
            continue
        guide = _blurred(loose)
        for flipped, upload, upload_blur, upload_far in uploads:
            scores = cv2.matchTemplate(guide, upload_blur, cv2.TM_CCORR_NORMED)
            _, _, _, (dx, dy) = cv2.minMaxLoc(scores)
            loose_part = loose[dy : dy + n, dx : dx + n]
            strong_part = strong[dy : dy + n, dx : dx + n]
            if not loose_part.any():
                continue
            near_item = np.minimum(_distances(loose_part), CAP)
            precision = float(near_item[upload > 0].mean() / max(near_item.mean(), 1e-6))
            uncovered = (
                float((upload_far[strong_part > 0] > COVER_TOLERANCE).mean())
                if strong_part.any()
                else 0.0
            )
            score = max(precision / MAX_PRECISION, uncovered / MAX_UNCOVERED)
            if score < best.score:
                shift = (dx - MAX_SHIFT, dy - MAX_SHIFT)
                best = EdgeComparison(score, precision, uncovered, flipped, zoom, shift)
    return best


@dataclass(frozen=True)
class EdgeMatch:
    key: str
    label: str
    comparison: EdgeComparison


@dataclass
class EdgeReport:
    training_items: int
    line_cells: int
    compared: list[EdgeMatch] = field(default_factory=list)  # best score first

    @property
    def ratio(self) -> float:
        """The best score over the next best (UNRELATED_SCORE when there is none)."""
        if not self.compared:
            return 1.0
        best = self.compared[0].comparison.score
        following = self.compared[1].comparison.score if len(self.compared) > 1 else UNRELATED_SCORE
        return best / following if following > 0 else 1.0

    @property
    def copy(self) -> EdgeMatch | None:
        if not self.compared:
            return None
        score, ratio = self.compared[0].comparison.score, self.ratio
        if (score <= 1.0 and ratio <= MAX_RATIO) or (
            score <= STANDOUT_SCORE and ratio <= STANDOUT_RATIO
        ):
            return self.compared[0]
        return None

    def nearest_text(self) -> str:
        if not self.compared:
            return (
                f"no training item compared (searched {self.training_items} items, "
                f"{self.line_cells} line cells)"
            )
        best = self.compared[0]
        comparison = best.comparison
        return (
            f"nearest training item {best.key} of dataset {best.label!r}: line score "
            f"{comparison.score:.2f} (precision {comparison.precision:.2f}, "
            f"{comparison.uncovered:.0%} of its lines uncovered), {self.ratio:.2f} of the next "
            f"nearest's (a copy scores 1 or less and {MAX_RATIO:g} of the next or less, or "
            f"{STANDOUT_SCORE:g} or less and {STANDOUT_RATIO:g} of the next or less)"
        )


def edge_check(image: Image.Image, catalog: EdgeCatalog, lines_of) -> EdgeReport:
    """Both stages for one uploaded line drawing; `lines_of(file_key)` gives an item's
    ItemLines. Raises GateError when an item cannot be read (the caller fails closed)."""
    mask = line_mask(image)
    report = EdgeReport(len(catalog), int(mask.sum()))
    if report.line_cells < MIN_LINE_CELLS:
        return report
    for position in catalog.candidates(mask):
        try:
            lines = lines_of(catalog.files[position])
        except Exception as exc:
            raise GateError(
                f"could not read training item {catalog.keys[position]} for the line "
                f"comparison: {type(exc).__name__}: {exc}"
            ) from exc
        comparison = edge_compare(mask, lines)
        report.compared.append(
            EdgeMatch(catalog.keys[position], catalog.labels[position], comparison)
        )
    report.compared.sort(key=lambda match: match.comparison.score)
    return report
