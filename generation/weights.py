"""The digest of a diffusers folder's weights (plain module, no Django).

One sha256 over every weight file, in path order, so renaming, adding or changing any
component's weights changes the digest."""

import hashlib
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
