"""Mintmark's invisible watermark: a keyed spread-spectrum mark in the luminance DCT.

How it works, and why each choice:

1. The luminance is resized to a fixed working grid (WORK x WORK). The watermark lives in a band of
   that grid's 2-D DCT, so an image resized by any factor still maps onto the same coefficients:
   resizing cannot desynchronise it. The band sits at low-to-mid frequencies, which JPEG keeps.
2. The payload is protected by a Reed-Solomon code over GF(32) (31 five-bit symbols, 7 of data,
   24 of parity). The decoder corrects up to 10 wrong symbols (12 would be possible; the last two
   are given up for a lower false-positive rate), or more when it may erase unreliable ones. The
   codeword is XORed with key-derived bits, so that no payload gives a structured pattern.
3. Each code bit owns a key-chosen random subset of the band's coefficients and a key-chosen +-1
   chip per coefficient. The bit is the SIGN of the chip-weighted mean of those coefficients, so
   decoding is invariant to brightness gain, and offsets only touch the DC coefficient.
4. Embedding is informed: it measures the image's own projection and moves it only as far as
   needed to reach a margin on the right side, which removes the host image's interference
   instead of drowning it with strength. A second pass measures the stamped pixels again, also
   after a simulated +10 % brightness gain (clipping at white is what breaks sign decoding), and
   tops up the bits that fell short. Bits that would cost too much are left to the code.
5. The delta is computed on the working grid and resized back to the image's own size, so the
   cost is a few resizes and 256 x 256 DCTs plus linear passes over the pixels.
6. Before any of this, highlights are compressed (`headroom`): every channel value above KNEE
   is mapped smoothly onto [KNEE, CEILING], CEILING being a little under 255 / 1.1, which
   leaves room for the mark's own peaks. A +10 % brightness change then clips almost nothing,
   whereas on a near-white background (the default model draws its "white" at about 244) it
   clipped the whole background to 255 and the mark with it. Pixels at or below KNEE are
   untouched; white becomes 228 and 244 becomes 227.

Inputs of any mode are converted to RGB first (an alpha channel is dropped); the result is RGB.
Images under MIN_SIDE pixels on a side are refused: below 128 px the band no longer fits under
the image's own Nyquist limit. At 128 px the mark survives lossless handling, JPEG q90 and
brightness changes but not JPEG q50 or resizing (bench/README.md has the figures).

Decoding never raises on a valid image: it returns a reading whose payload is None when no
codeword is found. A random (unwatermarked) image is accepted only if it lands within the
decoder's correction radius of a codeword and its spare data bits are zero; `false_positive_rate`
gives that probability.
"""

import hashlib
import threading
from dataclasses import dataclass
from functools import lru_cache
from math import comb

import cv2
import numpy as np
import reedsolo
from PIL import Image
from scipy.fft import dctn, idctn

ALGORITHM = "org.mintmark.watermark.v1"
PAYLOAD_BITS = 32
DEFAULT_KEY = b"mintmark-watermark-default-key-v1"
MIN_SIDE = 128  # see the module docstring
# From this shorter side up, the measured robustness holds (bench/README.md): callers that enlarge
# small images before stamping should enlarge them to this, not just to MIN_SIDE.
ROBUST_SIDE = 256

WORK = 256
BAND = (16, 96)  # working-grid DCT indices: u + v >= 16 and max(u, v) < 96
MARGIN = 4.0  # target |projection| in orthonormal-DCT units of the working grid
BRIGHTNESS_PROBE = 1.1
# Highlight compression (point 6 of the module docstring). With a ceiling of 232 (255 / 1.1),
# +10 % brightness then JPEG q85 lost the mark on 11 of 600 default-model outputs at their
# released size; with 228, on none (bench/README.md has the full run). The knee is the highest
# that keeps the curve increasing for this ceiling.
KNEE = 200
CEILING = 228
# Energy budgets per working-grid pixel: 8 is about 39 dB PSNR, 10 about 38 dB (the floor).
MSE_BUDGETS = (8.0, 10.0)
MAX_MSE_TOTAL = MSE_BUDGETS[-1]

_SYMBOL_BITS = 5
_N_SYMBOLS = 31
_K_SYMBOLS = 7
_NSYM = _N_SYMBOLS - _K_SYMBOLS
_CODE_BITS = _N_SYMBOLS * _SYMBOL_BITS
_SPARE_BITS = _K_SYMBOLS * _SYMBOL_BITS - PAYLOAD_BITS
# (erased symbols, most symbol errors accepted) tried in order; the limits keep the chance that a
# random image decodes to some payload below 1e-12 in total (see false_positive_rate).
_ATTEMPTS = ((0, 10), (6, 6), (12, 3))
# Wrong symbols tolerated in a freshly stamped image before the larger budget is tried.
_RESTING_ERRORS = 2
# A placed read (`placed_agreement`) needs this share of the working grid to be in the copy.
PLACED_MIN_VISIBLE = 0.3

# reedsolo keeps its Galois-field tables in module globals and RSCodec swaps them in per call,
# which is not thread-safe if another codec with other parameters runs in a second thread.
_RS_LOCK = threading.Lock()
_RS = reedsolo.RSCodec(nsym=_NSYM, nsize=_N_SYMBOLS, c_exp=_SYMBOL_BITS, prim=0x25)


class ImageTooSmall(ValueError):
    """The image is below MIN_SIDE pixels on its shorter side; it cannot hold the mark."""


class EmbedFailed(ValueError):
    """The mark could not be made to read back within the distortion budget."""


@dataclass(frozen=True)
class WatermarkReading:
    payload: int | None
    confidence: float
    detail: str


@dataclass(frozen=True)
class _Pattern:
    coeffs: np.ndarray  # (code bits, m) flat indices into the working-grid DCT
    chips: np.ndarray  # (code bits, m) of +-1
    whitening: np.ndarray  # (code bits,) of 0/1


@lru_cache(maxsize=1)
def _band() -> np.ndarray:
    """The working-grid DCT coefficients the mark may use (BAND), as a boolean grid."""
    u = np.arange(WORK)
    lo, hi = BAND
    return (np.maximum(u[:, None], u[None, :]) < hi) & (u[:, None] + u[None, :] >= lo)


@lru_cache(maxsize=8)
def _pattern(key: bytes) -> _Pattern:
    seed = hashlib.sha256(b"org.mintmark.watermark.v1\x00" + key).digest()
    rng = np.random.default_rng(np.frombuffer(seed, np.uint32))
    flat = rng.permutation(np.flatnonzero(_band().ravel()))
    m = len(flat) // _CODE_BITS
    coeffs = flat[: m * _CODE_BITS].reshape(_CODE_BITS, m)
    chips = rng.choice(np.array([-1.0, 1.0], np.float32), size=coeffs.shape)
    whitening = rng.integers(0, 2, _CODE_BITS).astype(np.uint8)
    return _Pattern(coeffs, chips, whitening)


def _codeword_bits(payload: int, pattern: _Pattern) -> np.ndarray:
    data = [(payload >> (_SYMBOL_BITS * i)) & 0x1F for i in range(_K_SYMBOLS)]
    with _RS_LOCK:
        symbols = np.array(list(_RS.encode(data)), np.uint8)
    bits = (symbols[:, None] >> np.arange(_SYMBOL_BITS, dtype=np.uint8)) & 1
    return bits.ravel() ^ pattern.whitening


def _rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"))


@lru_cache(maxsize=1)
def _headroom_table() -> np.ndarray:
    # y = x up to KNEE, then a parabola with slope 1 at KNEE that reaches CEILING at 255: smooth,
    # increasing (its slope at 255 is 2 * share - 1 >= 0), so no banding and no order reversed.
    x = np.arange(256, dtype=np.float64)
    t = np.clip((x - KNEE) / (255 - KNEE), 0.0, 1.0)
    bend = 1.0 - (CEILING - KNEE) / (255 - KNEE)
    y = np.where(x <= KNEE, x, KNEE + (255 - KNEE) * (t - bend * t * t))
    return np.rint(y).astype(np.uint8)


def headroom(rgb: np.ndarray) -> np.ndarray:
    """`rgb` (uint8) with every channel value above KNEE compressed onto [KNEE, CEILING]."""
    return _headroom_table()[rgb]


def _luma(rgb: np.ndarray) -> np.ndarray:
    # OpenCV's RGB2GRAY uses the BT.601 weights (0.299, 0.587, 0.114), the luma of JPEG's YCbCr.
    return cv2.cvtColor(rgb.astype(np.float32, copy=False), cv2.COLOR_RGB2GRAY)


def _to_work(luma: np.ndarray) -> np.ndarray:
    h, w = luma.shape
    shrink = h >= WORK and w >= WORK
    interp = cv2.INTER_AREA if shrink else cv2.INTER_CUBIC
    return cv2.resize(luma, (WORK, WORK), interpolation=interp)


def _from_work(delta: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    interp = cv2.INTER_CUBIC if (h >= WORK and w >= WORK) else cv2.INTER_AREA
    return cv2.resize(delta, (w, h), interpolation=interp)


def _projections(rgb: np.ndarray, pattern: _Pattern) -> np.ndarray:
    coeffs = dctn(_to_work(_luma(rgb)), norm="ortho").ravel()
    return (coeffs[pattern.coeffs] * pattern.chips).mean(axis=1)


def _work_delta(push: np.ndarray, pattern: _Pattern) -> np.ndarray:
    grid = np.zeros(WORK * WORK, np.float32)
    grid[pattern.coeffs] = push[:, None] * pattern.chips
    return idctn(grid.reshape(WORK, WORK), norm="ortho")


def _shortfall(signs: np.ndarray, proj: np.ndarray) -> np.ndarray:
    return np.where(signs * proj < MARGIN, signs * MARGIN - proj, 0.0)


def _symbol_costs(push: np.ndarray, m: int) -> np.ndarray:
    return (m * push.astype(np.float64) ** 2).reshape(_N_SYMBOLS, _SYMBOL_BITS).sum(axis=1)


def _keep_cheapest(cost: np.ndarray, budget: float) -> np.ndarray:
    """The symbols kept when the cheapest are taken first until the budget is spent."""
    order = np.argsort(cost, kind="stable")
    keep = np.zeros(_N_SYMBOLS, bool)
    keep[order[np.cumsum(cost[order]) <= budget]] = True
    return keep


def _within_budget(push: np.ndarray, m: int, budget: float) -> np.ndarray:
    """Give up the costliest symbols until the mark fits the energy budget; the code fixes them.

    Dropping whole symbols rather than single bits matters: one wrong bit already makes its
    symbol wrong, so the other bits of that symbol can be dropped for free.
    """
    keep = _keep_cheapest(_symbol_costs(push, m), budget)
    return np.where(np.repeat(keep, _SYMBOL_BITS), push, 0.0).astype(push.dtype)


def _stamp(rgb: np.ndarray, total: np.ndarray) -> np.ndarray:
    # The same luma delta goes on R, G and B, which leaves the chroma untouched; rgb holds whole
    # numbers, so rounding the delta once is rounding every channel.
    delta = np.rint(total).astype(np.int16)
    return np.clip(rgb.astype(np.int16) + delta[:, :, None], 0, 255).astype(np.uint8)


def _stamped(rgb: np.ndarray, signs: np.ndarray, pattern: _Pattern, max_mse: float) -> np.ndarray:
    shape = rgb.shape[:2]
    m = pattern.coeffs.shape[1]
    budget = max_mse * WORK * WORK
    # Informed first pass: move each bit's projection just past the margin.
    push = _within_budget(_shortfall(signs, _projections(rgb, pattern)), m, budget)
    out = _stamp(rgb, _from_work(_work_delta(push, pattern), shape))
    # Re-measure the stamped pixels, plain and brightened, and top up what fell short (rounding
    # and clipping at 0 and 255 lose a little of each push).
    plain = _shortfall(signs, _projections(out, pattern))
    brightened = np.minimum(out.astype(np.float32) * BRIGHTNESS_PROBE, 255.0)
    bright = _shortfall(signs, _projections(brightened, pattern))
    top_up = np.where(np.abs(bright) > np.abs(plain), bright, plain)
    # Symbols given up in the first pass stay given up unless a small top-up is enough.
    top_up = np.where((push != 0.0) | (np.abs(top_up) < MARGIN), top_up, 0.0)
    # A top-up moves a bit further the way it already reads, so it never costs the plain read a
    # bit; it is paid only from what the first pass left of the budget, cheapest symbols first,
    # so the first pass's symbols are never given up for it. (Budgeting the sum again gave up
    # the costly symbols of bright images, where clipping at white makes the brightened top-ups
    # large, and the plain read then failed on every payload tried.)
    spent = _symbol_costs(push, m)
    extra = _symbol_costs(push + top_up, m) - spent
    keep = _keep_cheapest(extra, budget - spent.sum())
    final = push + np.where(np.repeat(keep, _SYMBOL_BITS), top_up, 0.0)
    return _stamp(rgb, _from_work(_work_delta(final.astype(np.float32), pattern), shape))


def embed(image: Image.Image, payload: int, *, key: bytes = DEFAULT_KEY) -> Image.Image:
    """Return an RGB copy of `image`, same size, carrying `payload` (0 <= payload < 2**32),
    its highlights compressed by `headroom` (the mark's PSNR is measured against that).

    Raises ImageTooSmall below MIN_SIDE pixels on the shorter side, ValueError for a payload out
    of range and TypeError for one that is not an int.

    The result is read back before it is returned; if even the larger distortion budget cannot
    make it decode (such as full-contrast pixel noise), EmbedFailed is raised rather than
    releasing an image whose mark does not read.
    """
    # 1. Check inputs
    if not isinstance(payload, int) or isinstance(payload, bool):
        raise TypeError("payload must be an int")
    if not 0 <= payload < 2**PAYLOAD_BITS:
        raise ValueError(f"payload must be in [0, 2**{PAYLOAD_BITS})")
    if min(image.size) < MIN_SIDE:
        raise ImageTooSmall(f"image is {image.width}x{image.height}; the minimum is {MIN_SIDE}")
    pattern = _pattern(bytes(key))
    signs = _codeword_bits(payload, pattern).astype(np.float32) * 2.0 - 1.0
    rgb = headroom(_rgb(image))
    # 2. Stamp within the normal budget; if that leaves symbols wrong before any handling, try the
    # larger budget too and keep whichever reads better.
    best, best_wrong = None, _N_SYMBOLS + 1
    for max_mse in MSE_BUDGETS:
        out = _stamped(rgb, signs, pattern, max_mse)
        wrong = _wrong_symbols(out, signs, pattern)
        if wrong < best_wrong:
            best, best_wrong = out, wrong
        if best_wrong <= _RESTING_ERRORS:
            break
    if best is None or best_wrong > _ATTEMPTS[0][1]:
        raise EmbedFailed(f"the mark does not read back within {MAX_MSE_TOTAL} MSE on this image")
    return Image.fromarray(best, "RGB")


def _wrong_symbols(rgb: np.ndarray, signs: np.ndarray, pattern: _Pattern) -> int:
    wrong_bits = (_projections(rgb, pattern) > 0) != (signs > 0)
    return int(wrong_bits.reshape(_N_SYMBOLS, _SYMBOL_BITS).any(axis=1).sum())


def _symbols(bits: np.ndarray) -> list[int]:
    weights = 1 << np.arange(_SYMBOL_BITS)
    return [int(v) for v in bits.reshape(_N_SYMBOLS, _SYMBOL_BITS) @ weights]


def _rs_decode(received: list[int], erase: list[int]) -> tuple[list[int], int] | None:
    """Decoded data symbols and the number of errors corrected (erasures not counted)."""
    try:
        with _RS_LOCK:
            data, codeword, errata = _RS.decode(list(received), erase_pos=erase or None)
            if list(_RS.encode(list(data))) != list(codeword):
                return None
    except reedsolo.ReedSolomonError:
        return None
    errors = len(set(errata) - set(erase))
    return list(data), errors


def decode(image: Image.Image, *, key: bytes = DEFAULT_KEY) -> WatermarkReading:
    """Read the payload; `payload` is None when no valid codeword is found."""
    return _read(_rgb(image), _pattern(bytes(key)))


def _read(rgb: np.ndarray, pattern: _Pattern) -> WatermarkReading:
    proj = _projections(rgb, pattern)
    bits = (proj > 0).astype(np.uint8) ^ pattern.whitening
    received = _symbols(bits)
    reliability = np.abs(proj).reshape(_N_SYMBOLS, _SYMBOL_BITS).min(axis=1)
    weakest = [int(i) for i in np.argsort(reliability)]
    for n_erased, max_errors in _ATTEMPTS:
        erase = sorted(weakest[:n_erased])
        result = _rs_decode(received, erase)
        if result is None or result[1] > max_errors:
            continue
        data, errors = result
        value = sum(s << (_SYMBOL_BITS * i) for i, s in enumerate(data))
        if value >> PAYLOAD_BITS:
            continue
        expected = _codeword_bits(value, pattern).astype(bool)
        flipped = int(np.sum(expected != (proj > 0)))
        # The share of the code's correction capacity left unused: 1.0 is a pristine read.
        confidence = 1.0 - (2 * errors + n_erased) / _NSYM
        detail = (
            f"RS(31,7) over GF(32): {errors} symbol errors corrected, {n_erased} erased; "
            f"{flipped}/{_CODE_BITS} code bits flipped"
        )
        return WatermarkReading(value, confidence, detail)
    return WatermarkReading(None, 0.0, "no valid codeword (not watermarked with this key)")


def placed_agreement(
    image: Image.Image,
    payload: int,
    placement: np.ndarray,
    *,
    key: bytes = DEFAULT_KEY,
    host: np.ndarray | None = None,
) -> int:
    """How many of the code bits of `payload` a cropped or rotated copy carries, read where the
    released image's working grid lies in it. A crop moves the DCT frame that `decode` reads,
    so the mark cannot be read blind; once the fingerprint has placed the copy on the released
    image (`placement`: a 2 x 3 affine map from the released image's coordinates, both axes in
    [0, 1], to the copy's, also in [0, 1]), the copy's luma is resampled onto that grid, the part
    the crop cut away set to the visible part's mean (it adds no key-correlated energy), and
    each bit's projection compared with the expected one. A copy of another image, or an image
    never marked, agrees on each bit by chance: `placed_false_rate` gives the tail."""
    pattern = _pattern(bytes(key))
    luma = _luma(_rgb(image))
    h, w = luma.shape
    placement = np.asarray(placement, np.float64)
    # Copy pixels per working-grid pixel: above 1 the copy is first shrunk by area averaging, as
    # `_to_work` does, so that resampling it at the grid's points does not alias.
    step = float(np.sqrt(abs(np.linalg.det(placement[:, :2] * [[w], [h]])))) / WORK
    shrink = max(1.0, step)
    if shrink > 1.0:
        size = (max(1, round(w / shrink)), max(1, round(h / shrink)))
        luma = cv2.resize(luma, size, interpolation=cv2.INTER_AREA)
        h, w = luma.shape
    centres = (np.arange(WORK, dtype=np.float64) + 0.5) / WORK
    u, v = np.meshgrid(centres, centres)
    xs = (placement[0, 0] * u + placement[0, 1] * v + placement[0, 2]) * w - 0.5
    ys = (placement[1, 0] * u + placement[1, 1] * v + placement[1, 2]) * h - 0.5
    inside = (xs >= 0) & (xs <= w - 1) & (ys >= 0) & (ys <= h - 1)
    if inside.mean() < PLACED_MIN_VISIBLE:
        return 0
    grid = cv2.remap(
        luma,
        xs.astype(np.float32),
        ys.astype(np.float32),
        cv2.INTER_CUBIC,
        None,
        cv2.BORDER_REPLICATE,
    )
    if host is not None:
        # The released image's own content outside the band, fitted to the copy's tone, is
        # taken away first: the crop's edge would otherwise smear that (large, low-frequency)
        # content into the band. The band itself is left alone, mark and all.
        coeffs = dctn(_to_work(_luma(np.asarray(host))), norm="ortho")
        coeffs[_band()] = 0.0
        guess = idctn(coeffs, norm="ortho")
        a, b = guess[inside], grid[inside]
        gain = float(np.dot(a - a.mean(), b - b.mean()) / max(float(a.var()) * a.size, 1e-9))
        grid = grid - (b.mean() + gain * (guess - a.mean()))
        grid = np.where(inside, grid, 0.0).astype(np.float32)
    else:
        grid = np.where(inside, grid, grid[inside].mean()).astype(np.float32)
    coeffs = dctn(grid, norm="ortho").ravel()
    proj = (coeffs[pattern.coeffs] * pattern.chips).mean(axis=1)
    expected = _codeword_bits(payload, pattern).astype(bool)
    return int(np.sum(expected == (proj > 0)))


def placed_false_rate(agreeing: int) -> float:
    """The chance that an unmarked image agrees with a given payload on at least `agreeing` of
    the code bits at one placement (each bit a fair coin: the key's chips and whitening make
    every bit's sign independent of the image's content)."""
    return sum(comb(_CODE_BITS, k) for k in range(agreeing, _CODE_BITS + 1)) / 2**_CODE_BITS


def false_positive_rate() -> float:
    """Probability that an unwatermarked image (random code bits) decodes to some payload.

    With e symbols erased the code is an MDS [31 - e, 7] code; a random word lies within t symbol
    errors of a codeword with probability V(31 - e, t) / 32**(31 - e - 7). The spare data bits must
    also be zero. The attempts are summed (a union bound).
    """
    total = 0.0
    for n_erased, max_errors in _ATTEMPTS:
        n = _N_SYMBOLS - n_erased
        ball = sum(comb(n, t) * 31**t for t in range(max_errors + 1))
        total += ball / 32 ** (n - _K_SYMBOLS)
    return total / 2**_SPARE_BITS
