"""Image-safety classifiers: a tiny random CLIP saved to disk and loaded through the real path,
NudeNet's packaged detector on benign pictures, and every refusal (missing or broken weights,
bad images, a failing model) raised rather than turned into scores."""

import io
import json
import shutil
import sys

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file
from scipy.special import expit
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel

import moderation.image_safety_clip as clip_module
from generation.tokenizer import VOCAB_SIZE, clip_tokenizer
from moderation.image_safety import (
    ClassifierScores,
    ClassifierUnavailable,
    ImageClassifier,
    classifier_status,
    clear_classifier_cache,
    image_views,
    load_classifier,
)
from moderation.image_safety_clip import (
    CONCEPTS_PATH,
    ConceptEmbeddings,
    ConceptTable,
    load_clip_concepts,
    score_image,
    square_tiles,
)
from moderation.image_safety_nudenet import (
    LABELS,
    NudeNetClassifier,
    bgr_array,
    checked_detections,
    load_nudenet,
    nudity_score,
)
from policies.rules import ImageSafetyRules

IMAGE_SIZE = 32
NUDENET_MISSING = "NudeNet is not installed (optional plug-in, AGPL-3.0): make optional"


def tiny_clip(seed: int = 0, *, vocab_size: int = VOCAB_SIZE) -> CLIPModel:
    config = CLIPConfig(
        text_config={
            "vocab_size": vocab_size,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
            "max_position_embeddings": 77,
            "bos_token_id": 49406,
            "eos_token_id": 49407,
            "pad_token_id": 49407,
        },
        vision_config={
            "image_size": IMAGE_SIZE,
            "patch_size": 8,
            "hidden_size": 32,
            "intermediate_size": 37,
            "num_hidden_layers": 2,
            "num_attention_heads": 4,
        },
        projection_dim=16,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPModel(config)


def pictures() -> list[Image.Image]:
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (48, 40, 3), dtype=np.uint8)
    gradient = np.linspace(0, 255, 64 * 64 * 3).reshape(64, 64, 3).astype(np.uint8)
    return [
        Image.new("RGB", (64, 64), (200, 30, 30)),
        Image.fromarray(noise),
        Image.fromarray(gradient),
        Image.new("RGB", (96, 40), (10, 120, 240)),
        Image.new("RGB", (3, 5), (255, 255, 255)),
    ]


@pytest.fixture(scope="module")
def clip_dir(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip")
    tiny_clip().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    # The tiny models are too small to split across threads; on a shared 2-core machine the
    # second thread only waits for a core (bench/README.md measured it 30x slower).
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_classifier_cache()
    yield
    clear_classifier_cache()


@pytest.fixture(scope="module")
def clip(clip_dir):
    return load_clip_concepts(clip_dir)


def broken_copy(clip_dir, tmp_path):
    return shutil.copytree(clip_dir, tmp_path / "clip")


def scores_of(results: list[ClassifierScores]) -> np.ndarray:
    return np.array([[r.scores[name] for name in sorted(r.scores)] for r in results])


# --- clip_concepts -----------------------------------------------------------------------------


def test_clip_loads_from_local_folder_and_scores_every_image(clip, clip_dir):
    assert isinstance(clip, ImageClassifier)
    results = clip.classify(pictures())
    assert len(results) == 5
    for result in results:
        assert result.name == "clip_concepts"
        assert result.version == clip.version
        assert set(result.scores) == {"nudity", "violence", "unsafe"}
        assert all(0.0 <= value <= 1.0 for value in result.scores.values())
        assert set(result.details["concepts"]) == {"nudity", "violence", "unsafe"}
        json.dumps(result.details)  # stored in GateResult and the audit log
    assert clip.text.scores["nudity"].shape == (12, 16)
    assert clip.text.special_care.shape == (4, 16)


def test_policy_score_names_all_have_concepts():
    table = ConceptTable.read()
    assert set(ImageSafetyRules().thresholds) <= set(table.concepts.scores)


def test_clip_scores_equal_a_reference_computation(clip):
    # The same numbers computed step by step from the model's own towers and the documented
    # formula: sigmoid(scale * (max cosine - offset + adjustment)).
    image = pictures()[2]  # square: one tile, so CLIP's centre crop sees all of it
    tokenizer = clip_tokenizer()
    table = ConceptTable.read()
    with torch.inference_mode():
        pixels = clip.processor(images=[image], return_tensors="pt")["pixel_values"]
        embed = clip.model.get_image_features(pixel_values=pixels).pooler_output[0].double()
        embed = embed / embed.norm()

        def text_embeds(phrases):
            tokens = tokenizer(phrases, padding=True, return_tensors="pt")
            out = clip.model.get_text_features(**tokens).pooler_output.double()
            return out / out.norm(dim=1, keepdim=True)

        (result,) = clip.classify([image])
        special = text_embeds(table.concepts.special_care.concepts) @ embed
        adjustment = 0.01 if bool((special > table.concepts.special_care.offset).any()) else 0.0
        for name, group in table.concepts.scores.items():
            cosine = float((text_embeds(group.concepts) @ embed).max())
            expected = expit(table.concepts.scale * (cosine - group.offset + adjustment))
            assert result.scores[name] == pytest.approx(expected, abs=1e-6)
            assert result.details["adjustment"] == adjustment


def test_clip_is_deterministic_across_calls_and_reloads(clip, clip_dir):
    first = scores_of(clip.classify(pictures()))
    assert np.array_equal(first, scores_of(clip.classify(pictures())))
    clear_classifier_cache()
    again = load_classifier("clip_concepts", clip_model_dir=clip_dir)
    assert again is not clip
    assert np.array_equal(first, scores_of(again.classify(pictures())))


def test_clip_batch_equals_one_by_one(clip, monkeypatch):
    images = pictures()
    monkeypatch.setattr(clip_module, "SUB_BATCH", 2)  # several sub-batches, one partial
    batched = scores_of(clip.classify(images))
    single = np.concatenate([scores_of(clip.classify([image])) for image in images])
    np.testing.assert_allclose(batched, single, atol=1e-6)


def test_other_weights_give_other_scores(clip, tmp_path):
    tiny_clip(seed=1).save_pretrained(tmp_path)
    other = load_classifier("clip_concepts", clip_model_dir=tmp_path)
    assert other.version != clip.version
    assert not np.allclose(
        scores_of(other.classify(pictures())), scores_of(clip.classify(pictures()))
    )


def test_tokenizer_and_processor_files_in_the_folder_are_used(clip, clip_dir, tmp_path):
    folder = broken_copy(clip_dir, tmp_path)
    clip_tokenizer().save_pretrained(folder)
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": IMAGE_SIZE}, crop_size={"height": IMAGE_SIZE, "width": IMAGE_SIZE}
    )
    processor.save_pretrained(folder)
    with_files = load_classifier("clip_concepts", clip_model_dir=folder)
    # Same vocabulary and preprocessing as the fallbacks, so the same scores.
    np.testing.assert_allclose(
        scores_of(with_files.classify(pictures())), scores_of(clip.classify(pictures())), atol=1e-9
    )
    processor.crop_size = {"height": 48, "width": 48}
    processor.save_pretrained(folder)
    clear_classifier_cache()
    with pytest.raises(ClassifierUnavailable, match="loads but does not run"):
        load_classifier("clip_concepts", clip_model_dir=folder)


def unit(dim: int = 64, **components: float) -> np.ndarray:
    """A one-row unit vector with the given components (`c4=0.2`: 0.2 on axis 4); the rest of
    its length lies on the last axis, which no concept uses."""
    vector = np.zeros(dim)
    for axis, value in components.items():
        vector[int(axis[1:])] = value
    vector[-1] = np.sqrt(1 - np.sum(vector**2))
    return vector[None, :]


def test_score_image_follows_the_safety_checker_rule():
    table = ConceptTable.read()
    basis = np.eye(64)
    # Orthonormal concept embeddings: special care on axes 0-3, then each group in turn.
    care = table.concepts.special_care
    groups, start = {}, len(care.concepts)
    for name, group in table.concepts.scores.items():
        groups[name] = basis[start : start + len(group.concepts)]
        start += len(group.concepts)
    assert start < 63
    text = ConceptEmbeddings(special_care=basis[: len(care.concepts)], scores=groups)
    scale, nudity, violence = (
        table.concepts.scale,
        table.concepts.scores["nudity"],
        table.concepts.scores["violence"],
    )
    first = f"c{len(care.concepts)}"  # the first nudity concept's axis

    scores, details = score_image(unit(**{first: 1.0}), table, text)
    assert scores["nudity"] == pytest.approx(expit(scale * (1.0 - nudity.offset)))
    assert details["concepts"]["nudity"]["concept"] == nudity.concepts[0]
    assert scores["violence"] == pytest.approx(expit(-scale * violence.offset))  # cosine 0
    assert details["special_care"] == [] and details["adjustment"] == 0.0
    # Exactly at the offset is the checker's boundary: 0.5; above it more, below it less.
    assert score_image(unit(**{first: nudity.offset}), table, text)[0]["nudity"] == (
        pytest.approx(0.5)
    )
    above = score_image(unit(**{first: nudity.offset + 0.02}), table, text)[0]["nudity"]
    below = score_image(unit(**{first: nudity.offset - 0.02}), table, text)[0]["nudity"]
    assert below < 0.5 < above
    # A special-care match adds the adjustment to every margin.
    scores, details = score_image(
        unit(c1=care.offset + 0.05, **{first: nudity.offset}), table, text
    )
    assert details["special_care"] == [care.concepts[1]]
    assert details["adjustment"] == care.adjustment == 0.01
    assert scores["nudity"] == pytest.approx(expit(scale * care.adjustment))
    # Just under the special-care offset: no adjustment.
    scores, details = score_image(
        unit(c1=care.offset - 0.001, **{first: nudity.offset}), table, text
    )
    assert details["adjustment"] == 0.0 and scores["nudity"] == pytest.approx(0.5)


def test_score_image_takes_the_worst_view():
    table = ConceptTable.read()
    dim = 64
    special = np.zeros((4, dim))
    special[:, 63] = 1.0
    groups = {name: np.eye(dim)[[i]] for i, name in enumerate(table.concepts.scores)}
    text = ConceptEmbeddings(special_care=special, scores=groups)
    benign, unsafe = np.eye(dim)[[10]], np.eye(dim)[[0]]
    alone, _ = score_image(benign, table, text)
    both, details = score_image(np.concatenate([benign, unsafe]), table, text)
    assert alone["nudity"] < 0.01 < 0.99 < both["nudity"]
    assert details["views"] == 2


def test_square_tiles_cover_the_whole_image():
    wide = Image.fromarray((np.arange(300 * 100 * 3).reshape(100, 300, 3) % 251).astype(np.uint8))
    tiles = square_tiles(wide)
    assert [tile.size for tile in tiles] == [(100, 100)] * 3
    pixels = np.asarray(wide)
    assert np.array_equal(np.asarray(tiles[0])[:, 0], pixels[:, 0])
    assert np.array_equal(np.asarray(tiles[-1])[:, -1], pixels[:, -1])
    assert len(square_tiles(Image.new("RGB", (64, 64)))) == 1
    tall = square_tiles(Image.new("RGB", (64, 100)))
    assert [tile.size for tile in tall] == [(64, 64)] * 2
    strip = square_tiles(Image.new("RGB", (1, 500), (255, 0, 0)))
    assert [tile.size for tile in strip] == [(125, 125)] * 4
    # The strip is padded, not resized: its red column is still in every tile.
    assert all((255, 0, 0) in {c for _, c in tile.getcolors(1 << 16)} for tile in strip)


def test_wide_image_content_at_the_edge_is_seen(clip):
    (result,) = clip.classify([Image.new("RGB", (200, 64))])
    assert result.details["views"] == 4
    (square,) = clip.classify([Image.new("RGB", (64, 64))])
    assert square.details["views"] == 1


@pytest.mark.parametrize("mode", ["1", "L", "P", "CMYK", "YCbCr", "LA", "PA", "RGBX", "RGBA"])
def test_non_rgb_modes_and_tiny_images_are_scored(clip, mode):
    images = [pictures()[1].convert(mode), Image.new(mode, (1, 1)), Image.new(mode, (2, 3))]
    results = clip.classify(images)
    assert len(results) == 3
    assert all(0 <= v <= 1 for r in results for v in r.scores.values())


def test_transparent_images_are_scored_in_every_rendering(clip):
    opaque = Image.new("RGBA", (32, 32), (200, 10, 10, 255))
    clear = Image.new("RGBA", (32, 32), (200, 10, 10, 0))
    assert len(image_views([opaque])[0]) == 1
    raw, on_white, on_black = image_views([clear])[0]
    assert raw.getpixel((0, 0)) == (200, 10, 10)
    assert on_white.getpixel((0, 0)) == (255, 255, 255)
    assert on_black.getpixel((0, 0)) == (0, 0, 0)
    (result,) = clip.classify([clear])
    assert result.details["views"] == 3
    worst = max(clip.classify([view])[0].scores["nudity"] for view in (raw, on_white, on_black))
    assert result.scores["nudity"] == pytest.approx(worst, abs=1e-6)


def test_sixteen_bit_greyscale_is_scaled_not_clipped(clip):
    levels = (np.arange(32 * 32).reshape(32, 32) % 256).astype(np.uint8)
    eight = Image.fromarray(levels, "L")
    sixteen = Image.fromarray(levels.astype(np.uint16) * 257)
    assert sixteen.mode == "I;16"
    np.testing.assert_allclose(
        scores_of(clip.classify([sixteen])), scores_of(clip.classify([eight])), atol=1e-9
    )


def truncated_png() -> Image.Image:
    buffer = io.BytesIO()
    pictures()[1].save(buffer, "PNG")
    return Image.open(io.BytesIO(buffer.getvalue()[:200]))


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (lambda: [pictures()[0], truncated_png()], ValueError, "image 1 cannot be decoded"),
        (lambda: [Image.new("RGB", (0, 0))], ValueError, "image 0 is empty"),
        (lambda: [Image.new("I", (4, 4))], ValueError, "image 0: mode I has no defined"),
        (lambda: [Image.new("F", (4, 4))], ValueError, "mode F"),
        (lambda: [Image.new("La", (4, 4))], ValueError, "image 0: conversion from La"),
        (lambda: [np.zeros((4, 4, 3), np.uint8)], TypeError, "image 0 is a ndarray"),
        (lambda: pictures()[0], TypeError, "sequence of images"),
    ],
)
def test_bad_images_are_refused_by_both_classifiers(clip, nudenet, bad, error, message):
    for classifier in (clip, nudenet):
        with pytest.raises(error, match=message):
            classifier.classify(bad())


def test_empty_list_gives_empty_results(clip, nudenet):
    assert clip.classify([]) == []
    assert nudenet.classify([]) == []


def test_model_errors_propagate(clip, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("out of memory")

    monkeypatch.setattr(clip.model, "get_image_features", broken)
    with pytest.raises(RuntimeError, match="out of memory"):
        clip.classify(pictures())


@pytest.mark.parametrize("garbage", [float("nan"), 0.0])
def test_nonsense_embeddings_raise_instead_of_scoring(clip, monkeypatch, garbage):
    real = clip.model.get_image_features

    def nonsense(**kwargs):
        out = real(**kwargs)
        out.pooler_output = torch.full_like(out.pooler_output, garbage)
        return out

    monkeypatch.setattr(clip.model, "get_image_features", nonsense)
    with pytest.raises(FloatingPointError, match="unusable image embeddings"):
        clip.classify(pictures())


def test_embeddings_of_the_wrong_shape_raise(clip, monkeypatch):
    real = clip.model.get_image_features

    def one_row_short(**kwargs):
        out = real(**kwargs)
        out.pooler_output = out.pooler_output[1:]
        return out

    monkeypatch.setattr(clip.model, "get_image_features", one_row_short)
    with pytest.raises(ValueError, match="embeddings of shape"):
        clip.classify(pictures())


def test_scores_out_of_range_are_refused():
    with pytest.raises(ValueError, match="not a probability"):
        ClassifierScores("x", "1", {"nudity": 1.5}, {})
    with pytest.raises(ValueError, match="not a probability"):
        ClassifierScores("x", "1", {"nudity": float("nan")}, {})
    with pytest.raises(ValueError, match="not a probability"):
        ClassifierScores("x", "1", {"nudity": 0}, {})


# --- loading, refusals, caching ----------------------------------------------------------------


def test_unconfigured_or_missing_folder_is_unavailable(tmp_path):
    with pytest.raises(ClassifierUnavailable, match="set MINTMARK_CLIP_MODEL_DIR"):
        load_classifier("clip_concepts", clip_model_dir=None)
    with pytest.raises(ClassifierUnavailable, match="does not exist"):
        load_classifier("clip_concepts", clip_model_dir=tmp_path / "nowhere")
    with pytest.raises(ClassifierUnavailable, match=r"has no config.json"):
        load_classifier("clip_concepts", clip_model_dir=tmp_path)
    with pytest.raises(ClassifierUnavailable, match="unknown image classifier 'watson'"):
        load_classifier("watson", clip_model_dir=tmp_path)


def test_corrupt_weights_are_unavailable(clip_dir, tmp_path):
    folder = broken_copy(clip_dir, tmp_path)
    weights = folder / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(ClassifierUnavailable, match="cannot be loaded"):
        load_classifier("clip_concepts", clip_model_dir=folder)


def test_corrupt_config_is_unavailable(clip_dir, tmp_path):
    folder = broken_copy(clip_dir, tmp_path)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(ClassifierUnavailable, match="cannot be loaded"):
        load_classifier("clip_concepts", clip_model_dir=folder)


def test_weights_missing_from_the_checkpoint_are_not_filled_with_noise(clip_dir, tmp_path):
    folder = broken_copy(clip_dir, tmp_path)
    tensors = load_file(folder / "model.safetensors")
    del tensors["visual_projection.weight"]
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ClassifierUnavailable, match=r"lacks 1 weights.*visual_projection"):
        load_classifier("clip_concepts", clip_model_dir=folder)


def test_a_safety_checker_folder_is_refused_with_a_hint(tmp_path):
    # An operator may point at an SD checkpoint's safety_checker/ folder: a CLIP vision tower
    # with opaque concept weights, no text tower to embed the concept texts with.
    from diffusers.pipelines.stable_diffusion.safety_checker import StableDiffusionSafetyChecker

    config = tiny_clip().config
    config._attn_implementation = "eager"  # the checker class declares no SDPA support
    StableDiffusionSafetyChecker(config).save_pretrained(tmp_path)
    with pytest.raises(ClassifierUnavailable, match="safety_checker folder has no text tower"):
        load_classifier("clip_concepts", clip_model_dir=tmp_path)


def test_nan_weights_are_unavailable(clip_dir, tmp_path):
    folder = broken_copy(clip_dir, tmp_path)
    tensors = load_file(folder / "model.safetensors")
    tensors["visual_projection.weight"].fill_(float("nan"))
    save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})
    with pytest.raises(ClassifierUnavailable, match=r"does not run.*unusable image embeddings"):
        load_classifier("clip_concepts", clip_model_dir=folder)


def test_tokenizer_larger_than_the_text_model_is_unavailable(tmp_path):
    tiny_clip(vocab_size=1000).save_pretrained(tmp_path)
    with pytest.raises(ClassifierUnavailable, match="do not belong together"):
        load_classifier("clip_concepts", clip_model_dir=tmp_path)


def test_bad_concept_file_is_unavailable(clip_dir, tmp_path):
    concepts = tmp_path / "concepts.yaml"
    concepts.write_text(CONCEPTS_PATH.read_text().replace("scale: 50.0", "scale: -1"))
    with pytest.raises(ClassifierUnavailable, match=r"concept file .* is unusable"):
        load_clip_concepts(clip_dir, concepts)


def test_classifiers_are_cached_per_folder(clip_dir, tmp_path):
    loaded = load_classifier("clip_concepts", clip_model_dir=clip_dir)
    assert load_classifier("clip_concepts", clip_model_dir=str(clip_dir)) is loaded
    link = tmp_path / "link"
    link.symlink_to(clip_dir)
    assert load_classifier("clip_concepts", clip_model_dir=link) is loaded
    nudenet = load_classifier("nudenet", clip_model_dir=None)
    assert load_classifier("nudenet", clip_model_dir=clip_dir) is nudenet


def test_text_embeddings_are_cached_per_weights_and_concept_file(clip_dir, tmp_path, monkeypatch):
    calls = []
    real = CLIPModel.get_text_features

    def counting(self, **kwargs):
        calls.append(len(kwargs["input_ids"]))
        return real(self, **kwargs)

    monkeypatch.setattr(CLIPModel, "get_text_features", counting)
    monkeypatch.setattr(clip_module, "_text_cache", {})
    load_clip_concepts(clip_dir)
    load_clip_concepts(clip_dir)
    concepts = tmp_path / "concepts.yaml"
    concepts.write_text(CONCEPTS_PATH.read_text() + "\n# recalibrated\n")
    edited = load_clip_concepts(clip_dir, concepts)
    table = ConceptTable.read()
    phrases = len(table.concepts.special_care.concepts) + sum(
        len(group.concepts) for group in table.concepts.scores.values()
    )
    # Once for the repo's file, once for the edited file, whose hash differs.
    assert calls == [phrases, phrases]
    assert edited.version.endswith(ConceptTable.read(concepts).sha256[:12])


def test_classifier_status_names_reasons(clip_dir, tmp_path):
    assert classifier_status(clip_model_dir=clip_dir) == {"clip_concepts": None, "nudenet": None}
    status = classifier_status(clip_model_dir=tmp_path / "nowhere")
    assert "does not exist" in status["clip_concepts"]
    assert status["nudenet"] is None


# --- nudenet -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def nudenet():
    return load_nudenet()


def photos() -> list[Image.Image]:
    from sklearn.datasets import load_sample_image

    return [Image.fromarray(load_sample_image(name)) for name in ("china.jpg", "flower.jpg")]


def test_nudenet_scores_benign_pictures_low(nudenet):
    images = [*pictures()[:3], *photos(), Image.new("RGB", (1, 1)), Image.new("RGBA", (96, 64))]
    results = nudenet.classify(images)
    assert len(results) == len(images)
    for result in results:
        assert result.name == "nudenet"
        assert result.version.startswith("nudenet-3.4.2:model=")
        assert set(result.scores) == {"nudity"}
        assert result.scores["nudity"] < 0.2
        json.dumps(result.details)


def test_nudenet_batch_equals_one_by_one(nudenet):
    images = [*pictures()[1:3], photos()[0]]
    batched = nudenet.classify(images)
    assert batched == [nudenet.classify([image])[0] for image in images]


def test_nudenet_gets_the_input_of_its_file_path_route(tmp_path):
    from nudenet.nudenet import _read_image

    image = photos()[1]
    path = tmp_path / "flower.png"
    image.save(path)
    from_path, from_array = _read_image(str(path))[0], _read_image(bgr_array(image))[0]
    assert np.array_equal(from_path, from_array)


def test_nudenet_labels_are_the_packaged_model_classes():
    import nudenet.nudenet

    assert frozenset(vars(nudenet.nudenet)["__labels"]) == LABELS


def detection(label: str, score: float) -> dict:
    return {"class": label, "score": score, "box": [1, 2, 3, 4]}


def test_only_exposed_sexual_body_parts_count_as_nudity():
    benign = [
        detection("FACE_FEMALE", 0.95),
        detection("FEET_EXPOSED", 0.9),
        detection("BELLY_EXPOSED", 0.8),
        detection("ARMPITS_EXPOSED", 0.8),
        detection("MALE_BREAST_EXPOSED", 0.8),
        detection("FEMALE_BREAST_COVERED", 0.9),
        detection("BUTTOCKS_COVERED", 0.9),
    ]
    assert nudity_score(checked_detections(benign)) == 0.0
    assert nudity_score([]) == 0.0
    for label in ("FEMALE_GENITALIA_EXPOSED", "MALE_GENITALIA_EXPOSED", "ANUS_EXPOSED"):
        assert nudity_score(checked_detections([*benign, detection(label, 0.41)])) == 0.41
    mixed = [detection("FEMALE_BREAST_EXPOSED", 0.3), detection("BUTTOCKS_EXPOSED", 0.7)]
    assert nudity_score(checked_detections(benign + mixed)) == 0.7


@pytest.mark.parametrize(
    "garbage",
    [
        None,
        [detection("NAKED", 0.9)],
        [detection("BUTTOCKS_EXPOSED", 1.5)],
        [detection("BUTTOCKS_EXPOSED", float("nan"))],
        [{"class": "BUTTOCKS_EXPOSED", "score": 0.5}],
        [{"class": "BUTTOCKS_EXPOSED", "score": 0.5, "box": [1, 2]}],
        [{"class": "BUTTOCKS_EXPOSED", "score": "high", "box": [1, 2, 3, 4]}],
    ],
)
def test_malformed_detections_are_refused(garbage):
    with pytest.raises(ValueError, match="NudeNet returned"):
        checked_detections(garbage)


class FakeDetector:
    """Answers with the detections it is given, one list per picture, in order."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.seen = []

    def detect_batch(self, arrays, batch_size):
        self.seen.extend(arrays)
        return [self.answers.pop(0) for _ in arrays]


def test_nudenet_maps_detections_per_image_and_keeps_the_worst_view():
    translucent = Image.new("RGBA", (16, 16), (0, 0, 0, 10))
    fake = FakeDetector(
        [
            [detection("FACE_MALE", 0.9)],
            [],  # translucent, raw colours
            [detection("BUTTOCKS_EXPOSED", 0.66)],  # translucent over white
            [],  # translucent over black
        ]
    )
    classifier = NudeNetClassifier(detector=fake, version="fake")
    first, second = classifier.classify([Image.new("RGB", (16, 16)), translucent])
    assert first.scores == {"nudity": 0.0}
    assert first.details["detections"][0]["class"] == "FACE_MALE"
    assert second.scores == {"nudity": 0.66}
    assert second.details == {
        "detections": [
            {"class": "BUTTOCKS_EXPOSED", "score": 0.66, "box": [1, 2, 3, 4], "view": 1}
        ],
        "views": 3,
    }
    assert [array.shape for array in fake.seen] == [(16, 16, 3)] * 4


def test_nudenet_detector_faults_propagate():
    class Short:
        def detect_batch(self, arrays, batch_size):
            return [[]]

    short = NudeNetClassifier(detector=Short(), version="fake")
    with pytest.raises(ValueError, match="did not answer once per picture"):
        short.classify([Image.new("RGB", (8, 8))] * 2)

    class Exploding:
        def detect_batch(self, arrays, batch_size):
            raise RuntimeError("onnxruntime failed")

    with pytest.raises(RuntimeError, match="onnxruntime failed"):
        NudeNetClassifier(detector=Exploding(), version="fake").classify([Image.new("RGB", (8, 8))])


def test_nudenet_not_installed_is_unavailable_with_the_install_hint(monkeypatch, clip_dir):
    monkeypatch.setitem(sys.modules, "nudenet", None)
    with pytest.raises(ClassifierUnavailable) as refused:
        load_classifier("nudenet", clip_model_dir=None)
    assert str(refused.value) == NUDENET_MISSING
    assert classifier_status(clip_model_dir=clip_dir) == {
        "clip_concepts": None,
        "nudenet": NUDENET_MISSING,
    }
