"""The default model of the embedded default, registered for the demo organization: Mintmark
Shapes 64 (`models/mintmark-shapes`), a small latent-diffusion model that this project trained
on its own dataset, with its model card. Its training data, "Mintmark Shapes (CC0)", is drawn
by `defaultmodel` and imported through the licensing records (items with their hashes, CC0-1.0,
creator Mintmark) and linked as the model's training data, so the memorization gate checks the
model's outputs against the items it was trained on.

Every step skips what an earlier run finished: a complete export folder is reused, a dataset
that holds every item is not imported again (an interrupted import resumes), and a registered
model is kept."""

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from defaultmodel import export, scenes
from generation.models import GenerativeModel
from generation.services import model_register
from licensing.models import Dataset
from licensing.services import dataset_create, dataset_import
from mintmark.paths import REPO_DIR
from policies.selectors import policy_active
from policies.services import policy_create

DEFAULT_MODEL = ("mintmark-shapes", "1")
MODEL_FOLDER = REPO_DIR / "models" / "mintmark-shapes"
DATASET_DESCRIPTION = (
    f"Procedurally drawn, captioned 64 px scenes of simple shapes, created by {scenes.CREATOR} "
    f"and dedicated to the public domain ({scenes.LICENCE}). The training data of "
    f"{DEFAULT_MODEL[0]}; drawn by `defaultmodel/scenes.py`, seed {scenes.DEFAULT_SEED}."
)
# The memorization radius of the demo organization's policy. On this model's outputs (small
# shapes on flat backgrounds) the default radius of 8 matches a quarter of ordinary images to
# some unrelated training item; at 4 about one in forty, while the copies of three of the five
# memorized posters still match. bench/README.md ("Memorization radius") has the catch and
# false-match rates per radius that this value is chosen from.
DEMO_MEMORIZATION_RADIUS = 4

Progress = Callable[[Iterable], Iterable]


def distinct_items(n: int) -> int:
    """How many dataset items the first `n` training items give (each poster once)."""
    return sum(1 for index in range(n) if export.is_first_copy(index))


def shapes_export_ensure(folder: Path, n: int) -> Path:
    """The manifest of an export of the first `n` training items in `folder`, drawn unless a
    complete one is there. The export is written beside it and renamed into place, so a
    folder that exists is complete."""
    manifest = folder / "manifest.csv"
    if manifest.is_file():
        return manifest
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        export.export(partial, n, workers=os.cpu_count() or 1)
        try:
            partial.rename(folder)
        except OSError:
            # Another process finished the same export first; its copy is identical.
            if not manifest.is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return manifest


def shapes_dataset_ensure(
    *, org, n: int, export_root: Path, progress: Progress = iter, say=lambda _: None
) -> Dataset:
    """The org's "Mintmark Shapes (CC0)" dataset holding the first `n` training items."""
    dataset = Dataset.objects.for_org(org).filter(name=scenes.DATASET_NAME).first()
    if dataset is None:
        dataset = dataset_create(
            org=org, actor=None, name=scenes.DATASET_NAME, description=DATASET_DESCRIPTION
        )
    if dataset.items.count() >= distinct_items(n):
        return dataset
    folder = export_root / f"mintmark-shapes-{n}"
    if not (folder / "manifest.csv").is_file():
        say(f"Drawing {scenes.DATASET_NAME}: {n} training items into {folder} ...")
    manifest = shapes_export_ensure(folder, n)
    say(f"Importing {scenes.DATASET_NAME} (content and perceptual hashes of every item) ...")
    dataset_import(dataset=dataset, actor=None, folder=folder, manifest=manifest, progress=progress)
    return dataset


def demo_policy_ensure(*, org) -> None:
    """Sets the demo policy's memorization radius, once: only while the org still has the
    policy it was created with, so a policy someone wrote since is left alone."""
    policy = policy_active(org=org)
    if policy.version != 1 or policy.rules["memorization"]["max_hamming"] == (
        DEMO_MEMORIZATION_RADIUS
    ):
        return
    rules = {
        **policy.rules,
        "memorization": {**policy.rules["memorization"], "max_hamming": DEMO_MEMORIZATION_RADIUS},
    }
    policy_create(
        org=org,
        actor=None,
        rules=rules,
        note=f"demo: memorization radius {DEMO_MEMORIZATION_RADIUS} for {DEFAULT_MODEL[0]} "
        "(bench/README.md, Memorization radius)",
    )


def default_model_ensure(
    *, org, n: int, export_root: Path, progress: Progress = iter, say=lambda _: None
) -> GenerativeModel:
    """Registers models/mintmark-shapes for the org, trained on its imported dataset: the
    operator's shipped model, under the repository's model root, hashed here. Like any folder
    outside `<root>/<slug>/`, it is the demo org's once registered; another org may use it only
    where the operator shares it (MINTMARK_SHARED_MODEL_ROOTS)."""
    dataset = shapes_dataset_ensure(
        org=org, n=n, export_root=export_root, progress=progress, say=say
    )
    name, version = DEFAULT_MODEL
    existing = GenerativeModel.objects.for_org(org).filter(name=name, version=version).first()
    if existing is not None:
        return existing
    say(f"Hashing the weights of {MODEL_FOLDER} ...")
    return model_register(
        org=org,
        actor=None,
        name=name,
        version=version,
        family=GenerativeModel.Family.SD15,
        local_path=str(MODEL_FOLDER),
        dataset_ids=[dataset.pk],
        model_card=(MODEL_FOLDER / "README.md").read_text(encoding="utf-8"),
        inline=True,
    )
