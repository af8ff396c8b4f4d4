"""Tiny, randomly initialised but complete diffusers pipelines, built from configs in code the way
diffusers' own fast tests build them (plain module, no Django, no downloads).

They run every code path of a real Stable Diffusion / SDXL checkpoint — tokenizer, text
encoder(s), UNet with cross-attention, VAE, scheduler — in a few milliseconds per step on a CPU,
so tests and the dev demo exercise the worker without real weights. Their images are noise-like;
what matters is that they are deterministic for a given seed. Sizes must be multiples of 8 (the
VAE downsamples by 2, the UNet once more by 2); 32 to 64 px is the intended range."""

from collections.abc import Callable
from pathlib import Path

import torch
from diffusers import (
    AutoencoderKL,
    ControlNetModel,
    DDIMScheduler,
    DDPMScheduler,
    DiffusionPipeline,
    EulerDiscreteScheduler,
    FlowMatchEulerDiscreteScheduler,
    FluxPipeline,
    FluxTransformer2DModel,
    SD3Transformer2DModel,
    StableDiffusion3Pipeline,
    StableDiffusionPipeline,
    StableDiffusionUpscalePipeline,
    StableDiffusionXLPipeline,
    UNet2DConditionModel,
)
from transformers import (
    CLIPTextConfig,
    CLIPTextModel,
    CLIPTextModelWithProjection,
    T5Config,
    T5EncoderModel,
)

from generation.tokenizer import T5_VOCAB_SIZE, VOCAB_SIZE, clip_tokenizer, tiny_t5_tokenizer

# The scheduler config SD 1.x and SDXL folders ship: their training noise schedule plus the keys
# other schedulers read when built from it (`from_config` keeps keys a class does not take).
SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "beta_start": 0.00085,
    "beta_end": 0.012,
    "beta_schedule": "scaled_linear",
    "prediction_type": "epsilon",
    "steps_offset": 1,
    "timestep_spacing": "leading",
    "clip_sample": False,
    "set_alpha_to_one": False,
    "skip_prk_steps": True,
}


def _text_config(*, projection_dim: int = 32) -> CLIPTextConfig:
    return CLIPTextConfig(
        vocab_size=VOCAB_SIZE,  # the real CLIP ids, so the real tokenizer can feed it
        hidden_size=32,
        intermediate_size=37,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=77,
        projection_dim=projection_dim,
        hidden_act="gelu",
        layer_norm_eps=1e-5,
        bos_token_id=49406,
        eos_token_id=49407,
        pad_token_id=49407,
    )


# The flow-matching schedules SD3 and Flux-dev folders ship (Flux's shift grows with the image's
# token count between base_shift and max_shift).
SD3_SCHEDULER_CONFIG = {"num_train_timesteps": 1000, "shift": 3.0}
FLUX_SCHEDULER_CONFIG = {
    "num_train_timesteps": 1000,
    "shift": 3.0,
    "use_dynamic_shifting": True,
    "base_shift": 0.5,
    "max_shift": 1.15,
    "base_image_seq_len": 256,
    "max_image_seq_len": 4096,
}


def _vae(**overrides) -> AutoencoderKL:
    config = dict(
        in_channels=3,
        out_channels=3,
        down_block_types=("DownEncoderBlock2D", "DownEncoderBlock2D"),
        up_block_types=("UpDecoderBlock2D", "UpDecoderBlock2D"),
        block_out_channels=(8, 16),
        layers_per_block=1,
        norm_num_groups=4,
        latent_channels=4,
        sample_size=64,
    )
    return AutoencoderKL(**{**config, **overrides})


def _t5(d_model: int) -> T5EncoderModel:
    return T5EncoderModel(
        T5Config(
            vocab_size=T5_VOCAB_SIZE,
            d_model=d_model,
            d_kv=8,
            d_ff=37,
            num_layers=2,
            num_heads=4,
            relative_attention_num_buckets=8,
            pad_token_id=0,
            eos_token_id=1,
            decoder_start_token_id=0,
        )
    )


def _seeded(seed: int, build: Callable[[], torch.nn.Module]) -> torch.nn.Module:
    # Each component draws from its own freshly seeded generator (as diffusers' tests do), so
    # changing one component's config leaves the others' weights unchanged; fork_rng keeps the
    # caller's global RNG state untouched.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return build().eval()


def tiny_sd_pipeline(seed: int = 0) -> StableDiffusionPipeline:
    """An SD 1.x-shaped pipeline: CLIP text encoder (hidden size 32), a 2-block UNet, a 2-block
    VAE, DDIM, no safety checker."""
    unet = _seeded(
        seed,
        lambda: UNet2DConditionModel(
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(16, 32),
            layers_per_block=1,
            norm_num_groups=8,
            attention_head_dim=4,
            cross_attention_dim=32,
        ),
    )
    vae = _seeded(seed, _vae)
    text_encoder = _seeded(seed, lambda: CLIPTextModel(_text_config()))
    scheduler = DDIMScheduler.from_config(SCHEDULER_CONFIG)
    return StableDiffusionPipeline(
        vae=vae,
        text_encoder=text_encoder,
        tokenizer=clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        safety_checker=None,
        feature_extractor=None,
        image_encoder=None,
        requires_safety_checker=False,
    )


def tiny_sdxl_pipeline(seed: int = 0) -> StableDiffusionXLPipeline:
    """An SDXL-shaped pipeline: two text encoders (the second with a projection, whose pooled
    output and the size/crop "time ids" condition the UNet through `text_time` embeddings)."""
    time_embed_dim, pooled_dim = 8, 32
    unet = _seeded(
        seed,
        lambda: UNet2DConditionModel(
            sample_size=32,
            in_channels=4,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(16, 32),
            layers_per_block=1,
            norm_num_groups=8,
            attention_head_dim=(2, 4),
            use_linear_projection=True,
            transformer_layers_per_block=(1, 2),
            # Both encoders' hidden states are concatenated: 32 + 32.
            cross_attention_dim=64,
            addition_embed_type="text_time",
            addition_time_embed_dim=time_embed_dim,
            # Six time ids (original size, crop corner, target size), each embedded in
            # `time_embed_dim`, plus the pooled text embedding.
            projection_class_embeddings_input_dim=6 * time_embed_dim + pooled_dim,
        ),
    )
    vae = _seeded(seed, lambda: _vae(scaling_factor=0.13025, force_upcast=True))
    text_encoder = _seeded(seed, lambda: CLIPTextModel(_text_config()))
    text_encoder_2 = _seeded(
        seed + 1, lambda: CLIPTextModelWithProjection(_text_config(projection_dim=pooled_dim))
    )
    scheduler = EulerDiscreteScheduler.from_config(SCHEDULER_CONFIG)
    return StableDiffusionXLPipeline(
        vae=vae,
        text_encoder=text_encoder,
        text_encoder_2=text_encoder_2,
        tokenizer=clip_tokenizer(),
        tokenizer_2=clip_tokenizer(),
        unet=unet,
        scheduler=scheduler,
        image_encoder=None,
        feature_extractor=None,
    )


def tiny_sd3_pipeline(seed: int = 0) -> StableDiffusion3Pipeline:
    """An SD3-shaped pipeline: an MMDiT transformer (2x2 patches, joint attention over text and
    image tokens) conditioned by two CLIP encoders (their hidden states joined, their pooled
    outputs the pooled projection) and a T5 encoder, a VAE without quant convs, and the
    flow-matching Euler scheduler. T5's width is the two CLIPs' together (32 + 32), as 4096
    holds 768 + 1280 in SD3."""
    transformer = _seeded(
        seed,
        lambda: SD3Transformer2DModel(
            sample_size=16,
            patch_size=2,
            in_channels=16,
            num_layers=2,
            attention_head_dim=8,
            num_attention_heads=4,
            joint_attention_dim=64,
            caption_projection_dim=32,
            pooled_projection_dim=64,
            out_channels=16,
        ),
    )
    vae = _seeded(
        seed,
        lambda: _vae(
            latent_channels=16,  # SD3's inpainting pipeline accepts no other latent width
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.0609,
            scaling_factor=1.5035,
        ),
    )
    return StableDiffusion3Pipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler.from_config(SD3_SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=_seeded(seed, lambda: CLIPTextModelWithProjection(_text_config())),
        tokenizer=clip_tokenizer(),
        text_encoder_2=_seeded(seed + 1, lambda: CLIPTextModelWithProjection(_text_config())),
        tokenizer_2=clip_tokenizer(),
        text_encoder_3=_seeded(seed + 2, lambda: _t5(64)),
        tokenizer_3=tiny_t5_tokenizer(),
    )


def tiny_flux_pipeline(seed: int = 0) -> FluxPipeline:
    """A Flux-dev-shaped pipeline: a transformer of double- and single-stream blocks over 2x2
    packed latents (so its input channels are the VAE's latent channels x 4) with rotary
    position axes and a guidance embedding, a CLIP encoder for the pooled projection, a T5
    encoder for the token sequence, and flow matching with a resolution-dependent shift."""
    transformer = _seeded(
        seed,
        lambda: FluxTransformer2DModel(
            patch_size=1,
            in_channels=16,
            num_layers=1,
            num_single_layers=1,
            attention_head_dim=16,
            num_attention_heads=2,
            joint_attention_dim=32,
            pooled_projection_dim=32,
            guidance_embeds=True,
            axes_dims_rope=(4, 4, 8),
        ),
    )
    vae = _seeded(
        seed,
        lambda: _vae(
            use_quant_conv=False,
            use_post_quant_conv=False,
            shift_factor=0.1159,
            scaling_factor=0.3611,
        ),
    )
    return FluxPipeline(
        transformer=transformer,
        scheduler=FlowMatchEulerDiscreteScheduler.from_config(FLUX_SCHEDULER_CONFIG),
        vae=vae,
        text_encoder=_seeded(seed, lambda: CLIPTextModel(_text_config())),
        tokenizer=clip_tokenizer(),
        text_encoder_2=_seeded(seed + 1, lambda: _t5(32)),
        tokenizer_2=tiny_t5_tokenizer(max_length=512),
    )


def tiny_upscaler_pipeline(seed: int = 0) -> StableDiffusionUpscalePipeline:
    """An x4-upscaler-shaped pipeline, as diffusers' upscale tests build one: a UNet whose input
    is the 4 latent channels plus the 3 of the noised low-resolution image (at the same size:
    the latents are the input's size) and whose class label is that noise level, a 3-block VAE
    that decodes them 4x larger, DDIM with the upscaler's v-prediction schedule and DDPM to
    noise the input."""
    unet = _seeded(
        seed,
        lambda: UNet2DConditionModel(
            sample_size=32,
            in_channels=7,
            out_channels=4,
            down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
            up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"),
            block_out_channels=(16, 32),
            layers_per_block=1,
            norm_num_groups=8,
            attention_head_dim=4,
            cross_attention_dim=32,
            # One embedding per noise level the pipeline may add (max_noise_level is 350).
            num_class_embeds=1000,
            # Attention over the text only, as the x4 upscaler's high-resolution blocks do:
            # self-attention over a 256 px input's 65 536 latent positions would not fit.
            only_cross_attention=True,
        ),
    )
    vae = _seeded(
        seed,
        lambda: _vae(
            down_block_types=("DownEncoderBlock2D",) * 3,
            up_block_types=("UpDecoderBlock2D",) * 3,
            block_out_channels=(8, 8, 16),
            scaling_factor=0.08333,  # the x4 upscaler's; its pipeline insists on it
            mid_block_add_attention=False,  # likewise: no attention at the latents' size
        ),
    )
    return StableDiffusionUpscalePipeline(
        vae=vae,
        text_encoder=_seeded(seed, lambda: CLIPTextModel(_text_config())),
        tokenizer=clip_tokenizer(),
        unet=unet,
        low_res_scheduler=DDPMScheduler(beta_schedule="scaled_linear"),
        scheduler=DDIMScheduler.from_config(
            {**SCHEDULER_CONFIG, "beta_start": 0.0001, "beta_end": 0.02},
            prediction_type="v_prediction",
        ),
        max_noise_level=350,
    )


TINY_BUILDERS: dict[str, Callable[[int], DiffusionPipeline]] = {
    "sd15": tiny_sd_pipeline,
    "sdxl": tiny_sdxl_pipeline,
    "sd3": tiny_sd3_pipeline,
    "flux": tiny_flux_pipeline,
    "upscaler": tiny_upscaler_pipeline,
}


def save_tiny_pipeline(folder: Path, family: str = "sd15", seed: int = 0) -> Path:
    """Builds the tiny pipeline of `family` (a key of TINY_BUILDERS) and saves it as a diffusers
    folder with safetensors weights; the same family and seed always give the same weight
    files."""
    if family not in TINY_BUILDERS:
        raise ValueError(
            f"no tiny pipeline for family {family!r}; known: {', '.join(TINY_BUILDERS)}"
        )
    folder = Path(folder)
    TINY_BUILDERS[family](seed).save_pretrained(folder, safe_serialization=True)
    return folder


def save_tiny_lora(folder: Path, family: str = "sd15", seed: int = 1) -> Path:
    """A LoRA adapter (rank 4 on every attention projection of the UNet, weights drawn from
    `seed`, so not the identity that a fresh LoRA is) for the tiny pipeline of `family`, saved
    with the pipeline's own `save_lora_weights` as `pytorch_lora_weights.safetensors`."""
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict

    pipe = TINY_BUILDERS[family](0)
    config = LoraConfig(
        r=4,
        lora_alpha=4,
        target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        init_lora_weights=False,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        pipe.unet.add_adapter(config)
    folder = Path(folder)
    type(pipe).save_lora_weights(
        folder, unet_lora_layers=get_peft_model_state_dict(pipe.unet), safe_serialization=True
    )
    return folder


def tiny_controlnet(family: str = "sd15", seed: int = 2) -> ControlNetModel:
    """A ControlNet for the tiny pipeline of `family` (sd15 or sdxl), as ControlNet training
    starts: the UNet's encoder copied (`from_unet`) with a conditioning embedding that brings a
    control image down to the latent size (one stride-2 step, as the tiny VAE has). Training
    starts its zero convolutions at zero, which would add nothing to the UNet; here they are
    drawn from `seed` (as diffusers' tests do), so a control image changes the image."""
    if family not in ("sd15", "sdxl"):
        raise ValueError(f"no tiny ControlNet for family {family!r}; known: sd15, sdxl")
    controlnet = ControlNetModel.from_unet(
        TINY_BUILDERS[family](0).unet, conditioning_embedding_out_channels=(16, 32)
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        zero_convs = [*controlnet.controlnet_down_blocks, controlnet.controlnet_mid_block]
        for conv in zero_convs:
            torch.nn.init.normal_(conv.weight, std=0.5)
            torch.nn.init.normal_(conv.bias, std=0.5)
    return controlnet.eval()


def save_tiny_controlnet(folder: Path, family: str = "sd15", seed: int = 2) -> Path:
    """The tiny ControlNet of `family` saved as a diffusers ControlNetModel folder (config.json
    and safetensors weights)."""
    folder = Path(folder)
    tiny_controlnet(family, seed).save_pretrained(folder, safe_serialization=True)
    return folder
