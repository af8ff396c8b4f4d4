"""Helpers for the gate, review and provenance tests: signing keys in the test's own folder,
a job brought to GATING with chosen images (the GPU worker's own store function writes them),
and images with the texture of real pictures."""

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

from generation import worker
from generation.models import GenerationJob
from generation.submission import JobRequest, job_submit
from generation.transitions import job_transition
from provenance import keys
from provenance.signing import signing_passphrase

State = GenerationJob.State


def keys_make(settings, tmp_path, *orgs) -> None:
    settings.DATA_DIR = tmp_path / "data"
    base = settings.DATA_DIR / "keys"
    for org in orgs:
        keys.org_key_ensure(base, org.slug, org.name, signing_passphrase())


def picture(seed: int, size: int = 256) -> Image.Image:
    """A smooth scene with shapes and texture: what perceptual hashes and the watermark see in
    real outputs, unlike white noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:size, 0:size] / size
    base = np.stack(
        [
            120 + 100 * np.sin(2 * np.pi * (x * rng.uniform(0.5, 2) + rng.uniform())),
            120 + 100 * np.cos(2 * np.pi * (y * rng.uniform(0.5, 2) + rng.uniform())),
            120 + 80 * np.sin(2 * np.pi * (x + y) * rng.uniform(0.5, 2)),
        ],
        axis=-1,
    )
    image = Image.fromarray(np.clip(base, 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(image)
    for _ in range(6):
        x0, y0 = rng.integers(0, size - 40, 2)
        w, h = rng.integers(20, size // 2, 2)
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x0 + w, y0 + h), fill=colour)
        else:
            draw.rectangle((x0, y0, x0 + w, y0 + h), fill=colour)
    noise = rng.normal(0, 6, (size, size, 3))
    textured = np.clip(np.asarray(image, dtype=np.float64) + noise, 0, 255).astype(np.uint8)
    return Image.fromarray(textured).filter(ImageFilter.GaussianBlur(0.6))


def encoded(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def gated_job(persona, model, images, **fields) -> GenerationJob:
    """A job submitted through the real submit path, whose outputs are `images`, now GATING."""
    width, height = images[0].size
    params = {
        "prompt": "a landscape with shapes",
        "model": f"{model.name}:{model.version}",
        "width": width,
        "height": height,
        "steps": 2,
        "num_images": len(images),
    }
    job = job_submit(membership=persona.membership, req=JobRequest(**{**params, **fields}))
    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="test")
    for index, image in enumerate(images):
        worker._store(job, index, job.seeds[index], image)
    job_transition(job_id=job.pk, to=State.GATING)
    return GenerationJob.objects.get(pk=job.pk)
