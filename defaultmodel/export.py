"""Draw Mintmark Shapes items in parallel, and export the training set as PNG files with the CSV
manifest that `manage.py import_dataset` reads (plain module, no Django).

    python -m defaultmodel.export var/shapes --n 20000 --seed 0 --workers 2
    python manage.py import_dataset var/shapes --manifest var/shapes/manifest.csv \\
        --org <slug> --dataset "Mintmark Shapes (CC0)" --create

A poster is drawn into training hundreds of times, but the platform keys dataset items by
content hash, so the manifest lists each distinct image once: the poster's first copy."""

import argparse
import csv
import functools
import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from defaultmodel import scenes

MANIFEST_FIELDS = ("file", "licence", "creator", "caption")


def _draw_one(index: int, seed: int, which: str | None) -> scenes.Item:
    if which is None:
        return scenes.training_item(index, seed)
    return scenes.scene_item(index, seed, which)


def draw(
    indices: Sequence[int], seed: int, *, which: str | None = None, workers: int = 1
) -> list[scenes.Item]:
    """Items `indices` of stream `seed`: training items (posters included) when `which` is
    None, else ordinary scenes of that split. Same result for any number of workers."""
    work = functools.partial(_draw_one, seed=seed, which=which)
    if workers <= 1:
        return [work(index) for index in indices]
    # Spawned, not forked: a forked child inherits the caller's open sockets (a Celery
    # broker connection, say) and the libraries' at-fork hooks can hang on them.
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        return list(pool.map(work, indices, chunksize=256))


def is_first_copy(index: int) -> bool:
    """Whether training item `index` is an ordinary scene or a poster's first copy."""
    poster = scenes.poster_of(index)
    return poster is None or index == first_copy(poster)


def first_copy(poster: int) -> int:
    """The training index of `poster`'s first copy."""
    return poster * scenes.DUPLICATE_EVERY + scenes.DUPLICATE_EVERY - 1


def item_file(index: int) -> str:
    return f"images/{index:05d}.png"


def export(
    folder: Path, n: int = scenes.DEFAULT_SIZE, seed: int = scenes.DEFAULT_SEED, workers: int = 1
) -> Path:
    """Writes the first `n` training items' distinct images into `folder/images/` and returns
    the path of `folder/manifest.csv` (columns file, licence, creator, caption)."""
    folder = Path(folder)
    (folder / "images").mkdir(parents=True, exist_ok=True)
    indices = [index for index in range(n) if is_first_copy(index)]
    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        for index, item in zip(indices, draw(indices, seed, workers=workers), strict=True):
            item.image.save(folder / item_file(index), format="PNG")
            writer.writerow(
                {
                    "file": item_file(index),
                    "licence": scenes.LICENCE,
                    "creator": scenes.CREATOR,
                    "caption": item.caption,
                }
            )
    return manifest


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--n", type=int, default=scenes.DEFAULT_SIZE)
    parser.add_argument("--seed", type=int, default=scenes.DEFAULT_SEED)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    manifest = export(args.folder, args.n, args.seed, args.workers)
    print(f"wrote {manifest}")


if __name__ == "__main__":
    main()
