"""Helpers shared by the API behaviour tests (imported as `tests.mm_api_support`): tiny images,
fake model folders, error-body checks and row counts that prove nothing was partly written."""

import io
import random
import re
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from audit.models import AuditEvent
from generation.models import GenerativeModel
from generation.services import model_register
from licensing.models import ConsentRecord, Dataset, DatasetItem, Licence
from licensing.services import dataset_create, dataset_item_add
from orgs.models import ApiToken, Membership
from policies.models import Policy

HEX16 = re.compile(r"^[0-9a-f]{16}$")
HEX64 = re.compile(r"^[0-9a-f]{64}$")


def png_bytes(seed: int = 0, size: tuple[int, int] = (32, 32)) -> bytes:
    """A small PNG whose pixels (and so whose hashes) depend on `seed`."""
    rng = random.Random(seed)
    image = Image.new("RGB", size)
    image.putdata([tuple(rng.randrange(256) for _ in range(3)) for _ in range(size[0] * size[1])])
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def png_upload(seed: int = 0, name: str = "item.png") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, png_bytes(seed), content_type="image/png")


def model_folder(
    root: Path, name: str = "tiny-model", weights: bytes = b"not really weights"
) -> Path:
    """A diffusers-shaped folder; registration only hashes its weight files."""
    folder = root / name
    (folder / "unet").mkdir(parents=True, exist_ok=True)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(weights)
    (folder / "model_index.json").write_text('{"_class_name": "StableDiffusionPipeline"}')
    return folder


def make_dataset(org, actor=None, *, name: str = "Photos", licence: str = "CC0-1.0", seeds=(1,)):
    """A dataset of `org` with one item per seed, all under `licence`."""
    dataset = dataset_create(org=org, actor=actor, name=name)
    items = [
        dataset_item_add(dataset=dataset, actor=actor, data=png_bytes(seed), licence_key=licence)
        for seed in seeds
    ]
    return dataset, items


def register_at(org, folder: Path, *, name: str = "tiny", datasets=(), actor=None):
    """The model in `folder` registered for `org` as `name`:1 (SD 1.5), trained on `datasets`,
    its weights hashed at once (ready), as the operator's `register_model` does. `folder` must
    be under a model root: pytest's temporary folder is one (conftest.py, model_roots)."""
    return model_register(
        org=org,
        actor=actor,
        name=name,
        version="1",
        family="sd15",
        local_path=str(folder),
        dataset_ids=[d.pk for d in datasets],
        inline=True,
    )


def register_tiny(org, folder: Path):
    """A real, tiny diffusers model (random weights, saved in `folder` by
    generation.tiny.save_tiny_pipeline) registered for `org`, trained on a CC0 dataset."""
    dataset, _ = make_dataset(org, seeds=(1,))
    return register_at(org, folder, datasets=[dataset])


def make_model(org, root: Path, *, name: str = "tiny", datasets=(), actor=None):
    folder = model_folder(root, f"{org.slug}-{name}")
    return register_at(org, folder, name=name, datasets=datasets, actor=actor)


COUNTED = (
    AuditEvent,
    Policy,
    Membership,
    ApiToken,
    Licence,
    Dataset,
    DatasetItem,
    ConsentRecord,
    GenerativeModel,
)


def row_counts() -> dict[str, int]:
    counts = {model.__name__: model.objects.count() for model in COUNTED}
    counts["User"] = get_user_model().objects.count()
    return counts


def assert_error(response, status: int, code: str | None = None) -> dict:
    """The contract's error shape: JSON {"error": code, "detail": sentence}."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert isinstance(body.get("error"), str) and body["error"], body
    assert isinstance(body.get("detail"), str) and body["detail"], body
    if code is not None:
        assert body["error"] == code, body
    return body


def events(org, action: str):
    return list(AuditEvent.objects.filter(org=org, action=action).order_by("seq"))
