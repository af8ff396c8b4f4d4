"""SD3 and Flux on the worker's inference code, as tiny but complete diffusers pipelines (an MMDiT
or Flux transformer, CLIP and T5 encoders with offline tokenizers, a VAE, flow matching): loaded
behind the digest check from saved folders, every mode, batches equal to solo runs,
cancellation, and the schedulers each family runs."""

import shutil

import numpy as np
import pytest
from diffusers import (
    AutoPipelineForImage2Image,
    AutoPipelineForInpainting,
    FluxInpaintPipeline,
    FluxPipeline,
    StableDiffusion3Img2ImgPipeline,
    StableDiffusion3Pipeline,
)
from PIL import Image
from transformers import AutoTokenizer

from generation.pipelines import (
    MODES,
    BatchSpec,
    Cancelled,
    ImageRequest,
    PipelineCache,
    WeightsMismatch,
    native_size,
    run_batch,
)
from generation.tiny import save_tiny_pipeline
from generation.tokenizer import T5_VOCAB_SIZE, tiny_t5_tokenizer
from generation.weights import folder_native_size, weights_sha256

FAMILIES = ("sd3", "flux")
T2I, I2I, INPAINT = MODES
SIZE = (48, 32)  # not square, so a swapped width and height shows


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("flow-models")
    return {family: save_tiny_pipeline(root / family, family) for family in FAMILIES}


@pytest.fixture(scope="module")
def models(folders):
    cache = PipelineCache(max_bytes=1 << 30, device="cpu")
    return {
        family: cache.get(family, folder, weights_sha256(folder))
        for family, folder in folders.items()
    }


@pytest.fixture(params=FAMILIES)
def model(request, models):
    return models[request.param]


def spec(mode=T2I, *, steps=3, **overrides) -> BatchSpec:
    fields = dict(
        mode=mode,
        width=SIZE[0],
        height=SIZE[1],
        steps=steps,
        guidance_scale=4.0,
        scheduler="flow_euler",
        strength=None if mode == T2I else 0.7,
    )
    return BatchSpec(**{**fields, **overrides})


def request(mode=T2I, *, seed=0, prompt="a red fox") -> ImageRequest:
    fields = {}
    if mode != T2I:
        pixels = np.random.default_rng(seed).integers(0, 256, (SIZE[1], SIZE[0], 3), np.uint8)
        fields["init_image"] = Image.fromarray(pixels)
    if mode == INPAINT:
        mask = Image.new("L", SIZE, 0)
        mask.paste(255, (12, 8, 36, 24))
        fields["mask_image"] = mask
    return ImageRequest(prompt=prompt, seed=seed, **fields)


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_t5_tokenizer_is_built_offline_and_loads_back_from_a_folder(tmp_path):
    tokenizer = tiny_t5_tokenizer()
    ids = tokenizer("A red Fox, 3!").input_ids
    assert ids[-1] == tokenizer.eos_token_id == 1 and tokenizer.unk_token_id not in ids
    assert len(tokenizer) == T5_VOCAB_SIZE
    tokenizer.save_pretrained(tmp_path)
    loaded = AutoTokenizer.from_pretrained(tmp_path, local_files_only=True)
    assert loaded("A red Fox, 3!").input_ids == ids
    padded = loaded("cat", padding="max_length", max_length=16, truncation=True).input_ids
    assert len(padded) == 16 and padded[-1] == tokenizer.pad_token_id == 0


@pytest.mark.parametrize(
    ("family", "classes"),
    [
        ("sd3", (StableDiffusion3Pipeline, StableDiffusion3Img2ImgPipeline)),
        ("flux", (FluxPipeline, FluxInpaintPipeline)),
    ],
)
def test_folders_load_through_the_auto_pipelines(models, folders, family, classes):
    model = models[family]
    assert isinstance(model.text_to_image, classes[0])
    edit = model.pipeline_for(I2I if family == "sd3" else INPAINT, "flow_euler")
    assert isinstance(edit, classes[1])
    # The edit pipelines share the weights of the text-to-image one.
    assert edit.transformer is model.text_to_image.transformer
    assert AutoPipelineForImage2Image and AutoPipelineForInpainting  # the mappings used above
    # The folder's configs alone give the size the pipeline draws by default.
    assert folder_native_size(str(folders[family])) == native_size(model.text_to_image)
    assert model.schedulers == ("flow_euler",)


@pytest.mark.parametrize("mode", MODES)
def test_each_mode_batched_equals_solo(model, mode):
    # The same bound as the SD tests (test_pipelines): at most one level, in at most 1 % of
    # values; measured here 0 or 1 value of 4 608 differing by one level.
    requests = [
        request(mode, seed=100 + index, prompt=prompt)
        for index, prompt in enumerate(("a red fox", "an owl at night"))
    ]
    batched = run_batch(model, spec(mode), requests)
    assert [(image.mode, image.size) for image in batched] == [("RGB", SIZE)] * 2
    for image, alone in zip(batched, requests, strict=True):
        difference = np.abs(pixels(image) - pixels(run_batch(model, spec(mode), [alone])[0]))
        assert difference.max() <= 1
        assert np.count_nonzero(difference) <= difference.size // 100
    assert not np.array_equal(pixels(batched[0]), pixels(batched[1]))


def test_seed_and_prompt_decide_the_image(model):
    first, again, other_seed, other_prompt = (
        run_batch(model, spec(steps=2), [request(seed=seed, prompt=prompt)])[0]
        for seed, prompt in ((7, "fox"), (7, "fox"), (8, "fox"), (7, "owl"))
    )
    assert np.array_equal(pixels(first), pixels(again))
    assert not np.array_equal(pixels(first), pixels(other_seed))
    assert not np.array_equal(pixels(first), pixels(other_prompt))


def test_guidance_changes_the_image(model):
    low, high = (
        run_batch(model, spec(steps=2, guidance_scale=g), [request(seed=3)])[0] for g in (1.5, 6.0)
    )
    assert not np.array_equal(pixels(low), pixels(high))


def test_a_noise_scheduler_is_refused(model):
    with pytest.raises(ValueError, match="flow_euler"):
        run_batch(model, spec(scheduler="dpmpp_2m"), [request()])


def test_cancelling_stops_the_loop(model):
    steps = []

    def on_step(done, total):
        steps.append((done, total))

    with pytest.raises(Cancelled):
        run_batch(
            model,
            spec(steps=6),
            [request()],
            on_step=on_step,
            should_cancel=lambda: len(steps) >= 2,
        )
    assert steps == [(1, 6), (2, 6)]


def test_a_changed_transformer_is_refused_before_loading(folders, tmp_path):
    folder = shutil.copytree(folders["flux"], tmp_path / "flux")
    registered = weights_sha256(folder)
    weights = folder / "transformer" / "diffusion_pytorch_model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-1] ^= 1
    weights.write_bytes(bytes(data))
    with pytest.raises(WeightsMismatch, match=registered):
        PipelineCache(max_bytes=1 << 30).get("flux", folder, registered)
