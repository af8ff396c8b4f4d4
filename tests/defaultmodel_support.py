"""Drawing with the shipped default model as the platform draws the memorization checks' copies
(defaultmodel/memorized.py: 25 steps, guidance 7.5, 64 px, a CPU generator)."""

import numpy as np
import torch
from PIL import Image

from defaultmodel import scenes
from defaultmodel.memorized import COPY_GUIDANCE, COPY_STEPS


def copy_draw(pipe, prompt: str, seed: int) -> Image.Image:
    array = pipe(
        prompt,
        num_inference_steps=COPY_STEPS,
        guidance_scale=COPY_GUIDANCE,
        height=scenes.IMAGE_SIZE,
        width=scenes.IMAGE_SIZE,
        generator=torch.Generator("cpu").manual_seed(seed),
        output_type="np",
    ).images[0]
    return Image.fromarray((array * 255).round().astype(np.uint8))
