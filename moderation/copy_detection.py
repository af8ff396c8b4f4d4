"""The memorization gate's precise stage (plain module, numpy and OpenCV, no Django): how far an
image is from one training item, pixel by pixel, after undoing the ordinary handling a copy goes
through (another scale, re-compression, a small crop or shift, a mirror).

The measure follows Carlini et al. 2023 ("Extracting Training Data from Diffusion Models"): the
images are split into a 4 x 4 grid of tiles and the distance is the LARGEST per-tile RMS pixel
difference, so two images only count as close when every part of them is close; an ordinary
output that shares a flat background with a training item still differs by a whole tile where
its objects are. Perceptual hashes keep only the signs of a few low frequencies, which flip on
symmetric and flat images (the default model's posters 3 and 4 come out 6 to 22 pHash bits from
their items although a person sees the copy at once); pixels do not.

Both images are first brought to a canonical form: RGB, resampled with antialiasing to
CANONICAL_SIDE pixels a side (whatever their scale or aspect), then blurred a little, so JPEG
blocks and resampling differ less than real content does. A crop or shift is undone by
aligning the item to the image: for each zoom in ZOOMS, OpenCV's template matching finds the
translation (up to MAX_SHIFT pixels) at which the image's centre best fits the zoomed item, and
the tiles are compared over the part of the image that the item covers there. Distances are in
pixel units (0: identical, 1: black against white everywhere).

The input check's last look (`compare(..., tolerant=True)`) also undoes a change of tone and
leaves out a bounded covered part: the image's tone is fitted to the item's (a gain and an
offset per YCbCr channel, a gamma in luma; a one-hue image such as sepia by its luma alone),
and tiles that differ grossly (a caption bar, a sticker, text) are left out while at most
MAX_COVERED of them are and the rest hold MIN_DETAIL of the item's detail, so a picture that
only shares a plain background with an item does not pass for it."""

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

CANONICAL_SIDE = 64
GRID = 8
# Gaussian blur, in canonical pixels: enough to even out JPEG q50 blocks and resampling.
BLUR_SIGMA = 0.7
# Colour is compared more coarsely than brightness: JPEG keeps chroma at half resolution, so a
# small re-compressed copy smears colour across edges that its brightness keeps.
CHROMA_SIGMA = 1.5
# A crop keeps 1/zoom of each side; up to about a fifth cropped away is undone. The coarse
# zooms are tried first, then the best one is refined by REFINE steps either way. Only the same
# zoom across and down: letting them differ gave ordinary outputs of small shapes enough
# freedom to fit unrelated items (the closest of 96 went from 0.041 to 0.025).
ZOOMS = (1.0, 1.06, 1.12, 1.18, 1.24, 1.3)
REFINE = (-0.03, -0.015, 0.015, 0.03)
# Translations searched, in canonical pixels (about 9 % of a side).
MAX_SHIFT = 6
# The item must cover this share of the image at the alignment found; a copy that shows less of
# the item is not a copy this stage claims.
MIN_OVERLAP = 0.7
# Chroma of a grey pixel in YCbCr (128 of 255), and how far a greyscale image's chroma may
# stray from it (re-compression, resampling) and still count as greyscale.
NEUTRAL_CHROMA = 128 / 255
GREY_TOLERANCE = 2 / 255
# Images smaller than the canonical side are compared at their own side, but never below this.
MIN_SIDE = 24
# A masked comparison (a view whose corners were cut off) counts a tile when at least this share
# of it is picture: a sliver of picture in a corner tile is too few pixels to judge.
MASKED_TILE = 0.5
# The side of coarse_distance's arrays.
COARSE_SIDE = 8
# The tolerant comparison (tolerant_distance). Tone: the image is brought to the item's as
# item = a + b * image ** gamma in luma (gamma from GAMMAS, undoing a gamma of 0.6 to 1.7)
# and item = a_c + s * image in chroma (one s for both channels), each gain within
# TONE_GAINS: a veil of
# 40 % takes a gain of 1.7, a contrast cut of 40 % one of 1.7, a rise of 40 % one of 0.7.
GAMMAS = (0.6, 0.7, 0.8, 0.9, 1.0, 1.12, 1.25, 1.4, 1.6)
TONE_GAINS = (0.6, 3.0)
# Cover: a tile this far off (RMS) and COVERED_FACTOR times the median tile is covered (a
# caption bar, a sticker, text), and so is each tile joined to covered ones through tiles
# COVERED_EDGE off (where a cover's edge crosses a tile, or a cover of a colour near the
# picture's). They are left out up to MAX_COVERED of the tiles (a bar over a quarter of the
# side and the row it cuts into) while the tiles left hold MIN_DETAIL of the item's detail
# (its mean luma gradient): an ordinary picture that shares a plain background with an item
# differs from it exactly where the item's shapes are, so it never keeps enough of the
# item's detail; and a shape drawn a little differently (a star for a hexagon, 0.044 off) is
# no cover.
COVERED_TILE = 0.05
COVERED_EDGE = 0.03
COVERED_FACTOR = 3.0
MAX_COVERED = 0.4
MIN_DETAIL = 0.55
FITS = 4
# A tone fit needs tone to fit: an item whose luma varies less than this (RMS) is compared
# as it is.
MIN_TONE_SPREAD = 0.015
# Chroma of an image that holds one hue whatever its brightness (sepia, a duotone, a tinted
# greyscale): within this of a line through the neutral point, and no further than
# MONOCHROME_CHROMA from it (a sepia tone is pale; a yellow shape on white, also one hue, is
# a coloured picture whose colour must match).
MONOCHROME_TOLERANCE = 3 / 255
MONOCHROME_CHROMA = 0.12


def canonical(image: Image.Image) -> np.ndarray:
    """The image as float32 RGB in [0, 1], CANONICAL_SIDE square, lightly blurred."""
    rgb = ImageOps.exif_transpose(image).convert("RGB")
    small = rgb.resize((CANONICAL_SIDE, CANONICAL_SIDE), Image.Resampling.LANCZOS, reducing_gap=3)
    array = np.asarray(small.convert("YCbCr"), dtype=np.float32) / 255.0
    luma = cv2.GaussianBlur(array[..., 0], (0, 0), BLUR_SIGMA, borderType=cv2.BORDER_REFLECT)
    chroma = cv2.GaussianBlur(array[..., 1:], (0, 0), CHROMA_SIGMA, borderType=cv2.BORDER_REFLECT)
    return np.dstack([luma, chroma])


def mirrored(array: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(array[:, ::-1])


@dataclass(frozen=True)
class Alignment:
    distance: float  # largest tile RMS difference over the overlap
    zoom: tuple[float, float]  # across, down
    shift: tuple[int, int]  # (x, y) of the item's content relative to the image, canonical px
    overlap: float  # share of the image the item covers at this alignment


def tile_distance(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Largest RMS difference over a GRID x GRID split of two arrays of the same shape (tile
    means by area averaging, so sizes that GRID does not divide are split fairly). With a
    `mask` (1 where `a` holds picture), each tile's mean is over its masked pixels, and a tile
    less than MASKED_TILE masked is left out."""
    squared = np.ascontiguousarray(((a - b) ** 2).mean(axis=2))
    if mask is None:
        tiles = cv2.resize(squared, (GRID, GRID), interpolation=cv2.INTER_AREA)
        return float(tiles.max()) ** 0.5
    sums = cv2.resize(squared * mask, (GRID, GRID), interpolation=cv2.INTER_AREA)
    shares = cv2.resize(mask, (GRID, GRID), interpolation=cv2.INTER_AREA)
    counted = shares >= MASKED_TILE
    if not counted.any():
        return 1.0
    return float((sums[counted] / shares[counted]).max()) ** 0.5


def _zoomed(item: np.ndarray, zoom: float) -> np.ndarray:
    if zoom == 1.0:
        return item
    size = (round(item.shape[1] * zoom), round(item.shape[0] * zoom))
    return cv2.resize(item, size, interpolation=cv2.INTER_LINEAR)


def align(
    image: np.ndarray, item: np.ndarray, mask: np.ndarray | None = None, measure=tile_distance
) -> Alignment:
    """The best alignment of `item` (canonical) to `image` (canonical) over ZOOMS (refined)
    and shifts up to MAX_SHIFT, and the distance there by `measure` (tile_distance, or
    tolerant_distance), over `mask` when given. The identity is always tried, so an exact
    copy scores its plain distance."""
    best = Alignment(measure(image, item, mask), (1.0, 1.0), (0, 0), 1.0)
    for zoom in ZOOMS:
        best = _try(image, item, zoom, best, mask, measure)
    coarse = best.zoom[0]
    for step in REFINE:
        if coarse + step >= 1.0:
            best = _try(image, item, coarse + step, best, mask, measure)
    return best


def _try(
    image: np.ndarray,
    item: np.ndarray,
    zoom: float,
    best: Alignment,
    mask: np.ndarray | None,
    measure=tile_distance,
) -> Alignment:
    """`best`, or the alignment at `zoom` (best shift) when that one is closer."""
    n = image.shape[0]
    shift = max(1, round(MAX_SHIFT * n / CANONICAL_SIDE))
    template = image[shift : n - shift, shift : n - shift]
    zoomed = _zoomed(item, zoom)
    height, width = zoomed.shape[:2]
    # The image's centre is searched within the zoomed item's centre, so its corner lands
    # within MAX_SHIFT of where a centred crop would put it.
    mx0, my0 = (width - n) // 2, (height - n) // 2
    region = zoomed[my0 : my0 + n, mx0 : mx0 + n]
    if mask is None:
        scores = cv2.matchTemplate(region, template, cv2.TM_SQDIFF)
    else:
        inner = np.ascontiguousarray(mask[shift : n - shift, shift : n - shift])
        scores = cv2.matchTemplate(region, template, cv2.TM_SQDIFF, mask=inner)
    _, _, (mx, my), _ = cv2.minMaxLoc(scores)
    # The image's top-left corner sits at (left, top) in the zoomed item's coordinates.
    left, top = mx0 + mx - shift, my0 + my - shift
    x0, y0, x1, y1 = _overlap(n, width, height, left, top)
    if x1 <= x0 or y1 <= y0:
        return best
    overlap = (x1 - x0) * (y1 - y0) / (n * n)
    if overlap < MIN_OVERLAP:
        return best
    part = zoomed[top + y0 : top + y1, left + x0 : left + x1]
    kept = None if mask is None else np.ascontiguousarray(mask[y0:y1, x0:x1])
    distance = measure(image[y0:y1, x0:x1], part, kept)
    if distance < best.distance:
        return Alignment(distance, (zoom, zoom), (left - mx0, top - my0), overlap)
    return best


def _overlap(n: int, width: int, height: int, left: int, top: int) -> tuple[int, int, int, int]:
    """The box (x0, y0, x1, y1) of an n x n image that a width x height item covers when the
    image's top-left corner sits at (left, top) in the item's coordinates."""
    return max(0, -left), max(0, -top), min(n, width - left), min(n, height - top)


def aligned(
    image: np.ndarray, item: np.ndarray, alignment: Alignment
) -> tuple[np.ndarray, np.ndarray]:
    """The part of `image` (canonical) that `item` (canonical) covers at `alignment`, and that
    part of the item, zoomed: the pixels the alignment's distance was measured on."""
    zoomed = _zoomed(item, alignment.zoom[0])
    n = image.shape[0]
    height, width = zoomed.shape[:2]
    left = alignment.shift[0] + (width - n) // 2
    top = alignment.shift[1] + (height - n) // 2
    x0, y0, x1, y1 = _overlap(n, width, height, left, top)
    return image[y0:y1, x0:x1], zoomed[top + y0 : top + y1, left + x0 : left + x1]


def coarse_distance(image: np.ndarray, item: np.ndarray, mask: np.ndarray | None = None) -> float:
    """RMS difference of the two canonical arrays brought down to COARSE_SIDE a side (the
    closer of the image and its mirror image), over `mask` when given: a cheap bound that
    the views of an input use to skip candidates nothing near a copy of (a view lands within
    a few per cent of its item, which blurs away at this side)."""
    weights = np.ones(image.shape[:2], np.float32) if mask is None else mask
    best = 1.0
    for view, kept in ((image, weights), (mirrored(image), mirrored(weights))):
        share = cv2.resize(kept, (COARSE_SIDE, COARSE_SIDE), interpolation=cv2.INTER_AREA)
        counted = share >= MASKED_TILE
        if not counted.any():
            continue
        shown = cv2.resize(view * kept[..., None], (COARSE_SIDE,) * 2, interpolation=cv2.INTER_AREA)
        target = cv2.resize(
            item * kept[..., None], (COARSE_SIDE,) * 2, interpolation=cv2.INTER_AREA
        )
        difference = (shown - target)[counted] / share[counted][:, None]
        best = min(best, float(np.sqrt((difference**2).mean())))
    return best


def _colourless(image: np.ndarray, mask: np.ndarray | None = None) -> bool:
    """Whether a canonical image (its masked pixels) is greyscale: both chroma channels at
    their neutral value."""
    chroma = image[..., 1:] if mask is None else image[mask > 0][:, 1:]
    return chroma.size > 0 and float(np.abs(chroma - NEUTRAL_CHROMA).max()) <= GREY_TOLERANCE


def _luma_only(array: np.ndarray) -> np.ndarray:
    return np.repeat(array[..., :1], 3, axis=2)


@dataclass(frozen=True)
class Comparison:
    distance: float
    mirrored: bool
    alignment: Alignment


def compare(
    image: np.ndarray,
    item: np.ndarray,
    side: int = CANONICAL_SIDE,
    mask: np.ndarray | None = None,
    tolerant: bool = False,
) -> Comparison:
    """The closer of the image and its mirror image to the item (both canonical). `side`: the
    image's smaller side; `mask` (float32, canonical side, 1 where the image holds picture):
    only those pixels are compared, for a view of an input that has parts the input lacks
    (the corners of a picture turned back by a few degrees). An image smaller than the
    canonical side is compared at its own resolution, the item brought down to it, since the
    detail it lacks cannot be compared; its distance is then scaled by side / CANONICAL_SIDE,
    because re-compression and resampling errors grow as an image shrinks while a different
    picture stays different at any size. `tolerant`: judged by tolerant_distance (tone
    fitted, a covered share left out), the image first toned to the item as a whole so the
    alignment's template search sees the item's tone; a one-hue image by its luma."""
    if tolerant and mask is not None:
        raise ValueError("a tolerant comparison takes the whole image, no mask")
    if tolerant and float(item[..., 0].std()) < MIN_TONE_SPREAD:
        tolerant = False
    if _colourless(image, mask) or (tolerant and _monochrome(image, mask)):
        # A greyscale copy keeps the item's brightness but none of its colour: compared in
        # colour it is as far from its item as an unrelated picture, so compare brightness
        # alone (in the same units: each tile's distance is then its luma difference).
        image, item = _luma_only(image), _luma_only(item)
    scale = 1.0
    if side < CANONICAL_SIDE:
        small = max(side, MIN_SIDE)
        scale = small / CANONICAL_SIDE
        image = cv2.resize(image, (small, small), interpolation=cv2.INTER_AREA)
        item = cv2.resize(item, (small, small), interpolation=cv2.INTER_AREA)
        if mask is not None:
            shrunk = cv2.resize(mask, (small, small), interpolation=cv2.INTER_AREA)
            mask = (shrunk >= 1.0 - 1e-3).astype(np.float32)
    if tolerant:
        straight, flipped = _tolerant_align(image, item), _tolerant_align(mirrored(image), item)
    else:
        straight = align(image, item, mask)
        flipped = align(mirrored(image), item, None if mask is None else mirrored(mask))
    if flipped.distance < straight.distance:
        return Comparison(flipped.distance * scale, True, flipped)
    return Comparison(straight.distance * scale, False, straight)


def _tolerant_align(image: np.ndarray, item: np.ndarray) -> Alignment:
    """align() by tolerant_distance, the image first toned to the item as a whole and its
    covered tiles left out of the template search (a bar along one side pulls the best
    plain fit off by its depth)."""
    toned, _, covered = _fitted(image, item, GAMMAS)
    size = (image.shape[1], image.shape[0])
    guide = cv2.resize((~covered).astype(np.float32), size, interpolation=cv2.INTER_NEAREST)
    return align(toned, item, guide, _whole)


def _whole(image: np.ndarray, item: np.ndarray, guide: np.ndarray | None) -> float:
    # The guide steers the template search and the first tone fit only: every tile is judged.
    return tolerant_distance(image, item, guide)


def tolerant_distance(
    image: np.ndarray, item: np.ndarray, start: np.ndarray | None = None
) -> float:
    """The tile distance after the image's tone is fitted to the item's (a gain and an offset
    per channel) and with up to MAX_COVERED of the tiles left out where the image covers the
    item (COVERED_TILE), as long as the tiles left hold MIN_DETAIL of the item's detail.
    `start`: the pixels the first fit is made on (1 where the image is not covered)."""
    _, rms, covered = _fitted(image, item, (1.0,), start)
    detail = _detail(item)
    if covered.mean() > MAX_COVERED or detail[~covered].sum() < MIN_DETAIL * detail.sum():
        return float(rms.max())
    return float(rms[~covered].max())


def _fitted(
    image: np.ndarray, item: np.ndarray, gammas: tuple[float, ...], start: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The image toned to the item, its tiles' RMS distances and the tiles covered. The fit
    is made again without the covered tiles, whose pixels (a black bar, white text) pull it
    off the item's tone, until they stay the same (FITS at most: the first fit of an image
    with a bar finds only part of the bar). `start`: the pixels the first fit is made on."""
    fitting = np.ones(image.shape[:2], np.float32) if start is None else start
    covered = np.zeros((GRID, GRID), bool)
    for _ in range(FITS):
        toned, gains = _toned(image, item, fitting, gammas)
        # Measured in the units of the image or the item, whichever has more contrast: an
        # image toned down to an item (its gain under 1) would lose its own differences too.
        units = np.minimum(gains, 1.0)
        squared = (((toned - item) / units) ** 2).mean(axis=2)
        rms = np.sqrt(cv2.resize(squared, (GRID, GRID), interpolation=cv2.INTER_AREA))
        median = float(np.median(rms))
        found = rms > max(COVERED_TILE, COVERED_FACTOR * median)
        edge = rms > max(COVERED_EDGE, COVERED_FACTOR * median)
        for _ in range(GRID):
            near = cv2.dilate(found.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
            grown = found | (near & edge)
            if (grown == found).all():
                break
            found = grown
        if (found == covered).all():
            break
        covered = found
        open_tiles = (~covered).astype(np.float32)
        size = (image.shape[1], image.shape[0])
        fitting = cv2.resize(open_tiles, size, interpolation=cv2.INTER_NEAREST)
    return toned, rms, covered


def _toned(
    image: np.ndarray, item: np.ndarray, weights: np.ndarray, gammas: tuple[float, ...]
) -> tuple[np.ndarray, np.ndarray]:
    """The image brought to the item's tone over `weights`: luma a + b * y ** gamma (the
    gamma of `gammas` that fits best), chroma a_c + s * c with one gain s for both chroma
    channels; and the gains (b, s, s). A veil, a contrast or saturation change scales both
    chroma channels alike; gains of their own would recolour a scene of two flat colours into
    any other two (a red shape on blue into a yellow one on green)."""
    toned = np.empty_like(image)
    best = None
    for gamma in gammas:
        luma = image[..., 0] if gamma == 1.0 else np.maximum(image[..., 0], 0.0) ** gamma
        fitted, gain = _gained(luma[..., None], item[..., :1], weights)
        error = float((weights[..., None] * (fitted - item[..., :1]) ** 2).sum())
        if best is None or error < best[0]:
            best = (error, fitted, gain)
    toned[..., :1] = best[1]
    toned[..., 1:], saturation = _gained(image[..., 1:], item[..., 1:], weights)
    return toned, np.array([best[2], saturation, saturation], np.float32)


def _gained(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, float]:
    """a_c + b * x_c for each channel c of `x` (height, width, channels), the weighted
    least-squares fit to `y` with one gain b within TONE_GAINS and an offset a_c a channel;
    and b."""
    total = float(weights.sum())
    if total <= 0:
        return x, 1.0
    w = weights[..., None]
    mx, my = (w * x).sum(axis=(0, 1)) / total, (w * y).sum(axis=(0, 1)) / total
    spread = float((w * (x - mx) ** 2).sum())
    gain = float((w * (x - mx) * (y - my)).sum()) / spread if spread > 1e-9 else 1.0
    gain = min(max(gain, TONE_GAINS[0]), TONE_GAINS[1])
    return (my + gain * (x - mx)).astype(np.float32), gain


def _detail(item: np.ndarray) -> np.ndarray:
    """The item's mean luma gradient per tile (absolute, not squared: a few sharp edges would
    otherwise outweigh the rest of a busy picture)."""
    luma = item[..., 0]
    gradient = np.zeros_like(luma)
    gradient[:, 1:] += np.abs(np.diff(luma, axis=1))
    gradient[1:] += np.abs(np.diff(luma, axis=0))
    return cv2.resize(gradient, (GRID, GRID), interpolation=cv2.INTER_AREA)


def _monochrome(image: np.ndarray, mask: np.ndarray | None = None) -> bool:
    """Whether a canonical image's chroma keeps one hue (sepia, a duotone, a tinted
    greyscale): every pixel's chroma on one half-line from the neutral point."""
    chroma = (image[..., 1:] if mask is None else image[mask > 0][:, 1:]).reshape(-1, 2)
    chroma = chroma - NEUTRAL_CHROMA
    if chroma.size == 0:
        return False
    direction = chroma.mean(axis=0)
    norm = float(np.hypot(*direction))
    if norm <= GREY_TOLERANCE:
        return False
    direction /= norm
    along = chroma @ direction
    across = chroma @ np.array([-direction[1], direction[0]])
    return (
        float(np.abs(across).max()) <= MONOCHROME_TOLERANCE
        and float(along.min()) >= -MONOCHROME_TOLERANCE
        and float(along.max()) <= MONOCHROME_CHROMA
    )
