"""What a diffusers folder says about itself without loading it (plain module, no Django): the
digest of its weights, and the image size it was trained at.

One sha256 over every weight file, in path order, so renaming, adding or changing any
component's weights changes the digest."""

import hashlib
import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".onnx", ".gguf")
_CHUNK = 1 << 20
FLUX_DEFAULT_LATENT = 128


class WeightsError(ValueError):
    pass


def _walk_error(exc: OSError) -> None:
    raise WeightsError(f"cannot read {exc.filename}: {exc.strerror}")


def weight_files(folder: Path) -> list[Path]:
    """The weight files of `folder`, in path order. Every entry must resolve inside the folder:
    a symlink out of it, to a file or a folder, refuses the whole folder, since a pipeline
    loader follows links and would read what the digest never covered. Linked folders are not
    descended (what they hold inside the folder is hashed under its own path)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder} is not a folder")
    real = folder.resolve()
    files = []
    for dirpath, dirnames, filenames in os.walk(folder, onerror=_walk_error):
        for name in (*dirnames, *filenames):
            path = Path(dirpath) / name
            if path.is_symlink() and real not in path.resolve().parents:
                raise WeightsError(f"{path.relative_to(folder)} links outside the model folder")
        files.extend(
            Path(dirpath) / name
            for name in filenames
            if Path(name).suffix in WEIGHT_SUFFIXES and (Path(dirpath) / name).is_file()
        )
    return sorted(files)


def weights_sha256(
    folder: Path,
    *,
    max_bytes: int | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> str:
    """The digest of the folder's weights. `max_bytes` refuses a folder whose weight files hold
    more (checked before reading and again while reading, for a file that grows); `progress`
    is called with (bytes read, bytes in all) as hashing goes."""
    folder = Path(folder)
    files = weight_files(folder)
    if not files:
        raise WeightsError(f"{folder} holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    total = sum(path.stat().st_size for path in files)
    too_big = f"its weight files hold more than the limit of {max_bytes} bytes"
    if max_bytes is not None and total > max_bytes:
        raise WeightsError(f"{too_big} ({total})")
    done = 0
    if progress:
        progress(done, total)
    digest = hashlib.sha256()
    for path in files:
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                done += len(chunk)
                if max_bytes is not None and done > max_bytes:
                    raise WeightsError(too_big)
                file_digest.update(chunk)
                if progress:
                    progress(done, max(total, done))
        digest.update(
            f"{path.relative_to(folder).as_posix()}\0{file_digest.hexdigest()}\n".encode()
        )
    return digest.hexdigest()


@lru_cache(maxsize=64)
def folder_native_size(folder: str) -> int | None:
    """The side in pixels a diffusers folder draws by default, as its pipeline computes it
    (the UNet's or SD3 transformer's latent sample size, or Flux's fixed 128, x the VAE's
    downsampling), read from the configs alone; None when the folder has no such configs."""
    try:
        vae = json.loads((Path(folder) / "vae" / "config.json").read_text())
        scale = 2 ** (len(vae["block_out_channels"]) - 1)
        unet = Path(folder) / "unet" / "config.json"
        denoiser = json.loads(
            (
                unet if unet.is_file() else unet.parent.parent / "transformer" / "config.json"
            ).read_text()
        )
        if "sample_size" in denoiser:
            return int(denoiser["sample_size"]) * scale
        # FluxPipeline draws default_sample_size (128) latents whatever the transformer says.
        return FLUX_DEFAULT_LATENT * scale if denoiser["_class_name"].startswith("Flux") else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None


def folder_pipeline_class(folder) -> str:
    """The pipeline class a diffusers folder names in model_index.json; "" when it names none."""
    try:
        index = json.loads((Path(folder) / "model_index.json").read_text())
        return str(index.get("_class_name", ""))
    except (OSError, ValueError, AttributeError):
        return ""
