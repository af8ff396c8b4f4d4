"""Turned and cut views of an uploaded line drawing (plain module, numpy and OpenCV, no Django),
for the line check's second search (moderation.edge_copies.geometric_search). An item's edge
map turned by a few degrees, or a part of it enlarged back to full size, shares too few cells
with the item's lines for the first search; each view here undoes one such change, and puts the
upload's lines back where they would lie on the whole item, EDGE_SIDE square:

- turned back by one of TURNS (small turns either way, and quarter turns with small turns);
- shrunk to one of CROP_SHARES of the side and placed at a corner or the centre of the item, as
  given and mirrored (for the candidate search only: the precise stage compares the upload at
  its own size with the item's box enlarged, as the first search compares a centred crop).

Each view comes with the cells of the item that the upload shows (`valid`): a turned map lacks
the item's corners, a crop everything outside its box, and the item's lines there are not
missing from a copy. The grids are coarse (2 degrees, 4 % of the side) and the precise stage
refines the best views by half and quarter steps (`turned_view`, `cropped_view`)."""

from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from mintmark.line_drawings import EDGE_SIDE, pooled

# The upload's lines are brought to this side first, so that a 2 048 px upload costs what a
# 256 px one does (and the pooled lines are the same).
WORK_SIDE = 256
# bench/edge_copies.py's geometric_maps turn by 3 to 20 degrees, and quarter turns by 3 to 15
# more; a step of 2 degrees is at most 1 degree off, half a cell at the side of a 64 px mask,
# which the refinement halves twice.
SMALL_TURNS = tuple(sign * angle for angle in range(2, 21, 2) for sign in (1, -1))
QUARTER_TURNS = tuple(
    quarter + offset for quarter in (90, 180, 270) for offset in range(-16, 17, 2)
)
TURNS = SMALL_TURNS + QUARTER_TURNS
TURN_STEP = 2.0
# Crops of 50 to 90 % of the side (geometric_maps), in steps of 4 %: a crop 2 % off its box
# misplaces the box's far side by under a cell.
CROP_SHARES = tuple(round(0.5 + 0.04 * step, 2) for step in range(11))
CROP_STEP = 0.04
# Where a crop's box lies on the item, as a share of the free range: the four corners and the
# centre. A box elsewhere is reached only within the precise stage's shift (MAX_SHIFT cells).
CROP_PLACES = ((0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0), (0.5, 0.5))
# A turned map's blank corners meet the picture along a straight edge that Canny draws, and
# turned back it lies on the frame: the cells this near the frame or the blank corners are not
# compared.
TURN_MARGIN = 2


@dataclass(frozen=True)
class LineView:
    name: str
    mask: np.ndarray  # 0/1 uint8, EDGE_SIDE square: the upload's lines on the item's frame
    valid: np.ndarray  # 0/1 uint8, EDGE_SIDE square: the cells of the item the upload shows
    # A crop's upload at its own size (mirrored if the view is), for the precise stage.
    lines: np.ndarray | None = None
    turn: float | None = None
    share: float | None = None
    place: tuple[float, float] = (0.0, 0.0)
    mirrored: bool = False


def work_lines(binary: np.ndarray) -> np.ndarray:
    """An upload's binary lines (mintmark.line_drawings.line_binary) at WORK_SIDE (0/1 float32),
    a cell with any line being line."""
    density = cv2.resize(
        (binary > 0).astype(np.float32), (WORK_SIDE, WORK_SIDE), interpolation=cv2.INTER_AREA
    )
    return (density > 0).astype(np.float32)


def turned_view(work: np.ndarray, turn: float) -> LineView:
    """The upload turned by `turn` degrees (counter-clockwise), its frame's cells dropped."""
    centre = (WORK_SIDE - 1) / 2
    matrix = cv2.getRotationMatrix2D((centre, centre), turn, 1.0)
    size = (WORK_SIDE, WORK_SIDE)
    lines = cv2.warpAffine(work, matrix, size, flags=cv2.INTER_LINEAR, borderValue=0.0)
    shown = cv2.warpAffine(
        np.ones_like(work), matrix, size, flags=cv2.INTER_LINEAR, borderValue=0.0
    )
    shown = cv2.resize(shown, (EDGE_SIDE, EDGE_SIDE), interpolation=cv2.INTER_AREA) > 0.99
    # Eroding with a blank border drops the cells along the frame and along the blank corners.
    kernel = np.ones((2 * TURN_MARGIN + 1, 2 * TURN_MARGIN + 1), np.uint8)
    valid = cv2.erode(shown.astype(np.uint8), kernel, borderType=cv2.BORDER_CONSTANT, borderValue=0)
    mask = pooled((lines > 0.25).astype(np.uint8)) & valid
    return LineView(f"turned back {turn:g}°", mask, valid, turn=turn)


def cropped_view(
    work: np.ndarray, share: float, place: tuple[float, float], mirrored: bool
) -> LineView:
    """The upload shrunk to `share` of the side and placed at `place` of the free range."""
    lines = np.ascontiguousarray(work[:, ::-1]) if mirrored else work
    inner = max(1, round(EDGE_SIDE * share))
    left = round(place[0] * (EDGE_SIDE - inner))
    top = round(place[1] * (EDGE_SIDE - inner))
    mask = np.zeros((EDGE_SIDE, EDGE_SIDE), np.uint8)
    mask[top : top + inner, left : left + inner] = pooled(lines, inner)
    valid = np.zeros_like(mask)
    valid[top : top + inner, left : left + inner] = 1
    name = f"as a crop of {share:.0%} of the side" + (", mirrored" if mirrored else "")
    return LineView(name, mask, valid, pooled(lines), None, share, place, mirrored)


def geometric_views(work: np.ndarray) -> Iterator[LineView]:
    """Every turned and cut view of the grids (see the module docstring)."""
    for turn in TURNS:
        yield turned_view(work, turn)
    for mirrored in (False, True):
        for share in CROP_SHARES:
            for place in CROP_PLACES:
                yield cropped_view(work, share, place, mirrored)


def finer_views(work: np.ndarray, view: LineView, step: float) -> list[LineView]:
    """The views `step` grid steps either side of `view` (a half, then a quarter)."""
    if view.turn is not None:
        return [turned_view(work, view.turn + sign * step * TURN_STEP) for sign in (1, -1)]
    return [
        cropped_view(work, view.share + sign * step * CROP_STEP, view.place, view.mirrored)
        for sign in (1, -1)
    ]
