"""`clip_concepts`: a CLIP concept classifier in the manner of the Stable Diffusion safety checker
(plain module, no Django).

diffusers' `StableDiffusionSafetyChecker` projects the image with CLIP's vision tower, takes the
cosine similarity of the normalised embedding to 17 concept embeddings and 3 "special care"
embeddings, subtracts a threshold per concept, and flags the image when a result is positive;
a positive special-care result first adds 0.01 to every concept's result. Its concept
embeddings are opaque weights of one ViT-L/14 checkpoint. Here they are computed from concept
texts kept in the repository (`moderation/data/clip_concepts.yaml`) with the checkpoint's own
text tower, so any CLIP checkpoint works and the concepts can be read and reviewed. The margin
is turned into a score in [0, 1] by `sigmoid(scale * margin)`, monotone in the cosine, with the
checker's decision boundary at 0.5.

Weights are read from a local folder only (`CLIPModel.from_pretrained(folder)`, no hub), run on
the CPU in float32, batched, under `torch.inference_mode()`."""

import hashlib
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import yaml
from PIL import Image
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy.special import expit
from transformers import CLIPImageProcessorPil, CLIPModel, CLIPTokenizer

from moderation.image_safety import ClassifierScores, ClassifierUnavailable, image_views

CONCEPTS_PATH = Path(__file__).resolve().parent / "data" / "clip_concepts.yaml"
NAME = "clip_concepts"
# Images per forward pass: bounds memory for large batches (and alpha images, which count
# three times, or wide ones, which count once per tile).
SUB_BATCH = 16
# A non-square image is covered by square tiles, because CLIP's processor keeps only the
# centre square and content at the sides would go unseen. Beyond this many tiles the short
# side is padded instead, so a strip of any shape costs at most this many passes.
MAX_TILES = 4
_TILE_PADDING = (124, 116, 104)  # CLIP's mean colour, neutral after normalisation
_TOKENIZER_FILES = ("tokenizer.json", "vocab.json")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConceptGroup(_Strict):
    offset: float = Field(ge=-1.0, le=1.0)
    concepts: list[str] = Field(min_length=1)


class SpecialCare(ConceptGroup):
    adjustment: float = Field(ge=0.0, le=0.2)


class ConceptFile(_Strict):
    version: int
    scale: float = Field(gt=0.0, le=1000.0)
    special_care: SpecialCare
    scores: dict[str, ConceptGroup] = Field(min_length=1)


@dataclass(frozen=True)
class ConceptTable:
    """The parsed concept file and the sha256 of its bytes."""

    concepts: ConceptFile
    sha256: str

    @classmethod
    def read(cls, path: Path = CONCEPTS_PATH) -> "ConceptTable":
        """Reads and validates a concept file; raises `ClassifierUnavailable` if it is bad."""
        try:
            raw = Path(path).read_bytes()
            return cls(ConceptFile.model_validate(yaml.safe_load(raw)), _sha256(raw))
        except (OSError, yaml.YAMLError, ValidationError) as exc:
            raise ClassifierUnavailable(f"the CLIP concept file {path} is unusable: {exc}") from exc


@dataclass(frozen=True)
class ConceptEmbeddings:
    """L2-normalised text embeddings, one row per concept phrase, in the file's order."""

    special_care: np.ndarray
    scores: dict[str, np.ndarray]


def score_image(
    views: np.ndarray, table: ConceptTable, text: ConceptEmbeddings
) -> tuple[dict[str, float], dict]:
    """Scores one image from the L2-normalised embeddings of its views (one row per view).

    Every score takes the view and concept with the highest cosine; the special-care adjustment
    applies to the whole image once any view matches a special-care concept."""
    concepts = table.concepts
    special = views @ text.special_care.T
    matched = sorted(
        {
            concepts.special_care.concepts[index]
            for index in np.flatnonzero((special > concepts.special_care.offset).any(axis=0))
        }
    )
    adjustment = concepts.special_care.adjustment if matched else 0.0
    scores: dict[str, float] = {}
    evidence: dict[str, dict] = {}
    for name, group in concepts.scores.items():
        cosines = views @ text.scores[name].T
        view, best = np.unravel_index(np.argmax(cosines), cosines.shape)
        cosine = float(cosines[view, best])
        margin = cosine - group.offset + adjustment
        scores[name] = float(expit(concepts.scale * margin))
        evidence[name] = {
            "concept": group.concepts[best],
            "cosine": round(cosine, 4),
            "margin": round(margin, 4),
        }
    details = {
        "concepts": evidence,
        "special_care": matched,
        "adjustment": adjustment,
        "views": len(views),
    }
    return scores, details


def square_tiles(image: Image.Image, max_tiles: int = MAX_TILES) -> list[Image.Image]:
    """Square crops that together cover the whole image, evenly spaced along its long side."""
    width, height = image.size
    short, long = min(width, height), max(width, height)
    count = math.ceil(long / short)
    if count > max_tiles:
        short = math.ceil(long / max_tiles)
        padded = Image.new("RGB", (long, short) if width > height else (short, long), _TILE_PADDING)
        padded.paste(image, ((padded.width - width) // 2, (padded.height - height) // 2))
        image, width, height, count = padded, padded.width, padded.height, max_tiles
    if count == 1:
        return [image]
    starts = [round(i * (long - short) / (count - 1)) for i in range(count)]
    if width > height:
        return [image.crop((x, 0, x + short, short)) for x in starts]
    return [image.crop((0, y, short, y + short)) for y in starts]


class ClipConceptClassifier:
    """CLIP image embeddings scored against concept text embeddings; see the module docstring."""

    name = NAME

    def __init__(
        self,
        *,
        model: CLIPModel,
        processor: CLIPImageProcessorPil,
        table: ConceptTable,
        text: ConceptEmbeddings,
        version: str,
    ):
        self.model = model
        self.processor = processor
        self.table = table
        self.text = text
        self.version = version

    def classify(self, images: Sequence[Image.Image]) -> list[ClassifierScores]:
        """One result per image, in order; scores every view and tile, keeps the worst."""
        # 1. Check inputs and cut every image into the pictures CLIP sees.
        pictures = [
            [tile for view in views for tile in square_tiles(view)] for views in image_views(images)
        ]
        if not pictures:
            return []
        # 2. Embed all of them, in sub-batches.
        embeddings = self.embed_images([tile for tiles in pictures for tile in tiles])
        # 3. Score each image from its own rows.
        results, start = [], 0
        for tiles in pictures:
            scores, details = score_image(
                embeddings[start : start + len(tiles)], self.table, self.text
            )
            results.append(ClassifierScores(self.name, self.version, scores, details))
            start += len(tiles)
        return results

    def embed_images(self, pictures: Sequence[Image.Image]) -> np.ndarray:
        """L2-normalised image embeddings (float64, one row per picture)."""
        rows = []
        for start in range(0, len(pictures), SUB_BATCH):
            chunk = list(pictures[start : start + SUB_BATCH])
            pixels = self.processor(images=chunk, return_tensors="pt")["pixel_values"]
            with torch.inference_mode():
                features = self.model.get_image_features(pixel_values=pixels).pooler_output
            if features.ndim != 2 or len(features) != len(chunk):
                raise ValueError(
                    f"the CLIP model returned embeddings of shape {tuple(features.shape)} "
                    f"for {len(chunk)} pictures"
                )
            rows.append(_normalised(features, what="image"))
        return np.concatenate(rows)


def _normalised(features: torch.Tensor, *, what: str) -> np.ndarray:
    array = features.detach().to(torch.float64).cpu().numpy()
    norms = np.linalg.norm(array, axis=1, keepdims=True)
    # A zero or non-finite embedding has no direction; scoring it would give a made-up low
    # score instead of an error.
    if not np.isfinite(array).all() or not (norms > 0).all():
        raise FloatingPointError(f"the CLIP model produced unusable {what} embeddings")
    return array / norms


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_text_cache: dict[tuple[str, str, str], ConceptEmbeddings] = {}


def concept_embeddings(
    model: CLIPModel, tokenizer: CLIPTokenizer, table: ConceptTable, *, key: tuple[str, str]
) -> ConceptEmbeddings:
    """Text embeddings of every concept phrase, computed once per (model folder, weights
    digest) in `key` and concept-file sha256."""
    cache_key = (*key, table.sha256)
    if cache_key not in _text_cache:
        concepts = table.concepts
        groups = {"": concepts.special_care.concepts} | {
            name: group.concepts for name, group in concepts.scores.items()
        }
        phrases = [phrase for group in groups.values() for phrase in group]
        max_length = min(
            tokenizer.model_max_length, model.config.text_config.max_position_embeddings
        )
        tokens = tokenizer(
            phrases, padding=True, truncation=True, max_length=max_length, return_tensors="pt"
        )
        with torch.inference_mode():
            features = model.get_text_features(
                input_ids=tokens["input_ids"], attention_mask=tokens["attention_mask"]
            ).pooler_output
        rows = _normalised(features, what="text")
        split, start = {}, 0
        for name, group in groups.items():
            split[name] = rows[start : start + len(group)]
            start += len(group)
        special = split.pop("")
        _text_cache[cache_key] = ConceptEmbeddings(special_care=special, scores=split)
    return _text_cache[cache_key]


def load_clip_concepts(folder: Path, concepts_path: Path = CONCEPTS_PATH) -> ClipConceptClassifier:
    """Loads a CLIP checkpoint from a local folder; raises `ClassifierUnavailable` saying why it
    cannot."""
    from generation.weights import WeightsError, weights_sha256

    folder = Path(folder)
    if not folder.is_dir():
        raise ClassifierUnavailable(f"the CLIP model folder {folder} does not exist")
    if not (folder / "config.json").is_file():
        raise ClassifierUnavailable(
            f"the CLIP model folder {folder} has no config.json: it is not a transformers "
            "checkpoint (save one with CLIPModel.save_pretrained)"
        )
    table = ConceptTable.read(concepts_path)
    model = _model(folder)
    tokenizer = _tokenizer(folder, model)
    processor = _processor(folder, model)
    try:
        digest = weights_sha256(folder)
    except WeightsError as exc:
        raise ClassifierUnavailable(f"the CLIP weights in {folder} cannot be read: {exc}") from exc
    try:
        text = concept_embeddings(model, tokenizer, table, key=(str(folder), digest))
        classifier = ClipConceptClassifier(
            model=model,
            processor=processor,
            table=table,
            text=text,
            version=f"clip-concepts-v1:weights={digest[:12]}:concepts={table.sha256[:12]}",
        )
        # One tiny image through the whole path, so a checkpoint that loads but cannot run
        # (wrong image size, NaN weights) is reported now rather than on the first asset.
        classifier.classify([Image.new("RGB", (8, 8), (128, 128, 128))])
    except Exception as exc:
        raise ClassifierUnavailable(
            f"the CLIP checkpoint in {folder} loads but does not run: {type(exc).__name__}: {exc}"
        ) from exc
    return classifier


def _model(folder: Path) -> CLIPModel:
    try:
        model, info = CLIPModel.from_pretrained(
            folder, local_files_only=True, dtype=torch.float32, output_loading_info=True
        )
    except Exception as exc:
        raise ClassifierUnavailable(
            f"the CLIP weights in {folder} cannot be loaded: {type(exc).__name__}: {exc}"
        ) from exc
    # transformers fills weights missing from the checkpoint with random values and only warns;
    # a half-random CLIP would score images with noise.
    absent = sorted(set(info["missing_keys"]) | {key for key, *_ in info["mismatched_keys"]})
    if absent:
        raise ClassifierUnavailable(
            f"the CLIP checkpoint in {folder} lacks {len(absent)} weights "
            f"({', '.join(absent[:3])}...): it must be a full CLIPModel with both towers (a "
            "Stable Diffusion safety_checker folder has no text tower)"
        )
    return model.to("cpu").eval()


def _tokenizer(folder: Path, model: CLIPModel) -> CLIPTokenizer:
    if any((folder / name).is_file() for name in _TOKENIZER_FILES):
        try:
            tokenizer = CLIPTokenizer.from_pretrained(folder, local_files_only=True)
        except Exception as exc:
            raise ClassifierUnavailable(
                f"the CLIP tokenizer in {folder} cannot be loaded: {type(exc).__name__}: {exc}"
            ) from exc
    else:
        from generation.tokenizer import TokenizerUnavailable, clip_tokenizer

        try:
            tokenizer = clip_tokenizer(model.config.text_config.max_position_embeddings)
        except TokenizerUnavailable as exc:
            raise ClassifierUnavailable(
                f"the CLIP model folder {folder} has no tokenizer files and the offline CLIP "
                f"tokenizer is unavailable: {exc}"
            ) from exc
    vocab_size = model.config.text_config.vocab_size
    if len(tokenizer) > vocab_size:
        raise ClassifierUnavailable(
            f"the CLIP tokenizer has {len(tokenizer)} tokens but the text model in {folder} "
            f"only {vocab_size}: they do not belong together"
        )
    return tokenizer


def _processor(folder: Path, model: CLIPModel) -> CLIPImageProcessorPil:
    size = model.config.vision_config.image_size
    if not (folder / "preprocessor_config.json").is_file():
        # Every CLIP checkpoint uses the same preprocessing (bicubic resize of the short side,
        # centre crop, CLIP's mean and std); only the size varies, and the config states it.
        return CLIPImageProcessorPil(
            size={"shortest_edge": size}, crop_size={"height": size, "width": size}
        )
    try:
        return CLIPImageProcessorPil.from_pretrained(folder, local_files_only=True)
    except Exception as exc:
        raise ClassifierUnavailable(
            f"the CLIP image preprocessing in {folder} cannot be loaded: "
            f"{type(exc).__name__}: {exc}"
        ) from exc
