"""Views of an input image that find a training item hidden in it (plain module, numpy and
OpenCV, no Django): the item pasted into a bigger picture (a collage, a print on a wall), or
turned by an angle that is not a quarter turn, its canvas grown to hold it or cut back to the
original size. The input check (moderation.input_check) searches each view at the tight hash
radius and compares its candidates pixel by pixel, as it does its other views.

Regions. Perceptual hashes of a window are only near its item's when the window is the item's
box to within about 1 % of its side (2 % off moves them 10 bits on a busy canvas), so sliding
windows would need tens of thousands of them. A pasted picture has straight edges where it
meets what is around it: the search finds long horizontal and vertical edge runs and proposes
the boxes that have an edge along each side (or the border of the input), the best
REGIONS of them, each cut from the input at its own size.

Angles. The input is turned back by each angle of ANGLES, both ways. An item turned on a
grown canvas is then upright in the middle, whole: the view is the box it fills. An item turned
and cut back to its size is upright but lacks its corners: the view is the whole input turned
back, its missing corners painted in from their edges for the hashes and left out of the pixel
comparison (a mask). The angles are 2 degrees apart: 1 degree off moves a 64 px item's corner
under a pixel, which the hashes and the comparison take."""

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from moderation.copy_detection import CANONICAL_SIDE, canonical, compare
from moderation.memorization import (
    HashCatalog,
    PixelLoader,
    Report,
    memorization_check,
    search_copy,
    view_check,
)

# Regions are looked for on the input shrunk to at most this side: a box found there is within
# a pixel, under 1 % of the side of the smallest region searched (a quarter of 512).
REGION_SEARCH_SIDE = 512
# A step of this much (0-255, largest over the colour channels) between two neighbouring
# pixels is an edge.
EDGE_STEP = 16
# A box side counts when edges run along this share of it; a line is a candidate when some
# stretch of it as long as the smallest region is so covered.
EDGE_SUPPORT = 0.6
# Regions searched: a side from this share of the input's smaller side, boxes up to this
# aspect ratio, and not the whole input (the plain check judges that).
MIN_REGION = 0.2
MAX_ASPECT = 2.0
# Candidate lines kept each way (the best supported, after keeping one of each run of
# neighbouring ones), and boxes searched.
LINES = 24
REGIONS = 64
# How far a box with a side made up to square it ranks below one with four sides found.
SQUARED_PENALTY = 0.05
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


@dataclass(frozen=True)
class View:
    undone: str  # what the view undoes, for the reason and the refusal
    image: Image.Image
    turn: float | None = None  # the turn undone, degrees anticlockwise
    # Canonical-size float32 mask of the pixels that hold the input's picture, None for all.
    mask: np.ndarray | None = None

    @property
    def grown(self) -> bool:
        return self.turn is not None and self.mask is None


def hidden_item_report(
    image: Image.Image,
    small: Image.Image,
    catalog: HashCatalog,
    pixels: PixelLoader,
    rules,
    tight,
) -> tuple[Report, str] | None:
    """The first view of `image` that finds a copy, with what it undid, or None: its regions
    (cut from `image`, brought down to `small`'s size) and `small` (a small copy of it) turned
    back. Each view is searched under `tight` (the input check's rules for views: the tight
    radius, few candidates); one that finds a copy there is judged again under `rules` (the
    policy's), whose wide search brings the neighbours a copy must stand out from: with a few
    candidates a view of a plain scene stands out from none, and over a hundred views a few
    such scenes land near an item."""
    side = max(small.size)
    array = np.asarray(small.convert("RGB"))
    views = itertools.chain(region_views(image, side), rotation_views(small))
    for view in views:
        report = view_check(view.image, catalog, pixels, tight, view.mask)
        if not report.compared:
            continue
        if view.turn is not None and report.compared[0].similarity >= REFINE_FROM:
            view, report = _finer(array, view, report, catalog, pixels, tight)
        if report.copy is None:
            continue
        confirmed = memorization_check(view.image, catalog, pixels, rules, view.mask)
        if confirmed.copy is None:
            continue
        if view.turn is not None and not _turn_matters(array, view, confirmed, pixels):
            continue
        return confirmed, view.undone
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
        found = view_check(finer.image, catalog, pixels, tight, finer.mask)
        if found.compared and found.compared[0].similarity > best[1].compared[0].similarity:
            best = (finer, found)
    return best


def region_views(image: Image.Image, side: int) -> list[View]:
    """The regions of `image` that look like a picture pasted into it, best supported first,
    each cut out and brought down to at most `side` pixels a side."""
    width, height = image.size
    rgb, scale = search_copy(image, REGION_SEARCH_SIDE)
    views = []
    for box in _boxes(rgb):
        left, top, right, bottom = (
            min(scale * edge, most)
            for edge, most in zip(_refined(rgb, box), (width, height, width, height), strict=True)
        )
        # Cut at the edges found to a fraction of a pixel: the hashes of a box half a percent
        # off its item's take in a strip of what is around it and move several bits.
        w, h = right - left, bottom - top
        if min(w, h) < MIN_VIEW:
            continue
        # Never enlarged: the comparison judges a small region at its own size (copy_detection).
        fit = min(1.0, side / max(w, h))
        size = (max(1, round(w * fit)), max(1, round(h * fit)))
        region = image.convert("RGB").resize(
            size, Image.Resampling.LANCZOS, box=(left, top, right, bottom)
        )
        share = round(100 * w / width)
        views.append(View(f"region {share} % of the image at ({left:.0f}, {top:.0f})", region))
    return views


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


def rotation_views(image: Image.Image) -> Iterator[View]:
    """`image` turned back by each of ANGLES, either way: the box an item turned on a grown
    canvas fills, and the whole input with the corners an item turned and cut lacks masked."""
    array = np.asarray(image.convert("RGB"))
    for angle in ANGLES:
        for turn in (angle, -angle):
            for grown in (True, False):
                view = turned_back(array, turn, grown)
                if view is not None:
                    yield view


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
