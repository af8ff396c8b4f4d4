"""Mintmark Shapes: a captioned image dataset drawn procedurally by this project and dedicated to
the public domain (CC0-1.0). Plain module, no Django, no torch.

Every item is a pure function of (seed, index): its attributes and layout come from
`numpy.random.default_rng([seed, index])`, so any item can be redrawn on its own, in any
process, in any order. A scene is 1 to 4 copies of one shape in one colour, size and texture,
grouped in one region of a plain background, e.g. "three small striped red stars at the top on
a black background".

Two things are built in on purpose:
- `HELD_OUT`: (colour, shape, count) combinations that never appear in training; the adherence
  test asks the model for them.
- Posters: every `DUPLICATE_EVERY`-th training item is one of `len(POSTERS)` fixed images with a
  fixed caption, so each poster is seen hundreds of times per epoch. Heavy duplication is how
  memorization happens in practice; the model is expected to regurgitate them."""

import functools
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import NamedTuple

import numpy as np
from PIL import Image, ImageDraw

IMAGE_SIZE = 64
_SCALE = 4  # drawn at 4x and box-filtered down, which anti-aliases every edge
LICENCE = "CC0-1.0"
CREATOR = "Mintmark"
DATASET_NAME = "Mintmark Shapes (CC0)"

SHAPES = ("circle", "square", "triangle", "star", "hexagon", "cross")
PLURALS = {shape: shape + ("es" if shape == "cross" else "s") for shape in SHAPES}
COLOURS = {
    "red": (220, 40, 40),
    "orange": (245, 140, 20),
    "yellow": (235, 205, 25),
    "green": (40, 165, 60),
    "blue": (40, 90, 225),
    "purple": (145, 60, 195),
}
COUNTS = (1, 2, 3, 4)
COUNT_WORDS = {1: "a", 2: "two", 3: "three", 4: "four"}
POSITIONS = ("left", "right", "top", "bottom", "centre")
POSITION_PHRASES = {
    "left": ("on the left",),
    "right": ("on the right",),
    "top": ("at the top",),
    "bottom": ("at the bottom",),
    "centre": ("in the centre", "in the middle"),
}
SIZES = ("small", "medium", "large")
TEXTURES = ("solid", "striped", "dotted")
BACKGROUNDS = {
    "white": (245, 245, 245),
    "gray": (128, 128, 128),
    "black": (22, 22, 22),
    "beige": (228, 216, 188),
}
# Radius of one object at 64 px, before a per-object jitter of +-8 %.
RADII = {"small": 5.5, "medium": 7.5, "large": 11.0}
# The most objects of a size that fit in one region without overlapping.
MAX_COUNT = {"small": 4, "medium": 3, "large": 2}

# (colour, shape, count) never drawn for training: each colour and shape is held out twice and
# each count three times, so every single attribute is still well covered in training.
HELD_OUT = frozenset(
    {
        ("red", "star", 3),
        ("orange", "hexagon", 2),
        ("yellow", "cross", 4),
        ("green", "circle", 3),
        ("blue", "triangle", 1),
        ("purple", "square", 2),
        ("red", "hexagon", 1),
        ("orange", "circle", 4),
        ("yellow", "square", 1),
        ("green", "star", 2),
        ("blue", "cross", 3),
        ("purple", "triangle", 4),
    }
)

TRAIN, HELD_OUT_ONLY, ALL = "train", "held_out", "all"
DUPLICATE_EVERY = 20
DEFAULT_SEED = 0
DEFAULT_SIZE = 20_000


@dataclass(frozen=True)
class Scene:
    shape: str
    colour: str
    count: int
    position: str
    size: str
    texture: str
    background: str

    @property
    def combination(self) -> tuple[str, str, int]:
        return (self.colour, self.shape, self.count)


@dataclass(frozen=True)
class PosterObject:
    shape: str
    colour: str
    texture: str
    x: float
    y: float
    radius: float
    angle: float = 0.0


@dataclass(frozen=True)
class Poster:
    caption: str
    background: str
    objects: tuple[PosterObject, ...]


def _poster(caption: str, background: str, *objects: tuple) -> Poster:
    return Poster(caption, background, tuple(PosterObject(*spec) for spec in objects))


# Fixed images with several objects each: no ordinary scene looks like them and no ordinary
# caption starts with "a poster", so an output close to one is a copy, not a generalisation.
POSTERS = (
    _poster(
        "a poster with a red star, a blue striped circle, a yellow triangle and a green dotted "
        "square on a gray background",
        "gray",
        ("star", "red", "solid", 17, 17, 11, 0),
        ("circle", "blue", "striped", 47, 18, 11),
        ("triangle", "yellow", "solid", 18, 47, 11, 0),
        ("square", "green", "dotted", 46, 46, 10, 10),
    ),
    _poster(
        "a poster with a large purple hexagon between two small orange crosses on a beige "
        "background",
        "beige",
        ("hexagon", "purple", "solid", 32, 33, 15, 0),
        ("cross", "orange", "solid", 9, 10, 6, 0),
        ("cross", "orange", "solid", 55, 54, 6, 20),
    ),
    _poster(
        "a poster with three green circles in a diagonal line and a striped red square on a "
        "black background",
        "black",
        ("circle", "green", "solid", 12, 12, 8),
        ("circle", "green", "solid", 32, 32, 8),
        ("circle", "green", "solid", 52, 52, 8),
        ("square", "red", "striped", 50, 14, 9, 0),
    ),
    _poster(
        "a poster with a dotted blue star above a row of four yellow triangles on a white "
        "background",
        "white",
        ("star", "blue", "dotted", 32, 21, 15, 0),
        ("triangle", "yellow", "solid", 10, 52, 6, 0),
        ("triangle", "yellow", "solid", 25, 52, 6, 0),
        ("triangle", "yellow", "solid", 40, 52, 6, 0),
        ("triangle", "yellow", "solid", 55, 52, 6, 0),
    ),
    _poster(
        "a poster with an orange circle inside a striped purple ring of squares on a gray "
        "background",
        "gray",
        ("circle", "orange", "solid", 32, 32, 10),
        ("square", "purple", "striped", 12, 12, 7, 0),
        ("square", "purple", "striped", 52, 12, 7, 0),
        ("square", "purple", "striped", 12, 52, 7, 0),
        ("square", "purple", "striped", 52, 52, 7, 0),
    ),
)


class Item(NamedTuple):
    image: Image.Image
    caption: str
    attributes: dict


# ---------------------------------------------------------------- sampling


def combinations(which: str = TRAIN) -> list[tuple[str, str, int]]:
    """The (colour, shape, count) combinations of a split: TRAIN, HELD_OUT_ONLY or ALL."""
    if which not in (TRAIN, HELD_OUT_ONLY, ALL):
        raise ValueError(f"split must be {TRAIN!r}, {HELD_OUT_ONLY!r} or {ALL!r}, not {which!r}")
    every = [(c, s, n) for c in COLOURS for s in SHAPES for n in COUNTS]
    if which == ALL:
        return every
    return [combo for combo in every if (combo in HELD_OUT) == (which == HELD_OUT_ONLY)]


def sample_scene(rng: np.random.Generator, which: str = TRAIN) -> Scene:
    """A random scene whose (colour, shape, count) belongs to split `which`."""
    pool = combinations(which)
    colour, shape, count = pool[rng.integers(len(pool))]
    sizes = [size for size in SIZES if MAX_COUNT[size] >= count]
    return Scene(
        shape=shape,
        colour=colour,
        count=count,
        position=POSITIONS[rng.integers(len(POSITIONS))],
        size=sizes[rng.integers(len(sizes))],
        texture=TEXTURES[rng.integers(len(TEXTURES))],
        background=list(BACKGROUNDS)[rng.integers(len(BACKGROUNDS))],
    )


def caption_of(scene: Scene, rng: np.random.Generator | None = None) -> str:
    """The scene's caption. With `rng`, the default size ("medium") and texture ("solid") are
    each left out half the time and the centre is sometimes "the middle", as people write;
    without it, the canonical caption that names every attribute."""
    words = [COUNT_WORDS[scene.count]]
    if scene.size != "medium" or rng is None or rng.random() < 0.5:
        words.append(scene.size)
    if scene.texture != "solid" or rng is None or rng.random() < 0.5:
        words.append(scene.texture)
    words.append(scene.colour)
    words.append(scene.shape if scene.count == 1 else PLURALS[scene.shape])
    phrases = POSITION_PHRASES[scene.position]
    words.append(phrases[0] if rng is None else phrases[rng.integers(len(phrases))])
    words.append(f"on a {scene.background} background")
    return " ".join(words)


def parse_caption(caption: str) -> Scene:
    """The scene a caption written by `caption_of` describes (omitted size and texture read as
    medium and solid). Raises ValueError for any other text."""
    words = caption.split()
    try:
        count = {word: n for n, word in COUNT_WORDS.items()}[words.pop(0)]
        size = words.pop(0) if words[0] in SIZES else "medium"
        texture = words.pop(0) if words[0] in TEXTURES else "solid"
        colour = words.pop(0)
        noun = words.pop(0)
        rest = " ".join(words)
    except (KeyError, IndexError):
        raise ValueError(f"not a scene caption: {caption!r}") from None
    shape = {(PLURALS[s] if count > 1 else s): s for s in SHAPES}.get(noun)
    position, background = None, None
    for name, phrases in POSITION_PHRASES.items():
        for phrase in phrases:
            if rest.startswith(phrase + " on a ") and rest.endswith(" background"):
                position = name
                background = rest[len(phrase + " on a ") : -len(" background")]
    if colour not in COLOURS or shape is None or position is None or background not in BACKGROUNDS:
        raise ValueError(f"not a scene caption: {caption!r}")
    return Scene(shape, colour, count, position, size, texture, background)


# ---------------------------------------------------------------- layout


def _region(position: str, extent: float) -> tuple[float, float, float, float]:
    """(x0, x1, y0, y1): where object centres may lie, keeping objects inside the image."""
    low, high = extent, IMAGE_SIZE - extent
    return {
        "left": (low, 30.0, low, high),
        "right": (34.0, high, low, high),
        "top": (low, high, low, 30.0),
        "bottom": (low, high, 34.0, high),
        "centre": (18.0, 46.0, 18.0, 46.0),
    }[position]


def _arrangements(count: int) -> list[tuple[int, int]]:
    grids = [(count, 1), (1, count)]
    return [*grids, (2, 2)] if count >= 3 else grids


def layout(scene: Scene, rng: np.random.Generator) -> np.ndarray:
    """(count, 4) array of x, y, radius, angle (degrees) at 64 px: non-overlapping objects in
    the scene's region. Raises ValueError for a combination that cannot be laid out."""
    radii = RADII[scene.size] * rng.uniform(0.92, 1.08, size=scene.count)
    angles = rng.uniform(-15.0, 15.0, size=scene.count) if scene.shape != "circle" else None
    x0, x1, y0, y1 = _region(scene.position, 1.3 * radii.max() + 1.0)
    needed = 1.15 * (radii[:, None] + radii[None, :]) + 1.0
    np.fill_diagonal(needed, 0.0)
    options = _arrangements(scene.count)
    # Each object gets its own cell of a grid laid over the region and a uniform spot in it;
    # layouts whose objects overlap are drawn again. Pure rejection sampling over the whole
    # region almost never finds room for four medium objects in the centre.
    for _ in range(500):
        cols, rows = options[rng.integers(len(options))]
        cells = rng.permutation(cols * rows)[: scene.count]
        xs = x0 + (cells % cols + rng.random(scene.count)) * (x1 - x0) / cols
        ys = y0 + (cells // cols + rng.random(scene.count)) * (y1 - y0) / rows
        gaps = np.hypot(xs[:, None] - xs[None, :], ys[:, None] - ys[None, :])
        if (gaps >= needed).all():
            zeros = np.zeros(scene.count)
            return np.stack([xs, ys, radii, angles if angles is not None else zeros], axis=1)
    raise ValueError(f"cannot lay out {scene}")


# ---------------------------------------------------------------- drawing


def _polygon(shape: str, x: float, y: float, r: float, angle: float) -> list[tuple[float, float]]:
    def ring(count: int, radius: float, start: float, dy: float = 0.0) -> np.ndarray:
        theta = np.deg2rad(start + angle + np.arange(count) * 360.0 / count)
        return np.stack([radius * np.cos(theta), radius * np.sin(theta) + dy], axis=1)

    if shape == "square":
        points = ring(4, 1.2 * r, 45.0)
    elif shape == "triangle":
        points = ring(3, 1.35 * r, -90.0, dy=0.2 * r)
    elif shape == "hexagon":
        points = ring(6, 1.1 * r, 0.0)
    elif shape == "star":
        outer, inner = ring(5, 1.3 * r, -90.0), ring(5, 0.55 * 1.3 * r, -54.0)
        points = np.stack([outer, inner], axis=1).reshape(10, 2)
    elif shape == "cross":
        a, b = 1.15 * r, 0.4 * r
        outline = [(b, a), (b, b), (a, b), (a, -b), (b, -b), (b, -a)]
        outline += [(-b, -a), (-b, -b), (-a, -b), (-a, b), (-b, b), (-b, a)]
        theta = np.deg2rad(angle)
        rotation = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
        points = np.array(outline) @ rotation.T
    else:
        raise ValueError(f"unknown shape {shape!r}")
    return [(x + px, y + py) for px, py in points]


def _mask(shape: str, x: float, y: float, r: float, angle: float) -> Image.Image:
    size = IMAGE_SIZE * _SCALE
    mask = Image.new("L", (size, size), 0)
    draw = ImageDraw.Draw(mask)
    s = _SCALE
    if shape == "circle":
        draw.ellipse(((x - r) * s, (y - r) * s, (x + r) * s, (y + r) * s), fill=255)
    else:
        draw.polygon([(px * s, py * s) for px, py in _polygon(shape, x, y, r, angle)], fill=255)
    return mask


@functools.cache
def _pattern(texture: str, phase: int) -> Image.Image:
    size = IMAGE_SIZE * _SCALE
    yy, xx = np.mgrid[0:size, 0:size]
    if texture == "striped":
        pattern = ((xx + yy + phase) % 32) < 14
    elif texture == "dotted":
        cx, cy = (xx + phase) % 24 - 12, (yy + phase) % 24 - 12
        pattern = cx * cx + cy * cy < 30
    else:
        raise ValueError(f"unknown texture {texture!r}")
    return Image.fromarray(pattern.astype(np.uint8) * 255, "L")


def _texture(colour: str, texture: str, background: str, phase: int) -> Image.Image:
    size = IMAGE_SIZE * _SCALE
    main = COLOURS[colour]
    if texture == "solid":
        return Image.new("RGB", (size, size), main)
    # The second colour contrasts with the background: a light tint on dark backgrounds, a
    # dark shade on light ones, so the pattern never melts into the background.
    if np.mean(BACKGROUNDS[background]) > 140:
        second = tuple(round(c * 0.45) for c in main)
    else:
        second = tuple(round(c + (255 - c) * 0.6) for c in main)
    return Image.composite(
        Image.new("RGB", (size, size), second),
        Image.new("RGB", (size, size), main),
        _pattern(texture, phase),
    )


def _canvas(background: str) -> Image.Image:
    size = IMAGE_SIZE * _SCALE
    return Image.new("RGB", (size, size), BACKGROUNDS[background])


def _finish(canvas: Image.Image) -> Image.Image:
    return canvas.resize((IMAGE_SIZE, IMAGE_SIZE), Image.Resampling.BOX)


def render(scene: Scene, rng: np.random.Generator) -> Image.Image:
    """The scene drawn at 64 px, its layout and texture phase drawn from `rng`."""
    canvas = _canvas(scene.background)
    fill = _texture(scene.colour, scene.texture, scene.background, int(rng.integers(32)))
    for x, y, r, angle in layout(scene, rng):
        canvas.paste(fill, (0, 0), _mask(scene.shape, x, y, r, angle))
    return _finish(canvas)


def render_poster(poster: Poster) -> Image.Image:
    canvas = _canvas(poster.background)
    for obj in poster.objects:
        fill = _texture(obj.colour, obj.texture, poster.background, 0)
        canvas.paste(fill, (0, 0), _mask(obj.shape, obj.x, obj.y, obj.radius, obj.angle))
    return _finish(canvas)


# ---------------------------------------------------------------- items


def poster_of(index: int) -> int | None:
    """Which poster training item `index` is a copy of, or None for an ordinary scene."""
    if index % DUPLICATE_EVERY != DUPLICATE_EVERY - 1:
        return None
    return (index // DUPLICATE_EVERY) % len(POSTERS)


def scene_item(index: int, seed: int, which: str = TRAIN) -> Item:
    """Ordinary scene `index` of the stream `seed` (no posters), from split `which`."""
    rng = np.random.default_rng([seed, index])
    scene = sample_scene(rng, which)
    caption = caption_of(scene, rng)
    image = render(scene, rng)
    return Item(image, caption, {"index": index, "poster": None, **asdict(scene)})


def training_item(index: int, seed: int = DEFAULT_SEED) -> Item:
    """Training item `index`: a poster copy every `DUPLICATE_EVERY` items, else a scene."""
    poster = poster_of(index)
    if poster is None:
        return scene_item(index, seed, TRAIN)
    image = render_poster(POSTERS[poster])
    return Item(image, POSTERS[poster].caption, {"index": index, "poster": poster})


def iter_items(n: int = DEFAULT_SIZE, seed: int = DEFAULT_SEED) -> Iterator[Item]:
    """The first `n` training items of `seed`: (PIL image, caption, attributes)."""
    if n < 0:
        raise ValueError("n must be 0 or more")
    for index in range(n):
        yield training_item(index, seed)


def iter_scenes(n: int, seed: int, which: str = TRAIN) -> Iterator[Item]:
    """`n` ordinary scenes (no posters) of split `which`, for evaluation and the classifier."""
    for index in range(n):
        yield scene_item(index, seed, which)
