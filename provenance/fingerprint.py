"""Fingerprints of released images that survive crops, small rotations and tone changes, and
that tell apart the look-alike outputs of one model (plain module: numpy, OpenCV, Pillow).

Perceptual hashes alone could do neither: a 64-bit pHash moves by more than its match radius
under a 20 % crop, and the default model's outputs (a few flat shapes on a near-white
background) are so alike that 13.6 % of never-released outputs fell within that radius of some
released image (bench/README.md, "Watermark robustness"). So, as in the memorization check,
nothing is decided on a summary; there are two stages:

1. Candidates. Each released image registers its THUMBNAIL (its pixels, the longer side SIDE
   px) and WINDOWS: small zero-mean unit vectors of the thumbnail's luma over the whole image
   and over the parts that a crop keeping 90 % or 80 % of each side leaves (centred and at the
   four corners). A query's vector, and its mirror image's, is compared with every window by
   cosine; each image scores its best window, and the LIMIT best images scoring at least FLOOR
   are candidates. This only ranks; it decides nothing.
2. Confirmation, candidate by candidate until one holds. The query is taken to be a crop of
   the candidate: for each zoom in ZOOMS (the candidate's thumbnail scaled so that the query
   covers 1/zoom of it: up to about a fifth cut from each side) the query's best position is
   found by OpenCV's normalised template matching on luma (blind to brightness and contrast);
   from the best of them OpenCV's ECC refines an affine warp (the sub-pixel shift, the scale
   between zoom steps, a small rotation). There the candidate's tone is fitted to the query's
   (`_tone_matched`) and the LARGEST per-tile RMS difference over a GRID x GRID split is the
   distance (Carlini et al. 2023's measure: every part must agree, so a look-alike that
   differs only where its one small shape is still comes out far).
3. Decision. At or under ALONE_DISTANCE the pixels alone identify the query. Further out, up
   to MAX_DISTANCE, pixels cannot decide: the default model draws near-copies of its own
   outputs from other seeds (the same shape, colour and place on the same background), and
   8 of 10 000 never-released outputs came within 0.020-0.040 of a released image, closer
   than some 20 % crops of the released image itself. What sets a released image apart from
   its never-released twin is its watermark, which a crop moves out of the frame the blind
   read needs; so there the query is identified only when it carries the candidate's
   watermark where the confirmation placed it (`refined_placement`, then
   `watermark.placed_agreement`: at least MARKED's count of the payload's 155 code bits, which
   an unmarked image reaches by chance with the probability `watermark.placed_false_rate`).

Distances are in pixel units of [0, 1]. The thresholds are measured on default-model outputs
(bench/watermark_default_model.py): attacked copies against never-released outputs."""

import io
from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image, ImageOps

METHOD = "org.mintmark.fingerprint.v1"
SIDE = 64
# Registered thumbnails are kept at twice the comparison side, so that the confirmation
# shrinks them to the query's scale instead of enlarging them (enlarging blurs: a 20 % crop
# then differed from its own source as much as some look-alikes did).
THUMBNAIL_SIDE = 128
# Window vectors: VECTOR x VECTOR luma samples.
VECTOR = 16
KEEPS = (0.9, 0.8)
LIMIT = 12
FLOOR = 0.6
ZOOMS = tuple(1.0 + 0.025 * i for i in range(11))  # query covers 1/zoom: crops up to ~23 %
ECC_STEPS = 50
# The refined warp may differ from the zoom step it started at by this much (scale, shear or
# rotation: 0.06 is about 3.4 degrees).
MAX_WARP = 0.06
GAIN = (0.8, 1.25)
LUMA_OFFSET = 0.08
GRID = 16
BLUR_SIGMA = 0.5
CHROMA_SIGMA = 1.5
# Identified by the pixels alone: below the closest never-released default-model output seen
# against 2 250 released images (0.020, bench/watermark_default_model.json).
ALONE_DISTANCE = 0.012
# Beyond it, identified only when the copy also carries the candidate's watermark where the
# confirmation placed it: (up to this distance, at least this many of the 155 code bits). An
# unmarked image agrees on each bit by chance (watermark.placed_false_rate: 1.9e-4 for 100,
# 1.4e-8 for 112); the stricter count covers the wider band, where far more never-released
# images have a candidate (1 % within 0.078), the looser one the band where only near-copies
# of a released image come (8 in 10 000).
MARKED = ((0.04, 100), (0.07, 112))
MAX_DISTANCE = MARKED[-1][0]


@dataclass(frozen=True)
class Registration:
    """What the registry keeps of one released image."""

    thumbnail: bytes  # PNG, the longer side THUMBNAIL_SIDE px
    windows: bytes  # float16 (len(window_boxes), VECTOR * VECTOR)


@dataclass(frozen=True)
class Query:
    pixels: np.ndarray  # prepared (float32 YCbCr, blurred), the longer side SIDE
    vectors: np.ndarray  # (2, VECTOR * VECTOR): the image and its mirror image
    image: Image.Image  # as given, for placing it finely (refined_placement)


@dataclass(frozen=True)
class Confirmation:
    distance: float
    zoom: float  # the query covers about 1/zoom of the released image's width and height
    mirrored: bool
    # Where the released image lies in the query: a 2 x 3 affine map from the released image's
    # coordinates to the query's, both axes in [0, 1] (for a placed watermark read).
    placement: np.ndarray


@dataclass(frozen=True)
class Identified:
    key: str
    score: float  # the candidate's window cosine
    confirmation: Confirmation
    candidates: int
    # The watermark's code bits (of its 155) that the query carries where the
    # confirmation placed it; None when the pixels alone identified it (ALONE_DISTANCE).
    agreement: int | None


def _thumbnail(image: Image.Image, side: int) -> np.ndarray:
    """uint8 RGB, the longer side `side`, by area averaging: the same filter as the
    confirmation's own rescaling, so a copy at the same scale resamples the same way."""
    rgb = np.asarray(ImageOps.exif_transpose(image).convert("RGB"))
    scale = side / max(rgb.shape[:2])
    size = (max(1, round(rgb.shape[1] * scale)), max(1, round(rgb.shape[0] * scale)))
    return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)


def _prepared(rgb: np.ndarray) -> np.ndarray:
    """float32 RGB in [0, 1] as luma and chroma, lightly blurred (chroma more: JPEG keeps it
    at half resolution), so that re-compression and resampling differ less than content."""
    array = cv2.cvtColor(rgb, cv2.COLOR_RGB2YCrCb)
    luma = cv2.GaussianBlur(array[..., 0], (0, 0), BLUR_SIGMA, borderType=cv2.BORDER_REFLECT)
    chroma = cv2.GaussianBlur(array[..., 1:], (0, 0), CHROMA_SIGMA, borderType=cv2.BORDER_REFLECT)
    return np.dstack([luma, chroma])


def _floats(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(np.float32) / 255.0


def _vector(luma: np.ndarray) -> np.ndarray:
    small = cv2.resize(luma, (VECTOR, VECTOR), interpolation=cv2.INTER_AREA).ravel()
    small = small - small.mean()
    norm = float(np.linalg.norm(small))
    return small / norm if norm > 1e-6 else small


def window_boxes(width: int, height: int) -> list[tuple[int, int, int, int]]:
    boxes = [(0, 0, width, height)]
    for keep in KEEPS:
        w, h = round(width * keep), round(height * keep)
        for x, y in (
            ((width - w) // 2, (height - h) // 2),
            (0, 0),
            (width - w, 0),
            (0, height - h),
            (width - w, height - h),
        ):
            boxes.append((x, y, x + w, y + h))
    return boxes


def register(image: Image.Image) -> Registration:
    thumb = _thumbnail(image, THUMBNAIL_SIDE)
    small = _floats(thumb)
    side = (max(1, round(thumb.shape[1] / 2)), max(1, round(thumb.shape[0] / 2)))
    luma = _prepared(cv2.resize(small, side, interpolation=cv2.INTER_AREA))[..., 0]
    boxes = window_boxes(luma.shape[1], luma.shape[0])
    vectors = np.stack([_vector(luma[y0:y1, x0:x1]) for x0, y0, x1, y1 in boxes])
    buffer = io.BytesIO()
    Image.fromarray(thumb).save(buffer, "PNG")
    return Registration(buffer.getvalue(), vectors.astype(np.float16).tobytes())


def query(image: Image.Image) -> Query:
    pixels = _prepared(_floats(_thumbnail(image, SIDE)))
    luma = pixels[..., 0]
    return Query(pixels, np.stack([_vector(luma), _vector(luma[:, ::-1])]), image)


class Index:
    """Every registered image's windows, for the candidate stage. Immutable: `extended` gives a
    new index, so a reader in another thread never sees one half-updated."""

    def __init__(self, entries: list[tuple[str, bytes]] = ()) -> None:
        per = len(window_boxes(SIDE, SIDE))
        self.keys = [key for key, _ in entries]
        self._entries = list(entries)
        vectors = [np.frombuffer(w, np.float16).reshape(per, -1) for _, w in self._entries]
        shape = (0, per, VECTOR * VECTOR)
        self._windows = np.stack(vectors).astype(np.float32) if vectors else np.zeros(shape)

    def __len__(self) -> int:
        return len(self.keys)

    def extended(self, entries: list[tuple[str, bytes]]) -> "Index":
        return Index(self._entries + list(entries))

    def candidates(self, q: Query, limit: int = LIMIT) -> list[tuple[str, float, bool]]:
        """The `limit` registered images whose best window is most like the query or its
        mirror image, best first, each with that cosine and whether the mirror image scored
        it; only those at FLOOR or above."""
        if not self.keys:
            return []
        per = (self._windows @ q.vectors.T).max(axis=1)  # (images, orientation)
        scores = per.max(axis=1)
        order = np.argsort(-scores, kind="stable")[:limit]
        return [
            (self.keys[i], float(scores[i]), bool(per[i, 1] > per[i, 0]))
            for i in order
            if scores[i] >= FLOOR
        ]


def _tile_distance(a: np.ndarray, b: np.ndarray) -> float:
    squared = np.ascontiguousarray(((a - b) ** 2).mean(axis=2))
    tiles = cv2.resize(squared, (GRID, GRID), interpolation=cv2.INTER_AREA)
    return float(tiles.max()) ** 0.5


def _tone_matched(part: np.ndarray, target: np.ndarray) -> np.ndarray:
    """`part` with its tone fitted to `target` by least squares, as a brightness or contrast
    change moves it: luma by a gain and an offset, chroma by a gain about neutral (such a change
    scales colour differences but never adds a tint). Gains stay within GAIN and the luma
    offset within LUMA_OFFSET, so a white background cannot be fitted onto a beige one."""
    out = np.empty_like(part)
    x, y = part[..., 0].ravel(), target[..., 0].ravel()
    var = float(x.var())
    gain = float(np.mean((x - x.mean()) * (y - y.mean()))) / var if var > 1e-8 else 1.0
    gain = min(max(gain, GAIN[0]), GAIN[1])
    offset = float(y.mean()) - gain * float(x.mean())
    offset = min(max(offset, -LUMA_OFFSET), LUMA_OFFSET)
    out[..., 0] = gain * part[..., 0] + offset
    x, y = part[..., 1:].ravel() - 0.5, target[..., 1:].ravel() - 0.5
    power = float(np.dot(x, x))
    gain = float(np.dot(x, y)) / power if power > 1e-8 else 1.0
    gain = min(max(gain, GAIN[0]), GAIN[1])
    out[..., 1:] = 0.5 + gain * (part[..., 1:] - 0.5)
    return out


def _placed(item: np.ndarray, q: np.ndarray, zoom: float):
    """The item scaled so the query covers 1/zoom of it, and the best whole-pixel position of
    the query in it by normalised correlation on luma (blind to brightness and contrast)."""
    qh, qw = q.shape[:2]
    ih, iw = item.shape[:2]
    scale = zoom * max(qw / iw, qh / ih)
    size = (max(qw, round(iw * scale)), max(qh, round(ih * scale)))
    scaled = _prepared(cv2.resize(item, size, interpolation=cv2.INTER_AREA))
    scores = cv2.matchTemplate(scaled[..., 0], q[..., 0], cv2.TM_CCOEFF_NORMED)
    _, best, _, (x, y) = cv2.minMaxLoc(scores)
    return best, scaled, (x, y)


def _refined(scaled: np.ndarray, q: np.ndarray, at: tuple[int, int]) -> np.ndarray:
    """The warp from the query's pixels to `scaled`'s after refining the whole-pixel placement
    to an affine warp (sub-pixel shift, the scale between zoom steps, a small rotation) by
    OpenCV's ECC, which is also blind to brightness and contrast; the plain shift when ECC does
    not converge or strays far."""
    shift = np.array([[1.0, 0.0, at[0]], [0.0, 1.0, at[1]]], np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_STEPS, 1e-4)
    try:
        _, warp = cv2.findTransformECC(
            q[..., 0], scaled[..., 0], shift.copy(), cv2.MOTION_AFFINE, criteria, None, 1
        )
    except cv2.error:
        return shift
    if np.abs(warp[:, :2] - np.eye(2)).max() > MAX_WARP:
        return shift
    return warp


def _placement(warp: np.ndarray, scaled: tuple[int, int], query: tuple[int, int], mirrored):
    """The released image's coordinates in [0, 1] mapped to the query's: onto `scaled`'s pixels
    (pixel i's centre at (i + 0.5) / size, as area resizing places it), through the inverse of
    the query-to-scaled warp, to the query's [0, 1], mirrored back when the query was."""
    (sh, sw), (qh, qw) = scaled, query
    to_scaled = np.array([[sw, 0.0, -0.5], [0.0, sh, -0.5], [0.0, 0.0, 1.0]])
    to_query = np.linalg.inv(np.vstack([warp.astype(np.float64), [0.0, 0.0, 1.0]]))
    normal = np.array([[1.0 / qw, 0.0, 0.5 / qw], [0.0, 1.0 / qh, 0.5 / qh], [0.0, 0.0, 1.0]])
    out = normal @ to_query @ to_scaled
    if mirrored:
        out = np.array([[-1.0, 0.0, 1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]) @ out
    return out[:2]


def _confirm_one(item: np.ndarray, q: np.ndarray, mirrored: bool) -> Confirmation:
    zoom, (_, scaled, at) = max(
        ((zoom, _placed(item, q, zoom)) for zoom in ZOOMS), key=lambda p: p[1][0]
    )
    qh, qw = q.shape[:2]
    warp = _refined(scaled, q, at)
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    part = cv2.warpAffine(scaled, warp, (qw, qh), flags=flags, borderMode=cv2.BORDER_REFLECT)
    placement = _placement(warp, scaled.shape[:2], (qh, qw), mirrored)
    return Confirmation(_tile_distance(_tone_matched(part, q), q), zoom, mirrored, placement)


def confirm(q: Query, thumbnail: bytes, mirrored: bool) -> Confirmation:
    """How close the query (or its mirror image) is to one registered image, after undoing
    crop, scale, a small rotation and tone."""
    item = _floats(np.asarray(Image.open(io.BytesIO(thumbnail)).convert("RGB")))
    pixels = np.ascontiguousarray(q.pixels[:, ::-1]) if mirrored else q.pixels
    return _confirm_one(item, pixels, mirrored)


def _homogeneous(affine: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(affine, np.float64), [0.0, 0.0, 1.0]])


def refined_placement(image: Image.Image, host: np.ndarray, placement: np.ndarray) -> np.ndarray:
    """`placement` refined at the registered thumbnail's resolution (twice the confirmation's,
    and the whole released image rather than the query's frame): the query's luma resampled
    onto the released image's frame at the thumbnail's size, then OpenCV's ECC finds the affine
    correction that best lays it on the thumbnail, over the part the query covers. A watermark
    read needs this: an image with little structure (one flat shape) lets the confirmation's
    warp drift a few per cent in scale at little pixel cost, which moves the mark's finest
    waves by a whole period at the edges. The placement is kept when ECC fails or strays."""
    th, tw = host.shape[:2]
    thumb = _prepared(_floats(host))[..., 0]
    luma = _prepared(_floats(np.asarray(ImageOps.exif_transpose(image).convert("RGB"))))[..., 0]
    h, w = luma.shape
    # Query pixels per thumbnail pixel: above 1 the query is first shrunk by area averaging.
    step = float(np.sqrt(abs(np.linalg.det(placement[:, :2] * [[w], [h]])) / (tw * th)))
    if step > 1.0:
        size = (max(1, round(w / step)), max(1, round(h / step)))
        luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
        h, w = luma.shape
    to_unit = np.array([[1.0 / tw, 0.0, 0.5 / tw], [0.0, 1.0 / th, 0.5 / th], [0.0, 0.0, 1.0]])
    to_pixels = np.array([[w, 0.0, -0.5], [0.0, h, -0.5], [0.0, 0.0, 1.0]])
    grid = to_pixels @ _homogeneous(placement) @ to_unit  # thumbnail pixels -> query pixels
    xs, ys = np.meshgrid(np.arange(tw, dtype=np.float64), np.arange(th, dtype=np.float64))
    mx = grid[0, 0] * xs + grid[0, 1] * ys + grid[0, 2]
    my = grid[1, 0] * xs + grid[1, 1] * ys + grid[1, 2]
    inside = (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    resampled = cv2.remap(
        luma,
        mx.astype(np.float32),
        my.astype(np.float32),
        cv2.INTER_LINEAR,
        None,
        cv2.BORDER_REPLICATE,
    )
    warp = np.eye(2, 3, dtype=np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, ECC_STEPS, 1e-5)
    try:
        _, warp = cv2.findTransformECC(
            resampled, thumb, warp, cv2.MOTION_AFFINE, criteria, inside.astype(np.uint8), 1
        )
    except cv2.error:
        return placement
    if np.abs(warp[:, :2] - np.eye(2)).max() > MAX_WARP:
        return placement
    # resampled(x) = query(grid x) ~ thumbnail(warp x): the query's pixel grid x shows the
    # thumbnail's pixel warp x, so the released image's pixel y lies at grid warp^-1 y.
    corrected = grid @ np.linalg.inv(_homogeneous(warp))
    return (np.linalg.inv(to_pixels) @ corrected @ np.linalg.inv(to_unit))[:2]


def needed_agreement(distance: float) -> int | None:
    """How many of the watermark's code bits a copy at this pixel distance must carry where the
    fingerprint placed it (`watermark.placed_agreement`) to be identified: 0 within
    ALONE_DISTANCE (the pixels alone decide), None beyond the last of MARKED."""
    if distance <= ALONE_DISTANCE:
        return 0
    return next((bits for limit, bits in MARKED if distance <= limit), None)


def identify(q: Query, index: Index, thumbnails, marked=None) -> Identified | None:
    """The registered image the query is a copy of, or None: the first candidate, in the
    candidate stage's order (in the orientation that found it), that is within ALONE_DISTANCE,
    or within a MARKED distance and carries that candidate's watermark where the confirmation
    placed it. `thumbnails(keys)` returns the registered thumbnails of those keys (a dict);
    `marked(key, placement, thumbnail)` the code bits of that key's payload the query agrees
    with there (`watermark.placed_agreement`), or None when the key has no payload; without
    `marked` only ALONE_DISTANCE identifies."""
    found = index.candidates(q)
    if not found:
        return None
    stored = thumbnails([key for key, _, _ in found])
    for key, score, mirrored in found:
        if key not in stored:
            continue
        got = confirm(q, stored[key], mirrored)
        need = needed_agreement(got.distance)
        if need == 0:
            return Identified(key, score, got, len(found), None)
        if need is None or marked is None:
            continue
        host = np.asarray(Image.open(io.BytesIO(stored[key])).convert("RGB"))
        agreeing = marked(key, refined_placement(q.image, host, got.placement), host)
        if agreeing is not None and agreeing >= need:
            return Identified(key, score, got, len(found), agreeing)
    return None
