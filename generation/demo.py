"""The demo model of the embedded default: a tiny SD-style pipeline with random weights,
registered as trained on a small dataset of drawn shapes that this project makes and releases
under CC0. It proves the path (submit → GPU worker → quarantine), not image quality."""

import io
from pathlib import Path

from PIL import Image, ImageDraw

from generation.models import GenerativeModel
from generation.services import model_register
from generation.tiny import save_tiny_pipeline
from licensing.models import Dataset
from licensing.services import dataset_create, dataset_item_add

DEMO_MODEL = ("tiny-demo", "1")
DEMO_DATASET = "Demo shapes (CC0)"
COLOURS = ("red", "green", "blue", "orange", "purple", "teal")
MODEL_CARD = """Tiny demo model (random weights).

A 2-block SD-style latent diffusion pipeline with randomly initialised weights, so its images
are noise. It exists so the embedded default can run a generation end to end. Registered as
trained on "Demo shapes (CC0)", drawn by this project and dedicated to the public domain.
Not for any real use."""


def _shape(index: int) -> tuple[bytes, str]:
    colour = COLOURS[index % len(COLOURS)]
    image = Image.new("RGB", (64, 64), "white")
    draw = ImageDraw.Draw(image)
    box = (8 + index, 8 + index, 48 + index, 48 + index)
    if index % 2:
        draw.ellipse(box, fill=colour)
    else:
        draw.rectangle(box, fill=colour)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    kind = "circle" if index % 2 else "square"
    return buffer.getvalue(), f"a {colour} {kind} on a white background"


def demo_model_ensure(*, org, root: Path) -> GenerativeModel:
    name, version = DEMO_MODEL
    existing = GenerativeModel.objects.for_org(org).filter(name=name, version=version).first()
    if existing is not None:
        return existing
    dataset = Dataset.objects.for_org(org).filter(name=DEMO_DATASET).first()
    if dataset is None:
        dataset = dataset_create(org=org, actor=None, name=DEMO_DATASET)
        for index in range(8):
            data, caption = _shape(index)
            dataset_item_add(
                dataset=dataset,
                actor=None,
                data=data,
                licence_key="CC0-1.0",
                creator="Mintmark",
                caption=caption,
            )
    folder = root / "tiny-demo-sd15"
    if not (folder / "model_index.json").exists():
        save_tiny_pipeline(folder, family="sd15", seed=0)
    return model_register(
        org=org,
        actor=None,
        name=name,
        version=version,
        family=GenerativeModel.Family.SD15,
        local_path=str(folder),
        dataset_ids=[dataset.pk],
        model_card=MODEL_CARD,
    )
