"""Where a requested model folder really is, and under which allowed root (plain module, no
Django). The organization rules built on this live in generation/services.py."""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Placement:
    """A folder, resolved, and the roots that hold it: for each model root, the first part of
    the folder's path below it (the org slug when it lies in `<root>/<slug>/`)."""

    folder: Path
    first_parts: tuple[str, ...]
    shared: bool


def _inside(path: Path, root: Path) -> bool:
    return root in path.parents


def _resolved(path: Path) -> Path | None:
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError, ValueError):
        # Missing, a symlink loop, a NUL byte: all answer alike, as a folder out of bounds.
        return None
    return resolved if resolved.is_dir() else None


def _candidates(raw: str, roots: list[Path]) -> list[Path]:
    path = Path(raw)
    if path.is_absolute():
        return [path]
    return [root / path for root in roots]


def model_folder_place(raw: str, model_roots, shared_roots) -> Placement | None:
    """The folder `raw` names, with every symlink resolved, if it is an existing folder inside a
    model root (strictly) or a shared root, holding no root itself; None otherwise, whatever
    the reason, so a refusal says nothing about the rest of the filesystem. A relative `raw` is
    taken from each root in turn (model roots, then shared roots); the first that gives a
    folder is used."""
    roots = [Path(root).resolve() for root in (*model_roots, *shared_roots)]
    model = roots[: len(model_roots)]
    shared = roots[len(model_roots) :]
    for candidate in _candidates(raw, roots):
        folder = _resolved(candidate)
        if folder is None:
            continue
        # A model root is the parent of org folders, not a model; a shared root may be one.
        if folder in model or any(_inside(root, folder) for root in roots):
            return None
        holders = [root for root in model if _inside(folder, root)]
        in_shared = any(folder == root or _inside(folder, root) for root in shared)
        if not holders and not in_shared:
            return None
        parts = tuple(folder.relative_to(root).parts[0] for root in holders)
        return Placement(folder=folder, first_parts=parts, shared=in_shared)
    return None
