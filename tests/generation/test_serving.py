"""The serving optimizations (generation/serving.py) on tiny pipelines on the CPU: the optimized
path gives the plain path's images for the same seeds, batches are padded to buckets and cut
back, the text-embedding cache is bounded and gives the pipeline's own embeddings, the compile
cache round-trips, and the worker builds its options from its settings."""

import numpy as np
import pytest
import torch

from generation import serving, worker
from generation.pipelines import BatchSpec, ImageRequest, LoadedModel, run_batch, warm_up
from generation.tiny import TINY_BUILDERS

# The UNet families, whose prompt encoding the text cache stands in for.
FAMILIES = ("sd15", "sdxl")
OPTIMIZED = serving.ServingOptions(
    fuse_qkv=True, buckets=(1, 4), text_cache_entries=8, device_postprocess=True
)


def loaded(family: str, options: serving.ServingOptions) -> LoadedModel:
    pipe = TINY_BUILDERS[family](0)
    serving.prepare(pipe, options, torch.device("cpu"))
    return LoadedModel(pipe, options=options)


def spec(steps: int = 3) -> BatchSpec:
    return BatchSpec(
        mode="text-to-image", width=32, height=32, steps=steps, guidance_scale=7.5, scheduler="ddim"
    )


REQUESTS = [
    ImageRequest(prompt="a red fox", seed=1),
    ImageRequest(prompt="an owl at night", negative_prompt="blurry", seed=2),
    ImageRequest(prompt="a red fox", seed=3),
]


def levels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def assert_same_images(got, expected) -> None:
    # Rounding only (fused projections and padded batches sum in another order): at most one
    # level, in at most 1 % of the values. Anything more would be another image.
    assert len(got) == len(expected)
    for image, reference in zip(got, expected, strict=True):
        assert image.size == reference.size
        difference = np.abs(levels(image) - levels(reference))
        assert difference.max() <= 1
        assert np.count_nonzero(difference) <= difference.size // 100


@pytest.mark.parametrize("family", FAMILIES)
def test_optimized_path_gives_the_plain_images(family):
    plain = run_batch(loaded(family, serving.ServingOptions()), spec(), REQUESTS)
    model = loaded(family, OPTIMIZED)
    optimized = run_batch(model, spec(), REQUESTS)  # 3 requests padded to the bucket of 4
    assert_same_images(optimized, plain)
    # Repeated prompts come from the cache: "a red fox" twice, "" twice, one per other text.
    assert (model.text_cache.misses, model.text_cache.hits) == (4, 0)
    assert_same_images(run_batch(model, spec(), REQUESTS), plain)
    assert model.text_cache.hits == 4


@pytest.mark.parametrize("family", ["sd3", "flux"])
def test_transformer_families_encode_their_own_prompts_on_the_optimized_path(family):
    flow = BatchSpec(
        mode="text-to-image",
        width=32,
        height=32,
        steps=2,
        guidance_scale=3.5,
        scheduler="flow_euler",
    )
    plain = run_batch(loaded(family, serving.ServingOptions()), flow, REQUESTS[:2])
    model = loaded(family, OPTIMIZED)
    assert_same_images(run_batch(model, flow, REQUESTS[:2]), plain)
    assert model.text_cache is None


def test_compiled_modules_give_the_plain_images():
    # The eager backend runs the compile plumbing (Dynamo capture, guards, the decoder compiled
    # apart from `vae.decode`) without Inductor's C++ build, which a CPU test cannot afford.
    options = serving.ServingOptions(compile="unet+vae", buckets=(4,))
    plain = run_batch(loaded("sd15", serving.ServingOptions()), spec(), REQUESTS)
    model = loaded("sd15", options)
    serving.compile_modules(model.text_to_image, options, backend="eager")
    try:
        assert_same_images(run_batch(model, spec(), REQUESTS), plain)
        assert_same_images(run_batch(model, spec(), REQUESTS[:2]), plain[:2])
    finally:
        torch._dynamo.reset()


@pytest.mark.parametrize(
    ("count", "buckets", "size"),
    [(1, (1, 2, 4, 8), 1), (3, (1, 2, 4, 8), 4), (8, (1, 2, 4, 8), 8), (9, (1, 8), 9), (5, (), 5)],
)
def test_batches_pad_up_to_their_bucket_and_never_down(count, buckets, size):
    assert serving.bucket_size(count, buckets) == size


def test_an_empty_batch_has_no_bucket():
    with pytest.raises(ValueError, match="at least one"):
        serving.bucket_size(0, (1, 2))


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"dtype": "float64"}, "dtype"),
        ({"compile": "everything"}, "compile must"),
        ({"compile_mode": "fast"}, "compile_mode"),
        ({"fuse_qkv": True, "sdpa": False}, "SDPA"),
        ({"buckets": (4, 2)}, "ascending"),
        ({"buckets": (0, 2)}, "positive"),
        ({"text_cache_entries": -1}, "text_cache_entries"),
    ],
)
def test_options_refuse(fields, message):
    with pytest.raises(ValueError, match=message):
        serving.ServingOptions(**fields)


@pytest.mark.parametrize("family", FAMILIES)
def test_cached_embeddings_are_the_pipelines_own(family):
    pipe = TINY_BUILDERS[family](0)
    cache = serving.TextEmbeddingCache(max_entries=4)
    got = cache.embeddings(pipe, ["a fox", "an owl"], ["", "blurry"], torch.device("cpu"))
    expected = pipe.encode_prompt(
        prompt=["a fox", "an owl"],
        device=torch.device("cpu"),
        num_images_per_prompt=1,
        do_classifier_free_guidance=True,
        negative_prompt=["", "blurry"],
    )
    names = ["prompt_embeds", "negative_prompt_embeds"]
    if family == "sdxl":
        names += ["pooled_prompt_embeds", "negative_pooled_prompt_embeds"]
    assert sorted(got) == sorted(names)
    for name, tensor in zip(names, expected, strict=True):
        torch.testing.assert_close(got[name], tensor, rtol=1e-5, atol=1e-5)


def test_text_cache_drops_the_least_recently_used():
    pipe = TINY_BUILDERS["sd15"](0)
    cache = serving.TextEmbeddingCache(max_entries=2)
    cpu = torch.device("cpu")
    cache.embeddings(pipe, ["a"], ["b"], cpu)
    cache.embeddings(pipe, ["a"], ["a"], cpu)  # "a" is now the most recent
    cache.embeddings(pipe, ["c"], ["c"], cpu)  # evicts "b"
    assert (len(cache), cache.hits, cache.misses) == (2, 1, 3)
    cache.embeddings(pipe, ["a"], ["b"], cpu)
    assert (cache.hits, cache.misses) == (2, 4)


def test_compile_cache_round_trips(tmp_path, monkeypatch):
    saved = []
    monkeypatch.setattr(torch.compiler, "save_cache_artifacts", lambda: (b"compiled", None))
    monkeypatch.setattr(torch.compiler, "load_cache_artifacts", saved.append)
    monkeypatch.setenv("TORCHINDUCTOR_CACHE_DIR", "/elsewhere")
    folder = tmp_path / "cache"
    assert serving.compile_cache_save(folder) == len(b"compiled")
    serving.compile_cache_use(folder)
    assert saved == [b"compiled"]
    assert serving.os.environ["TORCHINDUCTOR_CACHE_DIR"] == str(folder / "inductor")
    assert [path.name for path in folder.iterdir()] == [serving.ARTIFACTS_FILE]


def test_nothing_to_save_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(torch.compiler, "save_cache_artifacts", lambda: None)
    assert serving.compile_cache_save(tmp_path / "cache") == 0
    assert not (tmp_path / "cache").exists()


@pytest.mark.parametrize(("compile_target", "buckets"), [("unet+vae", (1, 2, 4, 8)), ("off", ())])
def test_worker_options_follow_the_settings(settings, compile_target, buckets):
    settings.GPU_COMPILE = compile_target
    settings.GPU_BATCH_BUCKETS = (1, 2, 4, 8)
    options = worker.serving_options()
    assert (options.compile, options.buckets) == (compile_target, buckets)
    assert (options.compile_cache_dir is None) == (compile_target == "off")


def test_only_a_decoder_upcast_at_every_decode_stays_eager():
    # SD 1.x VAEs carry diffusers' default force_upcast=True too, but only SDXL pipelines act on
    # it (measured on the H100: the SD 1.5 decoder had wrongly been left eager).
    assert serving.decoder_compilable(TINY_BUILDERS["sd15"](0).to(dtype=torch.float16))
    assert not serving.decoder_compilable(TINY_BUILDERS["sdxl"](0).to(dtype=torch.float16))
    assert serving.decoder_compilable(TINY_BUILDERS["sdxl"](0))  # float32: nothing to upcast


def test_an_sdxl_vae_made_for_fp16_is_compiled():
    # The fp16-fixed SDXL VAE (madebyollin/sdxl-vae-fp16-fix) says force_upcast: false, and the
    # SDXL bench decodes with it: its pipeline decodes in fp16 and the decoder can be compiled.
    pipe = TINY_BUILDERS["sdxl"](0).to(dtype=torch.float16)
    pipe.vae.register_to_config(force_upcast=False)
    assert serving.decoder_compilable(pipe)


def test_warm_up_runs_one_batch_per_bucket_at_the_native_size():
    model = loaded("sd15", serving.ServingOptions(buckets=(1, 3)))
    seconds = warm_up(model, steps=1)
    assert sorted(seconds) == [1, 3] and all(value > 0 for value in seconds.values())
