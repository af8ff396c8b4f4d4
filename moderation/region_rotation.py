"""Views of an input image that find a training item hidden in it (plain module, numpy and
OpenCV, no Django): the item pasted into a bigger picture (a collage, a print on a wall), or
turned by an angle that is not a quarter turn, its canvas grown to hold it or cut back to the
original size; turned and then pasted; or shown in perspective. The input check
(moderation.input_check) searches each view at the tight hash radius and compares its candidates
pixel by pixel, as it does its other views.

Regions. Perceptual hashes of a window are only near its item's when the window is the item's
box to within about 1 % of its side (2 % off moves them 10 bits on a busy canvas), so sliding
windows would need tens of thousands of them. A pasted picture has straight edges where it
meets what is around it: the search finds long horizontal and vertical edge runs and proposes
the boxes that have an edge along each side (or the border of the input), the best
REGIONS of them, each cut from the input at its own size. A picture feathered into what is
around it (its border blended over a few pixels) has such edges only on the input shrunk 2 or 4
times, where boxes are also looked for (SOFT_SIDES).

Angles. The input is turned back by each angle of ANGLES, both ways. An item turned on a
grown canvas is then upright in the middle, whole: the view is the box it fills. An item turned
and cut back to its size is upright but lacks its corners: the view is the whole input turned
back, its missing corners painted in from their edges for the hashes and left out of the pixel
comparison (a mask). The angles are 2 degrees apart: 1 degree off moves a 64 px item's corner
under a pixel, which the hashes and the comparison take. The views that level one of the
input's slanted straight edges (below) are also turned by one to three quarter turns, for an
item turned by more than 45 degrees (a turn about the centre commutes with a quarter turn; the
quarter turns' hashes come from the same resizes).

Turned, then pasted. The sides of a picture turned and pasted (or turned on a grown canvas and
pasted) run along one slanted direction, found from the input's long straight edges (Hough):
the input turned back by it has the picture's box level again, and its regions are searched
with every quarter turn.

Rectified. The input and the views that came nearest an item without finding it are brought onto
that item by the homography that lines their brightness up best (ECC, from no change, bounded):
a picture photographed at an angle or skewed, or a box a few per cent off, is the item again.
Keypoints and RANSAC were measured instead and not used: the items are kept as 64 px canonical
pixels, and on 30 perspective copies of default-model items (bench/hidden_items.py's) ORB found a
homography of 8 or more inliers for 22 and SIFT for 18 (this OpenCV has no AKAZE), where ECC
brought 27 to 0.94 similar or more. Keypoints could not find the candidates either (the
catalog keeps hashes, not descriptors): the hashes of the views do."""

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import scipy.fftpack
from PIL import Image

from moderation.copy_detection import CANONICAL_SIDE, canonical, compare
from moderation.memorization import (
    Compared,
    HashCatalog,
    PixelLoader,
    Report,
    memorization_check,
    search_copy,
    view_check,
)

# Regions are looked for on the input shrunk to at most this side: a box found there is within
# a pixel, about 1 % of the side of the smallest region searched.
REGION_SEARCH_SIDE = 512
# A picture feathered into its surroundings (its border blended over a few pixels) has no step
# between neighbouring pixels there; shrunk 2 and 4 times it has. Boxes are also looked for at
# these sides, the best so many of them, after those found at REGION_SEARCH_SIDE; one within
# SAME_BOX of the input's smaller side of a box already kept on every side is that box. The
# hashes of a feathered picture's box stay near its item's anywhere inside the blend.
SOFT_SIDES = ((256, 24), (128, 24))
SAME_BOX = 0.01
# A step of this much (0-255, largest over the colour channels) between two neighbouring
# pixels is an edge.
EDGE_STEP = 16
# A box side counts when edges run along this share of it; a line is a candidate when some
# stretch of it as long as the smallest region is so covered.
EDGE_SUPPORT = 0.6
# Regions searched: a side from this share of the input's smaller side, boxes up to this
# aspect ratio, and not the whole input (the plain check judges that).
MIN_REGION = 0.13
MAX_ASPECT = 2.0
# Candidate lines kept each way (the best supported, after keeping one of each run of
# neighbouring ones), and boxes searched.
LINES = 24
REGIONS = 64
# How far a box with a side made up to square it ranks below one with four sides found.
SQUARED_PENALTY = 0.05
# Slanted line directions searched for a picture turned and pasted, the line length each must
# have (in sides of the smallest region), the least slant that counts (a smaller one the hashes
# take), and the regions searched in the input turned back by each (every quarter turn).
TURNED_ANGLES = 2
SLANT_SUPPORT = 2.0
SLANT_FROM = 2.0
TURNED_REGIONS = 16
# The turned views tried with quarter turns more: those within this many degrees of undoing a
# slant (ANGLES' step and the refinement's reach).
SLANT_NEAR = 3.0
# The views that come this near an item (the nearest candidate's similarity) without finding it
# are rectified onto it, the RECTIFIED nearest of them; a rectified view's copy counts only when
# it is RECTIFY_MARGIN more similar than the view was.
RECTIFY_FROM = 0.85
RECTIFIED = 3
RECTIFY_MARGIN = 0.01
MAX_WARP = 0.15
ECC_STOP = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 60, 1e-5)
# A view's copy is judged under the policy's rules with its `exact_similarity` (a copy whatever
# its neighbours) raised to at least this: an input has a few hundred views, so among held-out
# scenes of flat shapes some view lands 0.97 to 0.98 near an item about as near to others (a
# neighbour ratio of 0.24 to 0.83), where a copy seen through a view mostly stands out or comes
# nearer. At the policy's 0.97 the views refused 11 of 500 such ordinary inputs; at 0.98 3,
# catching 2 fewer of 210 attacked copies (bench/README.md, "Hidden items").
VIEW_EXACT_SIMILARITY = 0.98
# A box whose sides, moved, leave less than this many pixels a side is dropped.
MIN_VIEW = 8
# A box's sides are then moved to the strongest step within this many pixels.
REFINE = 3
# Angles turned back, each way, in degrees.
ANGLES = tuple(range(2, 46, 2))
# A turned-back view whose nearest candidate is this similar is tried again at these finer
# turns about its own (degrees).
REFINE_FROM = 0.93
FINE_STEPS = (-1.0, -0.5, 0.5, 1.0)
# A turned view's copy counts only when the input not turned is this much less similar to it.
TURN_MARGIN = 0.01
# Beyond this angle, a grown canvas no longer tells a picture's width from its height well
# (both come from differences of cos and sin): the item is taken to be square.
SQUARE_FROM = 36
# The missing corners are masked this many canonical pixels beyond where they end: the
# canonical blur carries their fill that far into the picture.
MASK_MARGIN = 2
# The fill a skew, a turn or a perspective leaves where the picture no longer reaches: pure black
# or white (within FILL_TOLERANCE of it) touching the border, over a share of the input within
# FILL_SHARE (more is a background, less is noise). The input is judged for rectifying without
# it: a 5 % skew's black corners held its item's similarity at 0.77, rectified it is 0.96.
FILL_TOLERANCE = 4
FILL_SHARE = (0.004, 0.3)


@dataclass(frozen=True)
class View:
    undone: str  # what the view undoes, for the reason and the refusal
    image: Image.Image
    turn: float | None = None  # the small turn undone, degrees anticlockwise
    # Canonical-size float32 mask of the pixels that hold the input's picture, None for all.
    mask: np.ndarray | None = None
    quarter: int = 0  # quarter turns undone after `turn`, anticlockwise (numpy's rot90)
    # The view's and its mirror image's pHash and dHash when made with others (HashCatalog.near).
    queries: list | None = field(default=None, compare=False)

    @property
    def grown(self) -> bool:
        return self.turn is not None and self.mask is None

    def quartered(self, quarter: int) -> "View":
        """The view turned by `quarter` more quarter turns: it undoes a turn of `turn` and
        90° steps, any angle with ANGLES' small ones. Turning about the centre commutes with
        a quarter turn, so the view's picture and mask turn as they are."""
        if quarter == 0:
            return self
        total = (self.turn - 90 * quarter + 180) % 360 - 180
        way = "clockwise" if total > 0 else "anticlockwise"
        where = self.undone.split(", ", 1)[1]
        return View(
            f"turned back {abs(total):g}° {way}, {where}",
            Image.fromarray(np.rot90(np.asarray(self.image), quarter)),
            self.turn,
            None if self.mask is None else np.ascontiguousarray(np.rot90(self.mask, quarter)),
            quarter,
        )


def hidden_item_report(
    image: Image.Image,
    small: Image.Image,
    catalog: HashCatalog,
    pixels: PixelLoader,
    rules,
    tight,
    plain: Report | None = None,
) -> tuple[Report, str] | None:
    """The first view of `image` that finds a copy, with what it undid, or None: its regions
    (cut from `image`, brought down to `small`'s size) and `small` (a small copy of it) turned
    back; then the views that came nearest an item without finding it (and `small` itself, by
    `plain`, its own report), rectified onto that item (rectified_view). Each view is searched
    under `tight` (the input check's rules for views: the tight radius, few candidates); one
    that finds a copy there is judged again under `rules` (the policy's, its exact similarity
    raised to VIEW_EXACT_SIMILARITY), whose wide search brings the neighbours a copy must stand
    out from: with a few candidates a view of a plain scene stands out from none, and over a
    hundred views a few such scenes land near an item."""
    side = max(small.size)
    array = np.asarray(small.convert("RGB"))
    rules = rules.model_copy(
        update={"exact_similarity": max(rules.exact_similarity, VIEW_EXACT_SIMILARITY)}
    )
    views = itertools.chain(
        region_views(image, side),
        rotation_views(small, slants := _slants(image)),
        turned_region_views(image, side, slants),
    )
    # Per item, the similarity of the nearest view of it that the wide search judged no copy:
    # a view no nearer is not judged again (the search costs as much as a hundred views).
    judged: dict[str, float] = {}

    def judge(view: View, report: Report) -> Report | None:
        copy = report.copy
        if copy is None or judged.get(copy.candidate.key, -1.0) >= copy.similarity:
            return None
        if view.turn is not None and not _turn_matters(array, view, report, pixels):
            return None
        confirmed = memorization_check(view.image, catalog, pixels, rules, view.mask)
        if confirmed.copy is None:
            judged[copy.candidate.key] = copy.similarity
            return None
        if view.turn is not None and not _turn_matters(array, view, confirmed, pixels):
            return None
        return confirmed

    def rectified(near: list[tuple[float, View, Compared]]) -> tuple[Report, str] | None:
        near = sorted(near, key=lambda entry: -entry[0])[:RECTIFIED]
        for similarity, view, compared in near:
            if similarity < RECTIFY_FROM:
                break
            found = rectified_view(view, pixels(compared.candidate.file), compared.mirrored)
            if found is None:
                continue
            report = view_check(found.image, catalog, pixels, tight, found.mask)
            copy = report.copy
            if copy is None or copy.candidate.key != compared.candidate.key:
                continue
            if copy.similarity < similarity + RECTIFY_MARGIN:
                continue
            confirmed = judge(found, report)
            if confirmed is not None and confirmed.copy.candidate.key == copy.candidate.key:
                return confirmed, found.undone
        return None

    # The input itself near an item (a picture in perspective) is rectified first: its views
    # would each come near the item too, and each be judged.
    if plain is not None:
        near = [(c.similarity, View("", small), c) for c in plain.compared]
        filled = border_fill(small)
        if filled is not None:
            unfilled = View("", small, mask=_canonical_mask(~filled))
            report = view_check(small, catalog, pixels, tight, unfilled.mask)
            near += [(c.similarity, unfilled, c) for c in report.compared]
        found = rectified(near)
        if found is not None:
            return found
    near: list[tuple[float, View, Compared]] = []
    for view in views:
        report = view_check(view.image, catalog, pixels, tight, view.mask, view.queries)
        if not report.compared:
            continue
        if view.mask is None:
            near.append((report.compared[0].similarity, view, report.compared[0]))
        if view.turn is not None and report.compared[0].similarity >= REFINE_FROM:
            view, report = _finer(array, view, report, catalog, pixels, tight)
        confirmed = judge(view, report)
        if confirmed is not None:
            return confirmed, view.undone
    return rectified(near)


def rectified_view(view: View, item: np.ndarray, mirrored: bool) -> View | None:
    """`view` brought onto `item` (canonical) by the homography that lines their brightness up
    best (OpenCV's ECC, from no change): a picture photographed at an angle, skewed or
    distorted a little, or a region cut a few per cent off its item's box, is the item again.
    The pixels the view lacks are masked. None when ECC finds no such homography, or one that
    moves a corner more than MAX_WARP of the side (the freedom to bend one scene into
    another grows with it)."""
    picture = view.image.convert("RGB")
    if mirrored:
        picture = picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    query = canonical(picture)[..., 0]
    warp = np.eye(3, dtype=np.float32)
    try:
        _, warp = cv2.findTransformECC(
            np.ascontiguousarray(item[..., 0]),
            query,
            warp,
            cv2.MOTION_HOMOGRAPHY,
            ECC_STOP,
            None,
            1,
        )
    except cv2.error:  # ECC did not converge: no homography to undo
        return None
    n = CANONICAL_SIDE
    corners = np.float32([[0, 0], [n, 0], [n, n], [0, n]]).reshape(-1, 1, 2)
    moved = cv2.perspectiveTransform(corners, warp) - corners
    if np.abs(moved).max() > MAX_WARP * n:
        return None
    width, height = picture.size
    side = max(width, height)
    # Output pixels to the item's canonical frame, through the warp, to the view's pixels.
    to_view = np.diag([width / n, height / n, 1.0]) @ warp @ np.diag([n / side, n / side, 1.0])
    array = np.asarray(picture)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    back = cv2.warpPerspective(array, to_view, (side, side), flags=flags)
    inside = cv2.warpPerspective(
        np.full(array.shape[:2], 255, np.uint8), to_view, (side, side), flags=flags
    )
    inside = inside == 255
    cut = np.ascontiguousarray(~inside, dtype=np.uint8)
    painted = cv2.inpaint(back, cut, 3, cv2.INPAINT_TELEA) if cut.any() else back
    undone = ", ".join(part for part in (view.undone, "rectified (a homography)") if part)
    return View(undone, Image.fromarray(painted), mask=_canonical_mask(inside))


def border_fill(image: Image.Image) -> np.ndarray | None:
    """Where `image` holds fill rather than picture (FILL_SHARE), None when it has none."""
    array = np.asarray(image.convert("RGB")).astype(np.int16)
    for value in (0, 255):
        fill = (np.abs(array - value) <= FILL_TOLERANCE).all(axis=2).astype(np.uint8)
        _, labels = cv2.connectedComponents(fill, connectivity=4)
        edge = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        touching = np.isin(labels, np.unique(edge[edge > 0]))
        if FILL_SHARE[0] <= touching.mean() <= FILL_SHARE[1]:
            return touching
    return None


def _turn_matters(array: np.ndarray, view: View, report: Report, pixels: PixelLoader) -> bool:
    """Whether the turn is what brings the view near its copy: the same box (and mask) of the
    input not turned must be less similar by TURN_MARGIN. A scene of round or flat shapes
    looks much the same turned, and the box a grown canvas leaves zooms in: such a view can
    land on an item that the input is not a copy of, turned or not."""
    copy = report.copy
    height, width = array.shape[:2]
    still = Image.fromarray(array)
    if view.grown:
        box = _grown_box(width, height, abs(view.turn))
        still = still.crop(box)
    still = Image.fromarray(np.rot90(np.asarray(still), view.quarter))
    item = pixels(copy.candidate.file)
    plain = compare(canonical(still), item, min(still.size), view.mask)
    return 1.0 - plain.distance < copy.similarity - TURN_MARGIN


def _finer(array, view: View, report: Report, catalog, pixels, tight) -> tuple[View, Report]:
    """The turn within a step of ANGLES either side of `view`'s whose nearest candidate is the
    most similar: a copy turned between two angles of the search is as close as one on it."""
    best = (view, report)
    for step in FINE_STEPS:
        finer = turned_back(array, view.turn + step, view.grown)
        if finer is None:
            continue
        finer = finer.quartered(view.quarter)
        found = view_check(finer.image, catalog, pixels, tight, finer.mask)
        if found.compared and found.compared[0].similarity > best[1].compared[0].similarity:
            best = (finer, found)
    return best


def region_views(image: Image.Image, side: int) -> list[View]:
    """The regions of `image` that look like a picture pasted into it, best supported first,
    each cut out and brought down to at most `side` pixels a side: those found at
    REGION_SEARCH_SIDE, then those found only on the softer copies of SOFT_SIDES."""
    width, height = image.size
    rgb = image.convert("RGB")
    boxes: list[tuple[float, ...]] = []
    for search_side, limit in ((REGION_SEARCH_SIDE, REGIONS), *SOFT_SIDES):
        shrunk, scale = search_copy(image, search_side)
        found = []
        for box in _boxes(shrunk)[:limit]:
            refined = tuple(
                min(scale * edge, most)
                for edge, most in zip(
                    _refined(shrunk, box), (width, height, width, height), strict=True
                )
            )
            near = SAME_BOX * min(width, height)
            if not any(
                max(abs(a - b) for a, b in zip(refined, kept, strict=True)) <= near
                for kept in boxes
            ):
                found.append(refined)
        boxes += found
    views = []
    for left, top, right, bottom in boxes:
        # Cut at the edges found to a fraction of a pixel: the hashes of a box half a percent
        # off its item's take in a strip of what is around it and move several bits.
        w, h = right - left, bottom - top
        if min(w, h) < MIN_VIEW:
            continue
        # Never enlarged: the comparison judges a small region at its own size (copy_detection).
        fit = min(1.0, side / max(w, h))
        size = (max(1, round(w * fit)), max(1, round(h * fit)))
        region = rgb.resize(size, Image.Resampling.LANCZOS, box=(left, top, right, bottom))
        share = round(100 * w / width)
        views.append(View(f"region {share} % of the image at ({left:.0f}, {top:.0f})", region))
    return views


def turned_region_views(image: Image.Image, side: int, slants: list[float]) -> Iterator[View]:
    """The regions of `image` turned back by each of its `slants` (_slants), each with every
    quarter turn: a picture turned and then pasted (or turned on
    a grown canvas and pasted) has its sides along one direction, straight again once the
    input is turned back by it, where the region search finds its box."""
    rgb = np.asarray(image.convert("RGB"))
    for angle in slants:
        height, width = rgb.shape[:2]
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), angle, 1.0)
        cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
        size = (round(width * cos + height * sin), round(width * sin + height * cos))
        matrix[:, 2] += (size[0] - width) / 2, (size[1] - height) / 2
        back = cv2.warpAffine(rgb, matrix, size, flags=cv2.INTER_CUBIC)
        way = "clockwise" if angle < 0 else "anticlockwise"
        for view in region_views(Image.fromarray(back), side)[:TURNED_REGIONS]:
            for quarter in range(4):
                image_q = Image.fromarray(np.rot90(np.asarray(view.image), quarter))
                quarters = f", and {90 * quarter}° more" if quarter else ""
                yield View(f"turned back {abs(angle):.1f}° {way}{quarters}, {view.undone}", image_q)


def _slants(image: Image.Image) -> list[float]:
    """The directions (degrees, -45 to 45, 0 excluded) along which the input has the most
    length of long straight edges, strongest first; those with at least SLANT_SUPPORT sides of
    the smallest region of it. In OpenCV's sense: the input turned by one of them has those
    edges level or upright."""
    rgb, _ = search_copy(image, REGION_SEARCH_SIDE)
    grey = cv2.cvtColor(rgb.astype(np.uint8), cv2.COLOR_RGB2GRAY)
    shortest = MIN_REGION * min(grey.shape)
    segments = cv2.HoughLinesP(
        cv2.Canny(grey, 50, 150), 1, np.pi / 360, 40, minLineLength=shortest, maxLineGap=3
    )
    if segments is None:
        return []
    x0, y0, x1, y1 = segments.reshape(-1, 4).astype(np.float64).T
    length = np.hypot(x1 - x0, y1 - y0)
    direction = (np.degrees(np.arctan2(y1 - y0, x1 - x0)) + 45) % 90 - 45
    slanted = np.abs(direction) >= SLANT_FROM
    length, direction = length[slanted], direction[slanted]
    found = []
    while length.size and len(found) < TURNED_ANGLES:
        bins = np.bincount(np.round(direction + 45).astype(int), length, 91)
        peak = int(bins.argmax()) - 45
        near = np.abs(direction - peak) <= 1.5
        if length[near].sum() < SLANT_SUPPORT * shortest:
            break
        found.append(float(np.average(direction[near], weights=length[near])))
        length, direction = length[~near], direction[~near]
    return found


def _refined(rgb: np.ndarray, box: tuple[int, int, int, int]) -> tuple[float, ...]:
    """`box` with each side that is not the input's border moved to the step within REFINE
    pixels of it that runs along most of the side's middle (the strongest of those so
    covered), to a fraction of a pixel (a parabola through the step and its two
    neighbours). A pasted picture meets what is around it all along its side; a shape inside
    it near its edge, which may be the stronger step, only along part."""
    height, width = rgb.shape[:2]
    left, top, right, bottom = box
    inset_y, inset_x = (bottom - top) // 8, (right - left) // 8
    across = np.abs(np.diff(rgb[top + inset_y : bottom - inset_y], axis=1)).max(axis=2)
    down = np.abs(np.diff(rgb[:, left + inset_x : right - inset_x], axis=0)).max(axis=2).T
    return (
        _step(across, left, width),
        _step(down, top, height),
        _step(across, right, width),
        _step(down, bottom, height),
    )


def _step(steps: np.ndarray, at: int, extent: int) -> float:
    """`steps`: (position along the side, step index across it)."""
    if at in (0, extent):
        return float(at)
    strength = steps.mean(axis=0)
    covered = (steps >= EDGE_STEP).mean(axis=0)
    low, high = max(0, at - 1 - REFINE), min(strength.size, at + REFINE)
    k = low + int(np.lexsort((-strength[low:high], -np.round(covered[low:high], 1)))[0])
    if covered[k] < EDGE_SUPPORT:  # a side made up to square the box: no step to move it to
        return float(at)
    if 0 < k < strength.size - 1:
        before, peak, after = strength[k - 1], strength[k], strength[k + 1]
        curve = before - 2 * peak + after
        offset = 0.5 * (before - after) / curve if curve < 0 else 0.0
    else:
        offset = 0.0
    # Step k lies between pixels k and k + 1, at k + 1 in edge coordinates.
    return float(k + 1 + np.clip(offset, -0.5, 0.5))


def _boxes(rgb: np.ndarray) -> list[tuple[int, int, int, int]]:
    height, width = rgb.shape[:2]
    shortest = max(8, round(MIN_REGION * min(width, height)))
    # Edges between columns x and x + 1 (vertical lines) and rows y and y + 1 (horizontal).
    across = (np.abs(np.diff(rgb, axis=1)).max(axis=2) >= EDGE_STEP).astype(np.int32)
    down = (np.abs(np.diff(rgb, axis=0)).max(axis=2) >= EDGE_STEP).astype(np.int32)
    # Re-compression and resampling spread a step over two or three pixels, so a line's
    # support counts an edge a pixel either side of it.
    raw_columns = np.vstack([np.zeros((1, across.shape[1]), np.int32), across.cumsum(axis=0)])
    raw_rows = np.hstack([np.zeros((down.shape[0], 1), np.int32), down.cumsum(axis=1)])
    across = _widened(across, axis=1)
    down = _widened(down, axis=0)
    # Running sums along each line: a side's support is a difference of two.
    along_columns = np.vstack([np.zeros((1, across.shape[1]), np.int32), across.cumsum(axis=0)])
    along_rows = np.hstack([np.zeros((down.shape[0], 1), np.int32), down.cumsum(axis=1)])
    xs = _lines(along_columns, raw_columns, shortest, width)
    ys = _lines(along_rows.T, raw_rows.T, shortest, height)
    if len(xs) < 2 or len(ys) < 2:
        return []
    proposals = _proposals(xs, ys)
    boxes, squared = proposals[:, :4], proposals[:, 4]
    left, top, right, bottom = boxes.T
    w, h = right - left, bottom - top
    fits = (
        (left >= 0)
        & (top >= 0)
        & (right <= width)
        & (bottom <= height)
        & (np.minimum(w, h) >= shortest)
        & (np.maximum(w, h) <= MAX_ASPECT * np.minimum(w, h))
        & ((w < width) | (h < height))
    )
    boxes, squared = boxes[fits], squared[fits]
    left, top, right, bottom = boxes.T
    sides = np.stack(
        [
            _side(along_columns, left, top, bottom, width),
            _side(along_rows.T, top, left, right, height),
            _side(along_columns, right, top, bottom, width),
            _side(along_rows.T, bottom, left, right, height),
        ]
    )
    # A side made up to square the box is not asked for edges; such a box ranks after a box
    # of four found sides as well supported.
    made = np.flatnonzero(squared >= 0)
    sides[squared[made], made] = 1.0
    score = sides.min(axis=0) - SQUARED_PENALTY * (squared >= 0)
    order = np.lexsort((-sides.mean(axis=0), -score))
    chosen = [tuple(int(e) for e in boxes[k]) for k in order if score[k] >= EDGE_SUPPORT]
    return list(dict.fromkeys(chosen))[:REGIONS]


def _proposals(xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Boxes (left, top, right, bottom, squared side or -1): every pair of candidate columns
    with every pair of candidate rows; and, where a pasted picture meets something of its own
    colour along one side, every pair of one kind of line with each line of the other on one
    side, squared (side 0 to 3: left, top, right, bottom)."""
    x0, x1 = np.triu_indices(len(xs), 1)
    y0, y1 = np.triu_indices(len(ys), 1)
    grid_l, grid_t = np.meshgrid(xs[x0], ys[y0], indexing="ij")
    grid_r, grid_b = np.meshgrid(xs[x1], ys[y1], indexing="ij")
    parts = [np.stack([grid_l, grid_t, grid_r, grid_b, np.full_like(grid_l, -1)], -1)]
    pl, py = np.meshgrid(np.arange(x0.size), ys, indexing="ij")
    lx, rx, w = xs[x0][pl], xs[x1][pl], (xs[x1] - xs[x0])[pl]
    parts.append(np.stack([lx, py, rx, py + w, np.full_like(lx, 3)], -1))
    parts.append(np.stack([lx, py - w, rx, py, np.full_like(lx, 1)], -1))
    pt, px = np.meshgrid(np.arange(y0.size), xs, indexing="ij")
    t, b, h = ys[y0][pt], ys[y1][pt], (ys[y1] - ys[y0])[pt]
    parts.append(np.stack([px, t, px + h, b, np.full_like(t, 2)], -1))
    parts.append(np.stack([px - h, t, px, b, np.full_like(t, 0)], -1))
    return np.concatenate([part.reshape(-1, 5) for part in parts])


def _widened(edges: np.ndarray, axis: int) -> np.ndarray:
    wide = edges.copy()
    if axis == 1:
        wide[:, 1:] |= edges[:, :-1]
        wide[:, :-1] |= edges[:, 1:]
    else:
        wide[1:] |= edges[:-1]
        wide[:-1] |= edges[1:]
    return wide


def _lines(running: np.ndarray, raw: np.ndarray, shortest: int, extent: int) -> np.ndarray:
    """Candidate boundaries (0..extent) across `running` (running sums down each line of the
    widened edges; line k lies between pixels k and k + 1; `raw`: the same of the edges as
    found): the input's two borders, and the LINES lines that have the best covered stretch
    of `shortest` pixels, at least EDGE_SUPPORT covered, each the best of its neighbours on
    its own edges (the widened ones tie a line with its neighbours)."""
    best = (running[shortest:] - running[:-shortest]).max(axis=0) / shortest
    own = (raw[shortest:] - raw[:-shortest]).max(axis=0) + raw[-1] / (raw.shape[0] + 1)
    peak = own.copy()
    peak[1:] = np.maximum(peak[1:], own[:-1])
    peak[:-1] = np.maximum(peak[:-1], own[1:])
    chosen = np.flatnonzero((own >= peak) & (best >= EDGE_SUPPORT))
    # Many lines of a busy picture are fully covered over the shortest stretch: the longer
    # covered ones rank first among those.
    total = running[-1, chosen]
    chosen = chosen[np.lexsort((-total, -np.round(best[chosen], 1)))[:LINES]] + 1
    return np.unique(np.concatenate([[0, extent], chosen]))


def _side(running: np.ndarray, at: np.ndarray, start: np.ndarray, end: np.ndarray, extent: int):
    """Share of the side along boundary `at`, from `start` to `end`, that is edge; a border of
    the input counts as all edge."""
    at, start, end = np.broadcast_arrays(at, start, end)
    line = np.clip(at - 1, 0, running.shape[1] - 1)
    covered = running[end, line] - running[start, line]
    share = covered / np.maximum(end - start, 1)
    return np.where((at == 0) | (at == extent), 1.0, share)


def _quarters(view: View) -> list[View]:
    """`view` and its three quarter turns (View.quartered), each with its hashes."""
    queries = _quarter_queries(view.image)
    return [replace(view.quartered(quarter), queries=queries[quarter]) for quarter in range(4)]


def _quarter_queries(image: Image.Image) -> list[list[dict[str, int]]]:
    """The pHash and dHash (as imagehash computes them) of `image` and of its mirror image,
    for each quarter turn of it: from four resizes instead of sixteen, since resizing commutes
    with a half turn and a mirror. A quarter turn costs a search of the view's hashes and
    little more."""
    grey = image.convert("L")
    # PIL resizes across and then down through 8-bit values, so a resize commutes with a half
    # turn and a mirror exactly but not with a quarter turn: the odd ones resize the picture
    # turned a quarter.
    resized = [
        (
            np.asarray(upright.resize((32, 32), Image.Resampling.LANCZOS)),
            np.asarray(upright.resize((9, 8), Image.Resampling.LANCZOS)),
        )
        for upright in (grey, grey.transpose(Image.Transpose.ROTATE_90))
    ]
    found = []
    for quarter in range(4):
        square, wide = resized[quarter % 2]
        turned, across = np.rot90(square, quarter // 2 * 2), np.rot90(wide, quarter // 2 * 2)
        pair = []
        for picture, steps in ((turned, across), (turned[:, ::-1], across[:, ::-1])):
            low = scipy.fftpack.dct(scipy.fftpack.dct(picture, axis=0), axis=1)[:8, :8]
            pair.append(
                {
                    "phash": _bits(low > np.median(low)),
                    "dhash": _bits(steps[:, 1:] > steps[:, :-1]),
                }
            )
        found.append(pair)
    return found


def _bits(flags: np.ndarray) -> int:
    return int.from_bytes(np.packbits(flags.ravel()).tobytes(), "big")


def rotation_views(image: Image.Image, slants: list[float] = ()) -> Iterator[View]:
    """`image` turned back by each of ANGLES, either way, then those of them within SLANT_NEAR
    of undoing one of `slants` (the input's slanted edges, _slants) with one to three quarter
    turns more: the box an item turned on a grown canvas fills, and the whole input with the
    corners an item turned and cut lacks masked. An item turned by more than 45 degrees has its
    sides, or the corners cut off it, along such a slant; every quarter turn of every view
    (four times the views) compared four times the candidates on ordinary scenes of flat
    shapes, and refused more of them. The small turns come first: a view a quarter turn off its
    item's can land on another item of flat shapes."""
    array = np.asarray(image.convert("RGB"))
    views = []
    for angle in ANGLES:
        for turn in (angle, -angle):
            for grown in (True, False):
                view = turned_back(array, turn, grown)
                if view is not None:
                    views.append(view)
                    yield view
    slanted = [_quarters(view) for view in views if _undoes(view.turn, slants)]
    for quarter in range(1, 4):
        for turns in slanted:
            yield turns[quarter]


def _undoes(turn: float, slants: list[float]) -> bool:
    """Whether turning back by `turn` (a View's) levels edges along one of `slants` (OpenCV's
    sense, mod 90 degrees) to within SLANT_NEAR."""
    return any(abs((turn + slant + 45) % 90 - 45) <= SLANT_NEAR for slant in slants)


def turned_back(array: np.ndarray, turn: float, grown: bool) -> View | None:
    """The view of `array` (RGB) that undoes a turn by `turn` degrees anticlockwise (PIL's and
    OpenCV's sense), on a grown canvas or cut back; None when no picture fits the canvas."""
    height, width = array.shape[:2]
    way = "clockwise" if turn > 0 else "anticlockwise"
    named = f"turned back {abs(turn):g}° {way}"
    back = _turned(array, -turn)
    if grown:
        box = _grown_box(width, height, abs(turn))
        if box is None:
            return None
        return View(f"{named}, out of its grown canvas", Image.fromarray(back).crop(box), turn)
    inside = _turned(np.full((height, width), 255, np.uint8), -turn) == 255
    cut = np.ascontiguousarray(~inside, dtype=np.uint8)
    painted = cv2.inpaint(back, cut, 3, cv2.INPAINT_TELEA)
    return View(
        f"{named}, its corners cut", Image.fromarray(painted), turn, _canonical_mask(inside)
    )


def _turned(array: np.ndarray, degrees: float) -> np.ndarray:
    height, width = array.shape[:2]
    matrix = cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), degrees, 1.0)
    return cv2.warpAffine(
        array, matrix, (width, height), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT
    )


def _grown_box(width: int, height: int, angle: float) -> tuple[int, int, int, int] | None:
    """Where a picture turned by `angle` on a canvas grown to `width` x `height` lies once
    turned back: its width w and height h satisfy width = w cos + h sin, height = w sin +
    h cos."""
    cos, sin = math.cos(math.radians(angle)), math.sin(math.radians(angle))
    if angle < SQUARE_FROM:
        det = cos * cos - sin * sin
        w, h = (cos * width - sin * height) / det, (cos * height - sin * width) / det
    else:
        w = h = min(width, height) / (cos + sin)
    if min(w, h) < 8 or w > width or h > height:
        return None
    left, top = (width - w) / 2, (height - h) / 2
    return round(left), round(top), round(left + w), round(top + h)


def _canonical_mask(inside: np.ndarray) -> np.ndarray:
    shrunk = cv2.resize(
        inside.astype(np.float32), (CANONICAL_SIDE, CANONICAL_SIDE), interpolation=cv2.INTER_AREA
    )
    mask = (shrunk >= 1.0 - 1e-3).astype(np.uint8)
    kernel = np.ones((2 * MASK_MARGIN + 1, 2 * MASK_MARGIN + 1), np.uint8)
    return cv2.erode(mask, kernel, borderType=cv2.BORDER_REPLICATE).astype(np.float32)
