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
further (STANDOUT_RATIO) (bench/edge_copies.py measures the numbers).

Second search (geometric_search), only for an upload the first finds no copy in, so that what
the first finds is decided as before: the same two stages over turned and cut views of the
upload (moderation.edge_geometry), under a stricter rule (GEOMETRIC_MAX_RATIO, no standout),
since many views give an ordinary drawing many chances to fit some item."""

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
    line_binary,
    pooled,
)
from moderation.edge_geometry import LineView, finer_views, geometric_views, work_lines
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
# The second search (geometric_search: turned and cut views, only for an upload the first search
# finds no copy in). Each view keeps its GEOMETRIC_CANDIDATES best items; the GEOMETRIC_PAIRS
# best (view, item) pairs over all views are compared precisely and refined. With about 180
# views an ordinary drawing has far more chances to fit some item than in the first search,
# so a copy must meet the first search's plain rule with a tighter ratio to the next item, and
# the standout rule does not apply. The ratio is where ordinary maps near an item stop (never
# under 0.35 of the next in the first search; a held-out scene's corner fitted a training
# scene at 0.38 to 0.39 of the next in a tuning run); bench/edge_copies.py measures the rest.
GEOMETRIC_CANDIDATES = 2
GEOMETRIC_PAIRS = 24
GEOMETRIC_MAX_SCORE = 1.0
GEOMETRIC_MAX_RATIO = 0.35
# A part of an item whose loose lines fill more than this share of the cells is a texture that
# every drawing is near (enlarged, a textured item's half is line almost everywhere, and its
# strong lines are few or none, so nothing is left uncovered). On a tuning run (seeds 1 and 5,
# not the README's sets) the items found in turned and cut views filled 0.02 to 0.14 of theirs,
# the textured items that ordinary maps fitted 0.52 to 0.84; such a part, or one with fewer
# strong line cells than an upload needs (MIN_LINE_CELLS), is not compared.
MAX_LOOSE_SHARE = 0.3


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

    def view_scores(self, view: LineView) -> np.ndarray:
        """Every item's candidate score for a turned or cut view: as in `candidates`, but the
        item's cells outside the cells the view shows are not counted against it."""
        query = coarse(view.mask)
        shown = cv2.resize(
            view.valid.astype(np.float32), (COARSE_SIDE, COARSE_SIDE), interpolation=cv2.INTER_AREA
        )
        within = np.packbits((shown >= 0.5).ravel()).view(">u8").astype(np.uint64)
        bits = self._bits & within
        common = np.bitwise_count(bits & query).sum(axis=1).astype(np.int64)
        cells = int(np.bitwise_count(query).sum())
        union = np.bitwise_count(bits).sum(axis=1).astype(np.int64) + cells - common
        return common / max(cells, 1) + common / np.maximum(union, 1)


@dataclass(frozen=True)
class EdgeComparison:
    score: float  # 1 or less: as near as a copy
    precision: float
    uncovered: float
    mirrored: bool
    zoom: float
    shift: tuple[int, int]
    view: str = ""  # the turned or cut view it was found in (second search), else empty


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


def view_compare(view: LineView, item: ItemLines) -> EdgeComparison:
    """A turned or cut view's lines against an item's whole lines, as `edge_compare` does at
    zoom 1 without a mirror (the view undid both), over the cells the view shows."""
    if view.share is None:
        loose, strong = item.at(1.0)
        upload, shown = view.mask, view.valid
    else:
        # A crop is compared at its own size with the item's box enlarged: shrunk into the
        # box, a busy upload's lines pool into a dense patch that any busy item is near.
        loose, strong = item.region(view.share, view.place)
        upload, shown = view.lines, np.ones_like(view.lines)
    if not loose.any() or not upload.any():
        return EdgeComparison(CAP, 1.0, 1.0, view.mirrored, 1.0, (0, 0), view.name)
    n = EDGE_SIDE
    valid = shown > 0
    # Matching with the view's cells as the template's mask: the item's lines outside them do
    # not pull the alignment.
    scores = cv2.matchTemplate(
        _blurred(loose), _blurred(upload), cv2.TM_CCORR_NORMED, mask=shown.astype(np.float32)
    )
    _, _, _, (dx, dy) = cv2.minMaxLoc(np.nan_to_num(scores, nan=0.0, posinf=0.0, neginf=0.0))
    loose_part = loose[dy : dy + n, dx : dx + n]
    strong_part = strong[dy : dy + n, dx : dx + n] & shown
    if (
        not loose_part.any()
        or loose_part[valid].mean() > MAX_LOOSE_SHARE
        or int(strong_part.sum()) < MIN_LINE_CELLS
    ):
        return EdgeComparison(CAP, 1.0, 1.0, view.mirrored, 1.0, (0, 0), view.name)
    near_item = np.minimum(_distances(loose_part), CAP)
    precision = float(near_item[upload > 0].mean() / max(near_item[valid].mean(), 1e-6))
    uncovered = float((_distances(upload)[strong_part > 0] > COVER_TOLERANCE).mean())
    score = min(CAP, max(precision / MAX_PRECISION, uncovered / MAX_UNCOVERED))
    shift = (dx - MAX_SHIFT, dy - MAX_SHIFT)
    zoom = 1.0 if view.share is None else 1 / view.share
    return EdgeComparison(score, precision, uncovered, view.mirrored, zoom, shift, view.name)


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
    # The second search's best match per item (turned and cut views), best score first; empty
    # when the first search found a copy.
    geometric: list[EdgeMatch] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        """The best score over the next best (UNRELATED_SCORE when there is none)."""
        return _ratio(self.compared)

    @property
    def geometric_ratio(self) -> float:
        """The second search's best score over its next item's."""
        return _ratio(self.geometric)

    @property
    def copy(self) -> EdgeMatch | None:
        """The item the upload is a copy of: by the first search's rule, else the second's."""
        return self.first_copy or self.geometric_copy

    @property
    def first_copy(self) -> EdgeMatch | None:
        if not self.compared:
            return None
        score, ratio = self.compared[0].comparison.score, self.ratio
        if (score <= 1.0 and ratio <= MAX_RATIO) or (
            score <= STANDOUT_SCORE and ratio <= STANDOUT_RATIO
        ):
            return self.compared[0]
        return None

    @property
    def geometric_copy(self) -> EdgeMatch | None:
        if not self.geometric:
            return None
        score = self.geometric[0].comparison.score
        if score <= GEOMETRIC_MAX_SCORE and self.geometric_ratio <= GEOMETRIC_MAX_RATIO:
            return self.geometric[0]
        return None

    @property
    def copy_ratio(self) -> float:
        """The ratio of the search that found the copy (the first's when none did)."""
        return (
            self.geometric_ratio if self.first_copy is None and self.geometric_copy else self.ratio
        )

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


def _ratio(matches: list[EdgeMatch]) -> float:
    if not matches:
        return 1.0
    best = matches[0].comparison.score
    following = matches[1].comparison.score if len(matches) > 1 else UNRELATED_SCORE
    return best / following if following > 0 else 1.0


def _read(catalog: EdgeCatalog, position: int, lines_of) -> ItemLines:
    try:
        return lines_of(catalog.files[position])
    except Exception as exc:
        raise GateError(
            f"could not read training item {catalog.keys[position]} for the line "
            f"comparison: {type(exc).__name__}: {exc}"
        ) from exc


def edge_check(image: Image.Image, catalog: EdgeCatalog, lines_of) -> EdgeReport:
    """Both searches for one uploaded line drawing: the first (mirror, zoom, shift) and, only
    when it finds no copy, the second (turned and cut views). `lines_of(file_key)` gives an
    item's ItemLines. Raises GateError when an item cannot be read or the second search fails
    (the caller fails closed)."""
    binary = line_binary(image)
    report = first_search(pooled(binary), catalog, lines_of)
    if report.first_copy is None and report.line_cells >= MIN_LINE_CELLS:
        geometric_search(binary, report, catalog, lines_of)
    return report


def first_search(mask: np.ndarray, catalog: EdgeCatalog, lines_of) -> EdgeReport:
    """Both stages for the upload's line mask as it is (mirror, zoom and shift aligned)."""
    report = EdgeReport(len(catalog), int(mask.sum()))
    if report.line_cells < MIN_LINE_CELLS:
        return report
    for position in catalog.candidates(mask):
        lines = _read(catalog, position, lines_of)
        comparison = edge_compare(mask, lines)
        report.compared.append(
            EdgeMatch(catalog.keys[position], catalog.labels[position], comparison)
        )
    report.compared.sort(key=lambda match: match.comparison.score)
    return report


def geometric_search(binary: np.ndarray, report: EdgeReport, catalog: EdgeCatalog, lines_of):
    """The second search, into `report.geometric`: the upload's turned and cut views
    (moderation.edge_geometry) against every item's coarse lines, then the best pairs
    compared precisely, each refined by half and quarter grid steps. Any failure in it is a
    GateError: an upload it could not search is not passed as one it searched."""
    try:
        _geometric_search(binary, report, catalog, lines_of)
    except GateError:
        raise
    except Exception as exc:
        raise GateError(
            f"the turned and cut views of the line drawing failed: {type(exc).__name__}: {exc}"
        ) from exc


def _geometric_search(binary, report, catalog, lines_of) -> None:
    work = work_lines(binary)
    pairs = []
    for view in geometric_views(work):
        # A view too sparse to check (a crop shrunk into a small box) fits too many items.
        if int(view.mask.sum()) < MIN_LINE_CELLS or not len(catalog):
            continue
        scores = catalog.view_scores(view)
        for position in np.argsort(-scores, kind="stable")[:GEOMETRIC_CANDIDATES]:
            if scores[position] > 0:
                pairs.append((float(scores[position]), len(pairs), view, int(position)))
    pairs.sort(key=lambda pair: (-pair[0], pair[1]))
    best: dict[int, EdgeComparison] = {}
    items: dict[int, ItemLines] = {}
    for _, _, view, position in pairs[:GEOMETRIC_PAIRS]:
        if position not in items:
            items[position] = _read(catalog, position, lines_of)
        found = _refined(work, view, items[position])
        if position not in best or found.score < best[position].score:
            best[position] = found
    report.geometric = sorted(
        (
            EdgeMatch(catalog.keys[position], catalog.labels[position], comparison)
            for position, comparison in best.items()
        ),
        key=lambda match: match.comparison.score,
    )


def _refined(work: np.ndarray, view: LineView, item: ItemLines) -> EdgeComparison:
    """The view's comparison, then the better of half a grid step either side, then of a
    quarter step either side of that (the grid is at most half a step off)."""
    found, at = view_compare(view, item), view
    for step in (0.5, 0.25):
        centre = at
        for other in finer_views(work, centre, step):
            comparison = view_compare(other, item)
            if comparison.score < found.score:
                found, at = comparison, other
    return found
