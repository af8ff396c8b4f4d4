"""The default model's architecture: standard diffusers and transformers components, sized for
64 px images and a few seconds of CPU per 25-step image (plain module, no Django).

- AutoencoderKL, 64 px <-> 16x16x4 latents (three blocks, downsampling by 4).
- CLIPTextModel, hidden size 64, four layers, CLIP's 49 408-id vocabulary, trained from scratch.
  Its token embedding is most of its weights, so a wider encoder would blow the size budget.
- UNet2DConditionModel on the latents, cross-attention at every resolution.
- DDPM for training; DPM-Solver++ (2M) saved as the folder's scheduler.

Weights are stored so that the folder loads in float32 with a bare
`StableDiffusionPipeline.from_pretrained(folder)`: diffusers loads the UNet and VAE into float32
whatever the file's precision, so they are stored in float16 (half the bytes); transformers
loads the text encoder in the precision it was saved in, so it is stored in float32."""

from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    DDPMScheduler,
    DPMSolverMultistepScheduler,
    StableDiffusionPipeline,
    UNet2DConditionModel,
)
from transformers import CLIPTextConfig, CLIPTextModel, CLIPTokenizer

from generation.tokenizer import VOCAB_SIZE, clip_tokenizer

MAX_TOKENS = 77
TEXT_HIDDEN = 64
LATENT_CHANNELS = 4
LATENT_SIZE = 16

# The training noise schedule (Stable Diffusion's) plus what other schedulers read from it.
# "trailing" spacing starts sampling at the last training step, which few-step samplers need.
SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "timestep_spacing": "trailing",
    "steps_offset": 1,
    "clip_sample": False,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
}


def text_config() -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE,
        hidden_size=TEXT_HIDDEN,
        intermediate_size=4 * TEXT_HIDDEN,
        num_hidden_layers=4,
        num_attention_heads=4,
        max_position_embeddings=MAX_TOKENS,
        hidden_act="quick_gelu",
        layer_norm_eps=1e-5,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )


def build_text_encoder() -> CLIPTextModel:
    return CLIPTextModel(text_config())


def build_unet() -> UNet2DConditionModel:
    return UNet2DConditionModel(
        sample_size=LATENT_SIZE,
        in_channels=LATENT_CHANNELS,
        out_channels=LATENT_CHANNELS,
        down_block_types=("CrossAttnDownBlock2D",) * 3,
        up_block_types=("CrossAttnUpBlock2D",) * 3,
        block_out_channels=(64, 128, 128),
        layers_per_block=2,
        norm_num_groups=32,
        # diffusers reads this as the number of heads (a historical misnomer): 32 channels each.
        attention_head_dim=(2, 4, 4),
        cross_attention_dim=TEXT_HIDDEN,
    )


def build_vae() -> AutoencoderKL:
    return AutoencoderKL(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D",) * 3,
        up_block_types=("UpDecoderBlock2D",) * 3,
        block_out_channels=(32, 64, 128),
        layers_per_block=2,
        norm_num_groups=32,
        latent_channels=LATENT_CHANNELS,
        sample_size=64,
    )


def tokenizer() -> CLIPTokenizer:
    return clip_tokenizer(MAX_TOKENS)


def training_scheduler() -> DDPMScheduler:
    return DDPMScheduler.from_config(SCHEDULER_CONFIG)


def sampling_scheduler() -> DPMSolverMultistepScheduler:
    return DPMSolverMultistepScheduler.from_config(SCHEDULER_CONFIG)


def assemble(
    vae: AutoencoderKL, text_encoder: CLIPTextModel, unet: UNet2DConditionModel
) -> StableDiffusionPipeline:
    """A text-to-image pipeline of the trained components, without a safety checker (the
    platform's gates judge images)."""
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=tokenizer(),
        unet=unet,
        scheduler=sampling_scheduler(),
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def save(pipe: StableDiffusionPipeline, folder: Path) -> Path:
    """Saves the pipeline as a diffusers folder with safetensors weights: UNet and VAE in
    float16, the text encoder in float32 (see the module docstring). The pipeline is left on
    its device in float32."""
    folder = Path(folder)
    pipe.unet.to(torch.float16)
    pipe.vae.to(torch.float16)
    pipe.text_encoder.to(torch.float32)
    try:
        pipe.save_pretrained(folder, safe_serialization=True)
    finally:
        pipe.unet.to(torch.float32)
        pipe.vae.to(torch.float32)
    return folder
