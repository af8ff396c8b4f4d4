"""Line drawings of images (plain module, numpy and OpenCV, no Django): the Canny lines of a
training item as the input check compares them, an uploaded line drawing brought to the same
form, and the coarse fingerprint of an item's lines that is kept with it when it is imported.
Here, not in moderation, because the licensing records compute the fingerprint at ingest and
core records import no feature app; moderation.edge_copies (the comparison) builds on it.

An item's lines: Canny at ITEM_WORK_SIDE pixels, once with loose thresholds joined with the
ControlNet defaults (`loose`: every line an attacker's thresholds could keep) and once with
strict ones (`strong`: the lines any edge map showing the item keeps). An upload: greyscale,
inverted when most of it is bright, binarised (Otsu), max-pooled to EDGE_SIDE and thinned."""

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

EDGE_SIDE = 64
ITEM_WORK_SIDE = 256
# The ControlNet paper's Canny thresholds (MIDDLE), looser ones an attacker might use, and the
# lines so salient that any edge map showing the item keeps them (STRONG).
MIDDLE_CANNY = (100, 200)
LOOSE_CANNY = (30, 90)
STRONG_CANNY = (200, 400)
# A low-contrast item has few or no lines that salient: its strong lines are then the first of
# these thresholds to give this share of the work image (a two-pixel outline of a small shape).
STRONG_FALLBACKS = (MIDDLE_CANNY, (50, 100), LOOSE_CANNY)
MIN_STRONG_SHARE = 0.005
# Share of a pooled cell that must be line for the cell to count (about one pixel of a 4 x 4
# cell: a one-pixel line at 256 px survives pooling, JPEG specks after binarising do not).
MIN_CELL_LINE = 0.04
COARSE_SIDE = 32
# A piece of line smaller than this share of the upload's side squared is a speck, not a
# stroke: 10 pixels of a 256 px edge map.
SPECK_SHARE = 10 / 256**2
MAX_SHIFT = 6

CROSS = cv2.getStructuringElement(cv2.MORPH_CROSS, (3, 3))
SQUARE = np.ones((3, 3), np.uint8)


def skeleton(mask: np.ndarray) -> np.ndarray:
    skeleton = np.zeros_like(mask)
    rest = mask
    while rest.any():
        # Outside the mask is background: OpenCV's default border counts it as line for an
        # erosion, so a mask that is line everywhere (a flat grey upload) would never shrink.
        eroded = cv2.erode(rest, CROSS, borderType=cv2.BORDER_CONSTANT, borderValue=0)
        skeleton |= rest & (1 - cv2.dilate(eroded, CROSS))
        rest = eroded
    return skeleton


def pooled(lines: np.ndarray, side: int = EDGE_SIDE, thin: bool = True) -> np.ndarray:
    """A binary line image (any size, 0/255 or 0/1) pooled to `side` pixels a side (0/1 uint8),
    thinned to its skeleton unless `thin` is false."""
    density = cv2.resize(
        lines.astype(np.float32) / max(float(lines.max()), 1.0),
        (side, side),
        interpolation=cv2.INTER_AREA,
    )
    mask = (density > MIN_CELL_LINE).astype(np.uint8)
    return skeleton(mask) if thin else mask


def line_mask(image: Image.Image) -> np.ndarray:
    """An uploaded line drawing as a one-pixel line mask, EDGE_SIDE square (0/1 uint8)."""
    return pooled(line_binary(image))


def line_binary(image: Image.Image) -> np.ndarray:
    """An uploaded line drawing's lines at its own size, before pooling (0/255 uint8)."""
    grey = np.asarray(image.convert("L"), dtype=np.uint8)
    # Line drawings are mostly background: a bright background means dark lines.
    if np.median(grey) > 127:
        grey = 255 - grey
    _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return _specks_removed(binary)


def _specks_removed(binary: np.ndarray) -> np.ndarray:
    """The binary image without its specks: pieces of line too small to be a stroke at any
    scale the check reads (under SPECK_SHARE of the image's side squared). Dots sprinkled over
    an edge map fill every pooled cell and hide its lines; Canny's and a trace's lines are
    connected strokes, far longer than that."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    limit = SPECK_SHARE * max(binary.shape) ** 2
    small = np.flatnonzero(stats[:, cv2.CC_STAT_AREA] < limit)
    small = small[small > 0]  # label 0 is the background
    if small.size == 0:
        return binary
    return np.where(np.isin(labels, small), 0, binary).astype(np.uint8)


@dataclass(frozen=True)
class ItemLines:
    """An item's Canny lines at ITEM_WORK_SIDE, bit-packed (8 KiB each): pooled again for each
    zoom tried, so a crop of the item is compared at the crop's own line width."""

    loose: np.ndarray
    strong: np.ndarray

    def at(self, zoom: float) -> tuple[np.ndarray, np.ndarray]:
        """The loose and strong masks of the item's centre 1/zoom, with MAX_SHIFT pixels of
        margin on every side: (EDGE_SIDE + 2 MAX_SHIFT) square."""
        work = ITEM_WORK_SIDE
        side = EDGE_SIDE + 2 * MAX_SHIFT
        half = work / zoom * side / EDGE_SIDE / 2
        low, high = round(work / 2 - half), round(work / 2 + half)
        pad = max(0, -low)
        loose, strong = (
            pooled(np.pad(lines, pad)[low + pad : high + pad, low + pad : high + pad], side, thin)
            for lines, thin in self._planes()
        )
        return loose, strong

    def region(self, share: float, place: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """As `at`, for the box `share` of the side at `place` of the free range (a crop at a
        corner, which `at`'s centred boxes do not reach). `at` keeps its own arithmetic: the
        first search's figures were measured with it."""
        work = ITEM_WORK_SIDE
        side = EDGE_SIDE + 2 * MAX_SHIFT
        half = work * share * side / EDGE_SIDE / 2
        box = work * share
        lows = [round(p * (work - box) + box / 2 - half) for p in place]
        span = round(2 * half)
        pad = max(0, -min(lows), max(low + span for low in lows) - work)
        x, y = lows[0] + pad, lows[1] + pad
        loose, strong = (
            pooled(np.pad(lines, pad)[y : y + span, x : x + span], side, thin)
            for lines, thin in self._planes()
        )
        return loose, strong

    def _planes(self) -> list[tuple[np.ndarray, bool]]:
        """The loose and strong lines unpacked at ITEM_WORK_SIDE, each with whether it is
        pooled thin."""
        work = ITEM_WORK_SIDE
        return [
            (np.unpackbits(packed)[: work * work].reshape(work, work), thin)
            for packed, thin in ((self.loose, False), (self.strong, True))
        ]


def item_lines(image: Image.Image) -> ItemLines:
    """A training item's lines (see the module docstring)."""
    grey = image.convert("L").resize((ITEM_WORK_SIDE, ITEM_WORK_SIDE), Image.Resampling.BICUBIC)
    pixels = np.asarray(grey, dtype=np.uint8)
    strong = cv2.Canny(pixels, *STRONG_CANNY)
    for thresholds in STRONG_FALLBACKS:
        if (strong > 0).mean() >= MIN_STRONG_SHARE:
            break
        strong = cv2.Canny(pixels, *thresholds)
    loose = cv2.Canny(pixels, *MIDDLE_CANNY) | cv2.Canny(pixels, *LOOSE_CANNY)
    return ItemLines(np.packbits(loose > 0), np.packbits(strong > 0))


def coarse(mask: np.ndarray, zoom: float = 1.0) -> np.ndarray:
    """The coarse bitmap of a mask; with a zoom, of the mask shrunk into the centre, as the
    whole item would look around a crop of it."""
    widened = cv2.dilate(mask, SQUARE).astype(np.float32)
    inner = round(COARSE_SIDE / zoom)
    small = np.zeros((COARSE_SIDE, COARSE_SIDE), dtype=bool)
    start = (COARSE_SIDE - inner) // 2
    small[start : start + inner, start : start + inner] = (
        cv2.resize(widened, (inner, inner), interpolation=cv2.INTER_AREA) > 0
    )
    return np.packbits(small.ravel()).view(">u8").astype(np.uint64)


def edge_fingerprint(image: Image.Image) -> str:
    """What is kept with a training item: the coarse bitmap of its loose lines, as hex."""
    lines = item_lines(image)
    work = ITEM_WORK_SIDE
    loose = pooled(np.unpackbits(lines.loose)[: work * work].reshape(work, work), thin=False)
    return "".join(f"{int(word):016x}" for word in coarse(loose))
