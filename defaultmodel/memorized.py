"""The training items the default model was made to memorize, for checking that the
memorization gate blocks their copies (plain module, no Django).

Each poster of `scenes.POSTERS` is drawn into every `scenes.DUPLICATE_EVERY`-th training item,
200 copies each in the 20 000-item training set, always with the same caption. The export and
the platform's dataset keep one item per poster: the first copy, `images/<index>.png`.

`COPY_SEEDS` records seeds for which the shipped model, run on a CPU as the platform runs it
(25 DPM-Solver++ steps, guidance 7.5, 64 px, a CPU generator seeded with the seed), makes an
image that the memorization gate's rule (pHash and dHash or wHash within the radius) matches to
the item at the demo policy's radius, 4. Measured on this project's 2-core CPU by
`bench/memorization_radius.py` (its `poster_seed_radius`); models/mintmark-shapes/README.md
gives the rates over 32 seeds per poster on the GPU."""

from dataclasses import dataclass

from PIL import Image

from defaultmodel import export, scenes


@dataclass(frozen=True)
class MemorizedItem:
    poster: int
    index: int  # training index of the first copy; its file in the export is `file`
    caption: str
    copies: int

    @property
    def file(self) -> str:
        return export.item_file(self.index)

    def image(self) -> Image.Image:
        return scenes.render_poster(scenes.POSTERS[self.poster])


def memorized_items(n: int = scenes.DEFAULT_SIZE) -> tuple[MemorizedItem, ...]:
    """The duplicated items of the first `n` training items, with their number of copies."""
    copies = [0] * len(scenes.POSTERS)
    for index in range(scenes.DUPLICATE_EVERY - 1, n, scenes.DUPLICATE_EVERY):
        copies[scenes.poster_of(index)] += 1
    return tuple(
        MemorizedItem(k, export.first_copy(k), poster.caption, copies[k])
        for k, poster in enumerate(scenes.POSTERS)
        if copies[k]
    )


MEMORIZED = memorized_items()

# Poster -> seeds measured to give a gate-matched copy at radius 4 (see the module docstring).
# Posters 3 and 4 are regurgitated too, visibly, but their copies are farther in pHash: 6 to 12
# bits for poster 3; poster 4 is symmetric, so its low-frequency DCT signs flip easily, and its
# copies land 18 to 22 bits away (bench/README.md, "Memorization radius").
COPY_SEEDS: dict[int, tuple[int, ...]] = {0: (0, 1), 1: (0, 1), 2: (2, 3)}
COPY_STEPS, COPY_GUIDANCE = 25, 7.5
