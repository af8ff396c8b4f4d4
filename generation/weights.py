"""What a diffusers folder says about itself without loading it (plain module, no Django): the
digest of its weights, and the image size it was trained at.

One sha256 over every weight file, in path order, so renaming, adding or changing any
component's weights changes the digest."""

import hashlib
import json
from functools import lru_cache
from pathlib import Path

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".ckpt", ".pt", ".pth", ".onnx", ".gguf")
_CHUNK = 1 << 20


class WeightsError(ValueError):
    pass


def weights_sha256(folder: Path) -> str:
    folder = Path(folder)
    if not folder.is_dir():
        raise WeightsError(f"{folder} is not a folder")
    files = sorted(
        path for path in folder.rglob("*") if path.is_file() and path.suffix in WEIGHT_SUFFIXES
    )
    if not files:
        raise WeightsError(f"{folder} holds no weight files ({', '.join(WEIGHT_SUFFIXES)})")
    digest = hashlib.sha256()
    for path in files:
        file_digest = hashlib.sha256()
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                file_digest.update(chunk)
        digest.update(
            f"{path.relative_to(folder).as_posix()}\0{file_digest.hexdigest()}\n".encode()
        )
    return digest.hexdigest()


@lru_cache(maxsize=64)
def folder_native_size(folder: str) -> int | None:
    """The side in pixels a diffusers folder draws by default, as its pipeline computes it
    (UNet sample size x the VAE's downsampling), read from the configs alone; None when the
    folder has no such configs (a transformer-based model, a missing folder)."""
    try:
        unet = json.loads((Path(folder) / "unet" / "config.json").read_text())
        vae = json.loads((Path(folder) / "vae" / "config.json").read_text())
        sample_size = int(unet["sample_size"])
        return sample_size * 2 ** (len(vae["block_out_channels"]) - 1)
    except (OSError, ValueError, KeyError, TypeError):
        return None
