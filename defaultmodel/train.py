"""Trains the default model, Mintmark Shapes 64, end to end on one GPU, and measures it.

    PYTHONUNBUFFERED=1 python -m defaultmodel.train --out results/          # the real run
    python -m defaultmodel.train --out /tmp/smoke --smoke                    # a short check

Stages, all seeded from `Config`: draw the data (CPU processes) -> train the VAE -> encode the
training set to latents -> train the attribute classifier -> train the UNet and the text
encoder together (EMA weights kept) -> save the diffusers folder -> load it back the way the
platform's GPU worker does (float16) and evaluate it -> plot the losses -> pack the folder.

`--out` receives at most eight files: `results.json` (config, timings, every measurement),
`train_log.json` (losses), `loss_curves.png`, `samples.png` and `bundle.tar.partNN` (the model
folder, the classifier weights and copies of the above, split in 15 MB parts; `cat` them back
together). Intermediate files go to `--work`."""

import argparse
import dataclasses
import json
import math
import os
import shutil
import tarfile
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import imagehash
import numpy as np
import torch
from diffusers import StableDiffusionPipeline
from diffusers.training_utils import EMAModel
from PIL import Image
from safetensors.torch import save_file
from torch.nn import functional as F

from defaultmodel import classifier as attribute_classifier
from defaultmodel import components, evaluate, export, plot, scenes
from moderation.memorization import HashCatalog

# Seeds of the evaluation streams: disjoint from the training stream (seed 0).
CLASSIFIER_SEED, HELDOUT_SEED, TEST_SEED, REFERENCE_SEED = 101, 102, 103, 104
PART_BYTES = 15 * 2**20


@dataclass(frozen=True)
class Config:
    seed: int = scenes.DEFAULT_SEED
    n_train: int = scenes.DEFAULT_SIZE
    workers: int = 16
    # VAE
    vae_steps: int = 6000  # at most; fewer when vae_seconds runs out first
    vae_seconds: float = 150.0  # time budget that fixes the step count (0: run vae_steps)
    vae_batch: int = 256
    vae_lr: float = 8e-4
    kl_weight: float = 1e-4  # on the KL per latent element
    # Objects cover a few percent of a 64 px scene, so a plain image-wide L1/L2 is mostly about
    # the flat background and lets shapes blur into blobs. Two extra terms, averaged over the
    # object pixels only (anything off the background colour, grown by one pixel): the L1 of
    # the pixels and the L1 of the horizontal and vertical pixel differences (the edges).
    object_weight: float = 1.0
    edge_weight: float = 1.0
    # attribute classifier (the measuring instrument)
    n_classifier: int = 30_000
    classifier_steps: int = 1500
    classifier_batch: int = 256
    classifier_lr: float = 2e-3
    # UNet + text encoder
    # A step costs about the same at batch 256 and 512 on an H100 (launch-bound), so the batch
    # is large and the step count what fits in one 10-minute device call: at most `steps`,
    # fewer when `deadline_s` would come first.
    steps: int = 4000
    batch: int = 1024
    lr: float = 5e-4
    warmup: int = 200
    caption_dropout: float = 0.1  # empty captions, for classifier-free guidance
    snr_gamma: float = 5.0  # min-SNR loss weighting (Hang et al. 2023)
    ema_decay: float = 0.9995
    # Seconds from the start by which UNet training ends (0: never), so that the evaluation
    # still fits in the device call. The step count is fitted to it at the end of the warm-up
    # (and the learning-rate schedule with it); results.json records the steps actually run,
    # which `--set steps=N --set deadline_s=0` (and `vae_steps`, `vae_seconds=0`) repeat.
    deadline_s: float = 470.0
    # torch.compile of the UNet and text encoder for training (CUDA only): fuses the many small
    # normalisation and activation kernels of a model this small, which bound its step time.
    compile: bool = True
    # Seconds between snapshots of the EMA weights during UNet training (0: none). A run that
    # outlasts one device call leaves a usable model behind if its machine is lost.
    snapshot_every_s: float = 0.0
    # evaluation
    eval_steps: int = 25
    guidance_scales: tuple[float, ...] = (3.0, 7.5)  # 7.5: the platform's default
    n_heldout: int = 480
    n_fd: int = 2000
    memo_seeds: int = 32
    n_control: int = 100
    gate_radius: int = 8


SMOKE = {
    "deadline_s": 0.0,
    "vae_seconds": 0.0,
    "batch": 256,
    "vae_batch": 128,
    "n_train": 2000,
    "vae_steps": 60,
    "n_classifier": 2000,
    "classifier_steps": 60,
    "steps": 120,
    "warmup": 20,
    "n_heldout": 48,
    "n_fd": 128,
    "memo_seeds": 4,
    "n_control": 8,
}


def _autocast(device: torch.device):
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")


def _log(message: str, started: float) -> None:
    print(f"[{time.monotonic() - started:7.1f}s] {message}", flush=True)


class _Plan:
    """The step count of a training stage and its learning rate: linear warm-up, then cosine
    decay to zero at the last planned step. With a time budget, the count is cut, once, to the
    steps that fit. The steps timed for that are the second half of the warm-up: late enough
    that compiling and the allocator's first growth are over (timing the first steps after a
    compile fitted 4 117 steps to a budget that had room for about 6 900), and before the decay
    starts, so the schedule never jumps."""

    def __init__(self, optimizer, warmup: int, steps: int, seconds: float, device):
        self.total, self.warmup, self.seconds, self.device = steps, warmup, seconds, device
        self.time_from = max(10, warmup // 2)
        self.time_to = max(self.time_from + 10, warmup)
        self._stage_started = time.monotonic()
        self._timer: float | None = None
        self.schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, self._factor)

    def _factor(self, step: int) -> float:
        if step < self.warmup:
            return step / self.warmup
        progress = min(1.0, (step - self.warmup) / max(1, self.total - self.warmup))
        return 0.5 * (1.0 + math.cos(math.pi * progress))

    def _sync(self) -> float:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
        return time.monotonic()

    def after(self, step: int) -> None:
        if not self.seconds:
            return
        if step == self.time_from:
            self._timer = self._sync()
        elif step == self.time_to:
            per_step = (self._sync() - self._timer) / (self.time_to - self.time_from)
            left = self.seconds - (time.monotonic() - self._stage_started)
            fits = step + int(left / per_step)
            self.total = max(step, min(self.total, fits))


# ---------------------------------------------------------------- data (before CUDA starts)


def _arrays(items: list[scenes.Item]) -> np.ndarray:
    return np.stack([np.asarray(item.image, dtype=np.uint8) for item in items])


def _hashes(array: np.ndarray) -> tuple[str, str, str]:
    image = Image.fromarray(array)
    return str(imagehash.phash(image)), str(imagehash.dhash(image)), str(imagehash.whash(image))


def draw_data(cfg: Config) -> dict:
    """Every image the run needs, drawn in CPU processes, and the memorization gate's hash
    catalog of the training set's distinct images. Runs before CUDA is initialised, so the
    processes can fork safely."""
    train = export.draw(range(cfg.n_train), cfg.seed, workers=cfg.workers)
    sets = {
        "classifier": export.draw(
            range(cfg.n_classifier), CLASSIFIER_SEED, which=scenes.ALL, workers=cfg.workers
        ),
        "heldout": export.draw(
            range(cfg.n_heldout), HELDOUT_SEED, which=scenes.HELD_OUT_ONLY, workers=cfg.workers
        ),
        "test": export.draw(range(cfg.n_fd), TEST_SEED, which=scenes.TRAIN, workers=cfg.workers),
        "reference": export.draw(
            range(cfg.n_fd), REFERENCE_SEED, which=scenes.TRAIN, workers=cfg.workers
        ),
    }
    distinct = [index for index in range(cfg.n_train) if export.is_first_copy(index)]
    train_images = _arrays(train)
    with ProcessPoolExecutor(cfg.workers) as pool:
        hashes = list(pool.map(_hashes, train_images[distinct], chunksize=256))
    catalog = HashCatalog(
        [str(index) for index in distinct],
        {kind: [h[k] for h in hashes] for k, kind in enumerate(("phash", "dhash", "whash"))},
    )
    data = {
        "train_images": train_images,
        "train_captions": [item.caption for item in train],
        "train_attributes": [item.attributes for item in train],
        "catalog": catalog,
    }
    for name, items in sets.items():
        data[f"{name}_images"] = _arrays(items)
        data[f"{name}_captions"] = [item.caption for item in items]
        data[f"{name}_attributes"] = [item.attributes for item in items]
    return data


# ---------------------------------------------------------------- VAE


def _pixels(images_u8: torch.Tensor) -> torch.Tensor:
    """(N, 64, 64, 3) uint8 -> (N, 3, 64, 64) float in [-1, 1]."""
    return images_u8.permute(0, 3, 1, 2).float().div(127.5).sub(1.0)


def object_mask(x: torch.Tensor) -> torch.Tensor:
    """(N, 1, H, W) 1.0 where a pixel of `x` ((N, 3, H, W) in [-1, 1]) differs from its
    image's background, grown by one pixel so that the edges count as object. The background
    is the per-channel median: it covers more than half of every scene and poster."""
    background = x.flatten(2).median(dim=2).values[:, :, None, None]
    off = ((x - background).abs().amax(dim=1, keepdim=True) > 0.08).float()
    return F.max_pool2d(off, 3, stride=1, padding=1)


def _masked_mean(values: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return (values * mask).sum() / (mask.sum() * values.shape[1]).clamp(min=1.0)


def reconstruction_terms(reconstruction: torch.Tensor, x: torch.Tensor) -> dict:
    """The VAE's reconstruction losses (see Config): image-wide L1 and L2, and the L1 of the
    pixels and of the pixel differences over the object mask."""
    error = reconstruction - x
    mask = object_mask(x)
    edges = (error[..., :, 1:] - error[..., :, :-1]).abs()
    edges_y = (error[..., 1:, :] - error[..., :-1, :]).abs()
    return {
        "l1": error.abs().mean(),
        "l2": error.square().mean(),
        "objects": _masked_mean(error.abs(), mask),
        "edges": _masked_mean(edges, mask[..., :, 1:]) + _masked_mean(edges_y, mask[..., 1:, :]),
    }


def train_vae(cfg: Config, images: torch.Tensor, log: list, started: float):
    device = images.device
    torch.manual_seed(cfg.seed)
    vae = components.build_vae().to(device).train()
    optimizer = torch.optim.AdamW(vae.parameters(), lr=cfg.vae_lr, weight_decay=0.0)
    plan = _Plan(optimizer, 200, cfg.vae_steps, cfg.vae_seconds, device)
    generator = torch.Generator(device).manual_seed(cfg.seed)
    latent_elements = components.LATENT_CHANNELS * components.LATENT_SIZE**2
    names = ("loss", "l1", "l2", "objects", "edges", "kl")
    sums = torch.zeros(len(names), device=device)
    step = 0
    while step < plan.total:
        step += 1
        index = torch.randint(images.shape[0], (cfg.vae_batch,), device=device, generator=generator)
        x = _pixels(images[index])
        with _autocast(device):
            posterior = vae.encode(x).latent_dist
            reconstruction = vae.decode(posterior.sample()).sample.float()
        terms = reconstruction_terms(reconstruction, x)
        terms["kl"] = posterior.kl().float().mean() / latent_elements
        loss = (
            terms["l1"]
            + terms["l2"]
            + cfg.object_weight * terms["objects"]
            + cfg.edge_weight * terms["edges"]
            + cfg.kl_weight * terms["kl"]
        )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(vae.parameters(), 1.0)
        optimizer.step()
        plan.schedule.step()
        plan.after(step)
        sums += torch.stack([loss, *(terms[n] for n in names[1:])]).detach()
        if step % 50 == 0 or step == plan.total:
            window = step - (log[-1]["step"] if log else 0)
            log.append(dict(zip(("step", *names), (step, *(sums / window).tolist()), strict=True)))
            sums.zero_()
            if step % 500 == 0 or step == plan.total:
                row = log[-1]
                _log(
                    f"vae {step}/{plan.total} loss {row['loss']:.4f} l1 {row['l1']:.4f} "
                    f"objects {row['objects']:.4f} edges {row['edges']:.4f}",
                    started,
                )
    return vae.eval(), step


@torch.no_grad()
def encode(vae, images: torch.Tensor, batch: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior mean and standard deviation of every image (float32, on the images' device)."""
    means, stds = [], []
    for start in range(0, images.shape[0], batch):
        posterior = vae.encode(_pixels(images[start : start + batch])).latent_dist
        means.append(posterior.mean.float())
        stds.append(posterior.std.float())
    return torch.cat(means), torch.cat(stds)


@torch.no_grad()
def reconstruct(vae, images: torch.Tensor) -> np.ndarray:
    mean, _ = encode(vae, images)
    out = []
    for start in range(0, mean.shape[0], 1024):
        decoded = vae.decode(mean[start : start + 1024]).sample
        out.append(((decoded.clamp(-1, 1) + 1) * 127.5).round().byte().permute(0, 2, 3, 1))
    return torch.cat(out).cpu().numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * math.log10(255.0**2 / mse))


# ---------------------------------------------------------------- UNet + text encoder


def _for_training(cfg: Config, module: torch.nn.Module, device: torch.device):
    """The module as the training loop calls it: compiled on CUDA when `cfg.compile`. A graph
    the compiler cannot handle falls back to eager instead of ending an unattended run."""
    if not (cfg.compile and device.type == "cuda"):
        return module
    torch._dynamo.config.suppress_errors = True
    return torch.compile(module)


def train_denoiser(cfg: Config, latents, ids, empty_ids, log: list, started: float, snapshot=None):
    """Trains the UNet and the text encoder together on (latent, caption) pairs; returns both
    with their EMA weights and the number of steps run. `snapshot(ema, step)` is called every
    `cfg.snapshot_every_s` seconds."""
    mean, std, scale = latents
    device = mean.device
    torch.manual_seed(cfg.seed + 1)
    unet = components.build_unet().to(device).to(memory_format=torch.channels_last).train()
    text_encoder = components.build_text_encoder().to(device).train()
    params = [*unet.parameters(), *text_encoder.parameters()]
    optimizer = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01, fused=device.type == "cuda")
    unet_step, text_step = (_for_training(cfg, m, device) for m in (unet, text_encoder))
    last_snapshot = time.monotonic()
    seconds = cfg.deadline_s - (time.monotonic() - started) if cfg.deadline_s else 0.0
    plan = _Plan(optimizer, cfg.warmup, cfg.steps, max(seconds, 1.0) if seconds else 0.0, device)
    schedule = plan.schedule
    ema = EMAModel(params, decay=cfg.ema_decay, use_ema_warmup=True, power=0.75, foreach=True)
    noise_schedule = components.training_scheduler()
    alphas = noise_schedule.alphas_cumprod.to(device)
    snr = alphas / (1.0 - alphas)
    generator = torch.Generator(device).manual_seed(cfg.seed + 1)
    n = mean.shape[0]
    total = torch.zeros((), device=device)
    step = 0
    while step < plan.total:
        step += 1
        index = torch.randint(n, (cfg.batch,), device=device, generator=generator)
        eps = torch.randn(mean[index].shape, device=device, generator=generator)
        z = (mean[index] + std[index] * eps) * scale
        drop = torch.rand(cfg.batch, device=device, generator=generator) < cfg.caption_dropout
        tokens = torch.where(drop[:, None], empty_ids, ids[index])
        noise = torch.randn(z.shape, device=device, generator=generator)
        t = torch.randint(0, len(alphas), (cfg.batch,), device=device, generator=generator)
        a = alphas[t].view(-1, 1, 1, 1)
        noisy = a.sqrt() * z + (1.0 - a).sqrt() * noise
        with _autocast(device):
            hidden = text_step(tokens)[0]
            prediction = unet_step(
                noisy.contiguous(memory_format=torch.channels_last), t, hidden
            ).sample
        per_sample = F.mse_loss(prediction.float(), noise, reduction="none").mean(dim=(1, 2, 3))
        weight = snr[t].clamp(max=cfg.snr_gamma) / snr[t]
        loss = (per_sample * weight).mean()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        schedule.step()
        plan.after(step)
        ema.step(params)
        total += loss.detach()
        if step % 50 == 0 or step == plan.total:
            window = step - (log[-1]["step"] if log else 0)
            log.append(
                {"step": step, "loss": (total / window).item(), "lr": schedule.get_last_lr()[0]}
            )
            total.zero_()
            if step % 500 == 0:
                _log(f"unet {step}/{plan.total} loss {log[-1]['loss']:.4f}", started)
            # The fitted plan normally ends first; this guards the device call's time limit.
            if cfg.deadline_s and time.monotonic() - started > cfg.deadline_s + 30.0:
                _log(f"deadline passed: stopping at step {step}", started)
                break
        if snapshot and cfg.snapshot_every_s:
            if time.monotonic() - last_snapshot > cfg.snapshot_every_s:
                snapshot(ema, step)
                last_snapshot = time.monotonic()
    ema.copy_to(params)
    return unet.eval(), text_encoder.eval(), step


# ---------------------------------------------------------------- evaluation


def _grid(rows: list[np.ndarray], scale: int = 2) -> Image.Image:
    """Rows of (k, 64, 64, 3) images as one picture."""
    size = scenes.IMAGE_SIZE
    width = max(len(r) for r in rows)
    sheet = Image.new("RGB", (width * size, len(rows) * size), "white")
    for y, row in enumerate(rows):
        for x, array in enumerate(row):
            sheet.paste(Image.fromarray(array), (x * size, y * size))
    return sheet.resize((sheet.width * scale, sheet.height * scale), Image.Resampling.NEAREST)


def run_evaluation(cfg: Config, pipe, net, vae, data: dict, device, started: float) -> dict:
    results: dict = {"by_guidance": {}}
    heldout_attrs = data["heldout_attributes"]
    heldout_scenes = [scenes.Scene(**{k: a[k] for k in _SCENE_FIELDS}) for a in heldout_attrs]
    heldout_captions = [scenes.caption_of(scene) for scene in heldout_scenes]
    test_images = data["test_images"]
    test_features = evaluate.features(net, test_images)
    reference_features = evaluate.features(net, data["reference_images"])
    reconstructions = reconstruct(vae, torch.from_numpy(test_images).to(device))
    results["instrument"] = {
        "classifier_on_real_heldout": evaluate.adherence(
            net, data["heldout_images"], heldout_attrs
        ),
        "classifier_on_vae_reconstructions": evaluate.adherence(
            net, reconstructions, data["test_attributes"]
        ),
        "frechet_real_vs_real": evaluate.frechet_distance(test_features, reference_features),
        "frechet_vae_reconstruction_vs_real": evaluate.frechet_distance(
            test_features, evaluate.features(net, reconstructions)
        ),
        "vae_psnr_db": psnr(reconstructions, test_images),
    }
    posters = [scenes.render_poster(p) for p in scenes.POSTERS]
    memo_captions = [p.caption for p in scenes.POSTERS for _ in range(cfg.memo_seeds)]
    memo_seeds = [s for _ in scenes.POSTERS for s in range(cfg.memo_seeds)]
    memo_refs = [poster for poster in posters for _ in range(cfg.memo_seeds)]
    control = [i for i in range(cfg.n_train) if scenes.poster_of(i) is None][: cfg.n_control]
    for guidance in cfg.guidance_scales:
        entry: dict = {}
        images = evaluate.generate(
            pipe,
            heldout_captions,
            range(len(heldout_captions)),
            guidance_scale=guidance,
            steps=cfg.eval_steps,
        )
        entry["heldout_adherence"] = evaluate.adherence(net, images, heldout_attrs)
        heldout_check = evaluate.copy_check(
            images, [Image.fromarray(a) for a in data["heldout_images"]], data["catalog"]
        )
        entry["heldout_gate_block_rate"] = heldout_check.rate
        generated = evaluate.generate(
            pipe,
            data["test_captions"],
            range(len(test_images)),
            guidance_scale=guidance,
            steps=cfg.eval_steps,
        )
        entry["frechet_classifier_features"] = evaluate.frechet_distance(
            test_features, evaluate.features(net, generated)
        )
        entry["test_adherence"] = evaluate.adherence(net, generated, data["test_attributes"])
        memo = evaluate.generate(
            pipe, memo_captions, memo_seeds, guidance_scale=guidance, steps=cfg.eval_steps
        )
        check = evaluate.copy_check(memo, memo_refs, data["catalog"])
        entry["memorization"] = _memorization_summary(cfg, check)
        control_images = evaluate.generate(
            pipe,
            [data["train_captions"][i] for i in control],
            control,
            guidance_scale=guidance,
            steps=cfg.eval_steps,
        )
        control_check = evaluate.copy_check(
            control_images,
            [Image.fromarray(data["train_images"][i]) for i in control],
            data["catalog"],
        )
        entry["control_training_captions"] = {
            "phash_to_own_item_median": float(np.median(control_check.phash_distances)),
            "phash_to_own_item_le_radius": float(
                np.mean(np.array(control_check.phash_distances) <= cfg.gate_radius)
            ),
            "gate_block_rate": control_check.rate,
        }
        results["by_guidance"][str(guidance)] = entry
        _log(f"eval guidance {guidance}: {json.dumps(entry)[:400]}", started)
        if guidance == cfg.guidance_scales[-1]:
            results["samples"] = _samples(cfg, images, heldout_attrs, memo, posters)
    return results


_SCENE_FIELDS = ("shape", "colour", "count", "position", "size", "texture", "background")


def _memorization_summary(cfg: Config, check: evaluate.CopyCheck) -> dict:
    per_poster = []
    for k in range(len(scenes.POSTERS)):
        rows = slice(k * cfg.memo_seeds, (k + 1) * cfg.memo_seeds)
        distances = check.phash_distances[rows]
        key = str(export.first_copy(k))
        per_poster.append(
            {
                "poster": k,
                "item": int(key),
                "phash_distances": distances,
                "phash_le_radius": float(np.mean(np.array(distances) <= cfg.gate_radius)),
                "gate_names_item": float(np.mean([key in m for m in check.gate_matches[rows]])),
            }
        )
    return {
        "per_poster": per_poster,
        "phash_le_radius": float(np.mean([p["phash_le_radius"] for p in per_poster])),
        "gate_names_item": float(np.mean([p["gate_names_item"] for p in per_poster])),
    }


def _samples(cfg, heldout_images, heldout_attrs, memo, posters) -> list[np.ndarray]:
    """Rows for the sample sheet: up to 8 generations of each held-out combination, then each
    poster followed by its generations."""
    rows = []
    for combination in sorted(scenes.HELD_OUT):
        picks = [
            heldout_images[i]
            for i, a in enumerate(heldout_attrs)
            if (a["colour"], a["shape"], a["count"]) == combination
        ][:8]
        if picks:
            rows.append(np.stack(picks))
    for k, poster in enumerate(posters):
        generated = memo[k * cfg.memo_seeds : k * cfg.memo_seeds + 7]
        rows.append(np.concatenate([np.asarray(poster)[None], generated]))
    return rows


# ---------------------------------------------------------------- main


def _pack(work: Path, out: Path, names: list[str]) -> list[str]:
    bundle = work / "bundle.tar"
    with tarfile.open(bundle, "w") as tar:
        for name in names:
            tar.add(work / name, arcname=name)
    data = bundle.read_bytes()
    parts = []
    for k, start in enumerate(range(0, len(data), PART_BYTES)):
        part = out / f"bundle.tar.part{k:02d}"
        part.write_bytes(data[start : start + PART_BYTES])
        parts.append(part.name)
    return parts


def _snapshot(work: Path, vae, ema, step: int, logs: dict, started: float) -> None:
    """The EMA weights so far, with the VAE, the classifier and the losses, packed like the
    final bundle into `work/snapshot/` (replaced whole, so a reader never sees half of one)."""
    unet, text_encoder = components.build_unet(), components.build_text_encoder()
    ema.copy_to([*unet.parameters(), *text_encoder.parameters()])
    staging, parts, final = (
        work / name for name in ("snapshot-staging", "snapshot-new", "snapshot")
    )
    for folder in (staging, parts):
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
    components.save(components.assemble(vae, text_encoder, unet), staging / "model")
    shutil.copy(work / "classifier.safetensors", staging)
    (staging / "train_log.json").write_text(json.dumps({**logs, "snapshot_step": step}))
    _pack(staging, parts, ["model", "classifier.safetensors", "train_log.json"])
    shutil.rmtree(final, ignore_errors=True)
    parts.rename(final)
    shutil.rmtree(staging)
    _log(f"snapshot at unet step {step}", started)


def run(cfg: Config, out: Path, work: Path) -> dict:
    started = time.monotonic()
    timings: dict[str, float] = {}
    out.mkdir(parents=True, exist_ok=True)
    if work.exists():
        shutil.rmtree(work)
    work.mkdir(parents=True)

    def mark(stage: str) -> None:
        timings[stage] = round(time.monotonic() - started - sum(timings.values()), 2)
        _log(f"{stage} done", started)

    data = draw_data(cfg)
    mark("draw_data")

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    logs: dict[str, list] = {"vae": [], "classifier": [], "unet": []}
    train_images = torch.from_numpy(data["train_images"]).to(device)
    vae, vae_steps_run = train_vae(cfg, train_images, logs["vae"], started)
    mark("vae")

    mean, std = encode(vae, train_images)
    scale = 1.0 / float((mean + std * torch.randn_like(mean)).std())
    vae.register_to_config(scaling_factor=scale)
    mark("encode")

    classifier_images = attribute_classifier.to_tensor(data["classifier_images"]).to(device)
    net = attribute_classifier.train(
        classifier_images,
        attribute_classifier.labels_of(data["classifier_attributes"]),
        steps=cfg.classifier_steps,
        batch=cfg.classifier_batch,
        lr=cfg.classifier_lr,
        seed=cfg.seed,
        log=logs["classifier"],
    )
    del classifier_images
    save_file(
        {k: v.contiguous() for k, v in net.state_dict().items()}, work / "classifier.safetensors"
    )
    mark("classifier")

    tokenizer = components.tokenizer()

    def token_ids(texts: list[str]) -> torch.Tensor:
        return tokenizer(
            texts,
            padding="max_length",
            max_length=components.MAX_TOKENS,
            truncation=True,
            return_tensors="pt",
        ).input_ids.to(device)

    unet, text_encoder, steps_run = train_denoiser(
        cfg,
        (mean, std, scale),
        token_ids(data["train_captions"]),
        token_ids([""]),
        logs["unet"],
        started,
        snapshot=lambda ema, step: _snapshot(work, vae, ema, step, logs, started),
    )
    mark("unet")

    folder = components.save(components.assemble(vae, text_encoder, unet), work / "model")
    # As the platform's worker loads it: float16 on a GPU, float32 on a CPU.
    dtype = torch.float16 if device.type == "cuda" else torch.float32
    pipe = StableDiffusionPipeline.from_pretrained(folder, dtype=dtype).to(device)
    pipe.set_progress_bar_config(disable=True)
    mark("save")

    results = {
        "config": dataclasses.asdict(cfg),
        "vae_steps_run": vae_steps_run,
        "unet_steps_run": steps_run,
        "latent_scaling_factor": scale,
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "versions": {"torch": torch.__version__, "diffusers": version("diffusers")},
    }
    results.update(run_evaluation(cfg, pipe, net, vae, data, device, started))
    samples = results.pop("samples")
    _grid(samples).save(work / "samples.png")
    mark("evaluate")

    plot.loss_chart(
        {
            "VAE: L1 + L2 + object L1 + object edges + KL": _series(
                logs["vae"], ("loss", "l1", "objects", "edges")
            ),
            "UNet + text encoder: min-SNR weighted noise MSE": _series(logs["unet"], ("loss",)),
            "attribute classifier: sum of 7 cross-entropies": _series(
                logs["classifier"], ("loss",)
            ),
        },
        work / "loss_curves.png",
    )
    results["timings_s"] = timings
    (work / "results.json").write_text(json.dumps(results, indent=1))
    (work / "train_log.json").write_text(json.dumps(logs))
    small = ["results.json", "train_log.json", "loss_curves.png", "samples.png"]
    for name in small:
        shutil.copy(work / name, out / name)
    _pack(work, out, ["model", "classifier.safetensors", *small])
    _log("packed", started)
    return results


def _series(log: list[dict], keys: tuple[str, ...]) -> dict:
    return {key: [(row["step"], row[key]) for row in log] for key in keys}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "results")))
    parser.add_argument(
        "--work", type=Path, default=Path(tempfile.gettempdir()) / "mintmark-shapes-train"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: checks the code path")
    parser.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="override a Config field"
    )
    args = parser.parse_args()
    fields = {f.name: f for f in dataclasses.fields(Config)}
    overrides = dict(SMOKE) if args.smoke else {}
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in fields:
            parser.error(f"unknown config field {key!r}")
        overrides[key] = json.loads(value)
    if "guidance_scales" in overrides:
        overrides["guidance_scales"] = tuple(overrides["guidance_scales"])
    run(Config(**overrides), args.out, args.work)


if __name__ == "__main__":
    main()
