"""Measuring the default model (plain module, no Django): generation in batches, attribute
adherence scored by the classifier, a Frechet distance on the classifier's features, and
perceptual-hash distances for the memorization demonstration."""

from collections.abc import Sequence
from dataclasses import dataclass

import imagehash
import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from PIL import Image
from scipy import linalg

from defaultmodel import classifier as attribute_classifier
from defaultmodel import scenes
from moderation.memorization import HashCatalog


@torch.no_grad()
def generate(
    pipe: StableDiffusionPipeline,
    captions: Sequence[str],
    seeds: Sequence[int],
    *,
    guidance_scale: float,
    steps: int = 25,
    batch: int = 256,
) -> np.ndarray:
    """(N, 64, 64, 3) uint8 images, one per (caption, seed). Each image's starting noise comes
    from its own CPU generator seeded with its seed, as the platform draws it, so an image is
    the same whatever batch it was made in."""
    if len(captions) != len(seeds):
        raise ValueError("one seed per caption")
    out = []
    for start in range(0, len(captions), batch):
        result = pipe(
            prompt=list(captions[start : start + batch]),
            num_inference_steps=steps,
            guidance_scale=guidance_scale,
            generator=[torch.Generator("cpu").manual_seed(s) for s in seeds[start : start + batch]],
            height=scenes.IMAGE_SIZE,
            width=scenes.IMAGE_SIZE,
            output_type="np",
        )
        out.append((result.images * 255.0).round().clip(0, 255).astype(np.uint8))
    return np.concatenate(out)


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Frechet distance between Gaussians fitted to two feature sets (the FID formula of
    Heusel et al. 2017, computed as pytorch-fid does)."""
    mu_a, mu_b = features_a.mean(axis=0), features_b.mean(axis=0)
    sigma_a = np.cov(features_a, rowvar=False)
    sigma_b = np.cov(features_b, rowvar=False)
    covmean = linalg.sqrtm(sigma_a @ sigma_b)
    if not np.isfinite(covmean).all():
        # A near-singular product: pytorch-fid's remedy, a small ridge on both covariances.
        ridge = np.eye(sigma_a.shape[0]) * 1e-6
        covmean = linalg.sqrtm((sigma_a + ridge) @ (sigma_b + ridge))
    covmean = np.real(covmean)
    diff = mu_a - mu_b
    return float(diff @ diff + np.trace(sigma_a) + np.trace(sigma_b) - 2.0 * np.trace(covmean))


def adherence(net, images: np.ndarray, attributes: Sequence[dict]) -> dict:
    """Classifier accuracy of `images` against the attributes they were asked for: per head,
    and "all" for colour, shape and count right together."""
    predictions, _ = attribute_classifier.predict(net, attribute_classifier.to_tensor(images))
    labels = attribute_classifier.labels_of(attributes)
    result = attribute_classifier.accuracy(predictions, labels)
    result["colour_shape_count"] = attribute_classifier.accuracy(
        predictions, labels, ("colour", "shape", "count")
    )["all"]
    del result["all"]
    return result


def features(net, images: np.ndarray) -> np.ndarray:
    _, hidden = attribute_classifier.predict(net, attribute_classifier.to_tensor(images))
    return hidden.numpy()


def phash_distance(a: Image.Image, b: Image.Image) -> int:
    return int(imagehash.phash(a) - imagehash.phash(b))


def catalog_of(keys: Sequence[str], images: Sequence[Image.Image]) -> HashCatalog:
    """The memorization gate's hash catalog of `images`, keyed by `keys`."""
    hashes: dict[str, list[str]] = {"phash": [], "dhash": [], "whash": []}
    for image in images:
        hashes["phash"].append(str(imagehash.phash(image)))
        hashes["dhash"].append(str(imagehash.dhash(image)))
        hashes["whash"].append(str(imagehash.whash(image)))
    return HashCatalog(keys, hashes)


@dataclass(frozen=True)
class CopyCheck:
    phash_distances: list[int]
    gate_matches: list[list[str]]  # catalog keys the gate's rule matches, per image

    @property
    def rate(self) -> float:
        """Share of images the gate would block."""
        return sum(bool(m) for m in self.gate_matches) / max(len(self.gate_matches), 1)


def copy_check(
    images: np.ndarray, references: Sequence[Image.Image], catalog: HashCatalog, radius: int = 8
) -> CopyCheck:
    """For each generated image: its pHash distance to its own reference image, and which
    catalogued items the memorization gate's rule would match at `radius`."""
    distances, matches = [], []
    for array, reference in zip(images, references, strict=True):
        image = Image.fromarray(array)
        distances.append(phash_distance(image, reference))
        matches.append([m.key for m in catalog.search(image, radius)])
    return CopyCheck(distances, matches)
