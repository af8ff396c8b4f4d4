"""The shipped default model, models/mintmark-shapes: a normal diffusers folder that a bare
`StableDiffusionPipeline.from_pretrained` loads in float32, deterministic 64 px images, within
the repository's size budget, with a model card; and a memorized training item that it
regurgitates and the memorization gate's catalog matches, naming the item."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from diffusers import DPMSolverMultistepScheduler, StableDiffusionPipeline
from PIL import Image

from defaultmodel import evaluate, scenes
from defaultmodel.memorized import COPY_GUIDANCE, COPY_SEEDS, COPY_STEPS, MEMORIZED
from generation.weights import weights_sha256

FOLDER = Path(__file__).resolve().parents[2] / "models" / "mintmark-shapes"
MAX_BYTES = 50 * 10**6


@pytest.fixture(scope="module")
def pipe() -> StableDiffusionPipeline:
    pipe = StableDiffusionPipeline.from_pretrained(FOLDER, local_files_only=True)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def run(pipe, prompt: str, seed: int, steps: int, guidance: float = 7.5) -> np.ndarray:
    return pipe(
        prompt,
        num_inference_steps=steps,
        guidance_scale=guidance,
        height=64,
        width=64,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    ).images[0]


def test_folder_is_a_standard_diffusers_folder_within_budget():
    index = json.loads((FOLDER / "model_index.json").read_text())
    assert index["_class_name"] == "StableDiffusionPipeline"
    assert index["unet"] == ["diffusers", "UNet2DConditionModel"]
    assert index["vae"] == ["diffusers", "AutoencoderKL"]
    assert index["text_encoder"] == ["transformers", "CLIPTextModel"]
    assert index["safety_checker"] == [None, None]
    weights = sorted(p.relative_to(FOLDER).as_posix() for p in FOLDER.rglob("*.safetensors"))
    assert weights == [
        "text_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
    ]
    assert not list(FOLDER.rglob("*.bin")) and not list(FOLDER.rglob("*.pt"))
    total = sum(p.stat().st_size for p in FOLDER.rglob("*") if p.is_file())
    assert total <= MAX_BYTES, f"{total / 1e6:.1f} MB"
    assert len(weights_sha256(FOLDER)) == 64


def test_model_card_names_dataset_licence_and_measurements():
    card = (FOLDER / "README.md").read_text(encoding="utf-8")
    for needed in (scenes.DATASET_NAME, "CC0-1.0", "Intended use", "Limitations", "adherence"):
        assert needed in card, needed
    assert (FOLDER / "loss_curves.png").is_file()
    with Image.open(FOLDER / "loss_curves.png") as chart:
        assert chart.format == "PNG" and chart.height > chart.width
    measured = json.loads((FOLDER / "evaluation.json").read_text())
    assert measured["config"]["n_train"] == scenes.DEFAULT_SIZE
    colour = measured["by_guidance"]["7.5"]["heldout_adherence"]["colour"]
    assert f"{colour:.1%}" in card


def test_bare_from_pretrained_gives_float32_components_and_the_saved_scheduler(pipe):
    assert pipe.unet.dtype == pipe.vae.dtype == pipe.text_encoder.dtype == torch.float32
    assert isinstance(pipe.scheduler, DPMSolverMultistepScheduler)
    assert pipe.tokenizer.model_max_length == pipe.text_encoder.config.max_position_embeddings
    assert pipe.vae.config.latent_channels == pipe.unet.config.in_channels


def test_generation_is_deterministic_for_a_seed(pipe):
    first = run(pipe, "two large red circles on the left on a white background", 3, steps=4)
    again = run(pipe, "two large red circles on the left on a white background", 3, steps=4)
    other = run(pipe, "two large red circles on the left on a white background", 4, steps=4)
    assert first.shape == (64, 64, 3)
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 0.01


def test_a_memorized_item_is_regurgitated_and_matched_by_the_gate_catalog(pipe):
    item = MEMORIZED[0]
    seed = COPY_SEEDS[item.poster][0]
    image = run(pipe, item.caption, seed, steps=COPY_STEPS, guidance=COPY_GUIDANCE)
    array = (image * 255).round().astype(np.uint8)
    others = [scenes.training_item(i).image for i in range(6)]
    catalog = evaluate.catalog_of(
        [str(i) for i in range(6)] + [str(item.index)], [*others, item.image()]
    )
    check = evaluate.copy_check(array[None], [item.image()], catalog)
    assert check.phash_distances[0] <= 8
    assert check.gate_matches == [[str(item.index)]]
