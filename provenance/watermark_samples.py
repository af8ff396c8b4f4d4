"""Deterministic synthetic images for the watermark's tests and benchmark.

No trained model weights exist on the development machines, so the watermark is measured on
images that imitate what latent-diffusion models produce: smooth sky-like gradients, soft-edged
shapes with shading, 1/f ("fractal") textures, blur, fine sensor-like noise, and a few saturated
highlights and shadows (clipping is what brightness attacks exploit). The same seed always gives
the same image.
"""

import cv2
import numpy as np
from PIL import Image


def _fractal_noise(rng: np.random.Generator, size: int, slope: float) -> np.ndarray:
    """Zero-mean, unit-variance noise with a 1/f**slope amplitude spectrum (natural images: ~1)."""
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.hypot(fx, fy)
    radius[0, 0] = 1.0
    spectrum = rng.standard_normal(radius.shape) + 1j * rng.standard_normal(radius.shape)
    spectrum /= radius**slope
    spectrum[0, 0] = 0.0
    field = np.fft.irfft2(spectrum, s=(size, size))
    return (field - field.mean()) / (field.std() + 1e-9)


def _palette(rng: np.random.Generator) -> np.ndarray:
    return rng.uniform(0.05, 0.95, size=3)


def _sky_and_ground(rng: np.random.Generator, size: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, size)[:, None, None]
    top, bottom = _palette(rng), _palette(rng)
    img = np.broadcast_to(top * (1 - t) + bottom * t, (size, size, 3)).copy()
    horizon = int(size * rng.uniform(0.45, 0.75))
    ridge = horizon + (_fractal_noise(rng, size, 1.6)[0] * size * 0.05).astype(int)
    rows = np.arange(size)[:, None]
    ground = rows >= ridge[None, :]
    ground_colour = _palette(rng) * 0.7
    shade = np.broadcast_to(0.75 + 0.25 * np.linspace(0, 1, size)[:, None], (size, size))
    img[ground] = ground_colour[None, :] * shade[ground][:, None]
    return img


def _add_shapes(rng: np.random.Generator, img: np.ndarray) -> None:
    size = img.shape[0]
    for _ in range(rng.integers(2, 7)):
        mask = np.zeros((size, size), np.float32)
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        if rng.random() < 0.5:
            axes = tuple(int(v) for v in rng.integers(size // 16, size // 3, 2))
            cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
        else:
            pts = rng.integers(0, size, (int(rng.integers(3, 7)), 2)).astype(np.int32)
            cv2.fillPoly(mask, [pts], 1.0)
        mask = cv2.GaussianBlur(mask, (0, 0), sigmaX=float(rng.uniform(0.6, 4.0)) * size / 512)
        colour = _palette(rng)
        # A linear light falloff across each shape stands in for the shading diffusion models draw.
        yy, xx = np.mgrid[0:size, 0:size] / size
        light = 0.7 + 0.5 * (rng.uniform(-1, 1) * xx + rng.uniform(-1, 1) * yy)
        layer = colour[None, None, :] * light[:, :, None]
        img[:] = img * (1 - mask[:, :, None]) + layer * mask[:, :, None]


def _add_texture(rng: np.random.Generator, img: np.ndarray) -> None:
    size = img.shape[0]
    amount = rng.uniform(0.02, 0.12)
    tex = _fractal_noise(rng, size, rng.uniform(0.8, 1.4))
    region = cv2.GaussianBlur((_fractal_noise(rng, size, 2.0) > 0).astype(np.float32), (0, 0), 8)
    img += (amount * tex * region)[:, :, None] * rng.uniform(0.6, 1.0, 3)


def _add_highlights(rng: np.random.Generator, img: np.ndarray) -> None:
    size = img.shape[0]
    for _ in range(rng.integers(0, 3)):
        mask = np.zeros((size, size), np.float32)
        centre = tuple(int(v) for v in rng.integers(0, size, 2))
        cv2.circle(mask, centre, int(rng.integers(size // 20, size // 6)), 1.0, -1)
        mask = cv2.GaussianBlur(mask, (0, 0), size / 40)
        level = 1.05 if rng.random() < 0.6 else -0.05
        img[:] = img * (1 - mask[:, :, None]) + level * mask[:, :, None]


def synthetic_image(seed: int, size: int = 512) -> Image.Image:
    """A natural-looking RGB image of `size` x `size` pixels, fully determined by `seed`."""
    rng = np.random.default_rng([seed, size])
    kind = seed % 4
    if kind == 0:
        img = _sky_and_ground(rng, size)
    elif kind == 1:
        img = _palette(rng)[None, None, :] + 0.25 * _fractal_noise(rng, size, 2.2)[:, :, None]
    elif kind == 2:
        img = np.broadcast_to(_palette(rng), (size, size, 3)).copy()
        img += 0.1 * _fractal_noise(rng, size, 1.8)[:, :, None] * rng.uniform(0.5, 1, 3)
    else:
        img = _sky_and_ground(rng, size)
        _add_texture(rng, img)
    _add_shapes(rng, img)
    if rng.random() < 0.7:
        _add_texture(rng, img)
    _add_highlights(rng, img)
    blur = rng.uniform(0.0, 1.5) * size / 512
    if blur > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    img += rng.normal(0.0, rng.uniform(0.0, 0.012), img.shape)
    return Image.fromarray((np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8), "RGB")
