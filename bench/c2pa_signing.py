"""What signing content credentials costs per released image, on the CPU.

    python bench/c2pa_signing.py            # 512 px, 20 images per row
    python bench/c2pa_signing.py --size 1024 --n 10

Every row signs the same synthetic PNGs (provenance.watermark_samples) with a key made in a
temporary folder, and prints the median and the ratio to encoding the PNG with Pillow, the
step that release does anyway, measured in the same run. Rows:

- sign_image: provenance.credentials.sign_image with a file key, c2pa's own thumbnail
  (256 px) and verification after signing;
- sign_image + given thumbnail: with a 256 px JPEG thumbnail made by Pillow (what release
  passes), timing included;
- sign_image, callback signer: the key held in memory behind a CallbackSigner (the KMS path
  without the network);
- c2pa, ...: the same signing through c2pa directly with one setting changed, to show where
  the time goes: c2pa's default 1024 px thumbnail, no verification after signing, no
  thumbnail (the platform keeps verification and a 256 px thumbnail);
- read_credentials: reading and validating the signed file against the trust anchor.
"""

import argparse
import io
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import c2pa
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from provenance import credentials, keys
from provenance.signing import CallbackSigner, FileKeySigner, to_c2pa_signer
from provenance.watermark_samples import synthetic_image

PASS = b"bench passphrase"


def _png(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def _thumbnail(image: Image.Image) -> bytes:
    thumb = image.copy()
    thumb.thumbnail((256, 256))
    buffer = io.BytesIO()
    thumb.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _manifest() -> dict:
    return credentials.manifest_definition(
        title="bench.png",
        claim_generator="Mintmark/bench",
        model={"name": "bench-model", "version": "1", "family": "sd15"},
        action="created",
        generation={"job": "bench", "policy_version": 1, "gates": {"prompt": "pass"}},
        soft_binding={"alg": "org.mintmark.watermark.1", "value": b"\x01\x02\x03\x04\x05"},
        training_mining="notAllowed",
        has_parent=False,
    )


def _raw_c2pa(signer, settings: dict) -> Callable[[bytes], bytes]:
    def sign(data: bytes) -> bytes:
        out = io.BytesIO()
        with to_c2pa_signer(signer) as native, c2pa.Context.from_dict(settings) as context:
            c2pa.Builder(_manifest(), context=context).sign(
                native, "image/png", io.BytesIO(data), out
            )
        return out.getvalue()

    return sign


def _median_ms(fn: Callable[[object], object], inputs: list) -> float:
    fn(inputs[0])  # warm-up: first use loads the native library's lazy state
    times = []
    for item in inputs:
        start = time.perf_counter()
        fn(item)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--n", type=int, default=20)
    args = parser.parse_args()

    images = [synthetic_image(seed, args.size) for seed in range(args.n)]
    pngs = [_png(image) for image in images]
    with tempfile.TemporaryDirectory() as folder:
        base = Path(folder)
        keys.org_key_ensure(base, "bench", "Bench", PASS)
        anchors = keys.trust_anchors_pem(base)
        signer = FileKeySigner.for_org(base, "bench", PASS)
        chain_pem, private_key = keys.org_signing_material(base, "bench", PASS)
        callback = CallbackSigner(chain_pem, FileKeySigner(chain_pem, private_key).sign)
        manifest = _manifest()
        signed = [credentials.sign_image(data, "image/png", manifest, signer) for data in pngs]
        verify_on = {"verify_after_sign": True}
        thumb = {"enabled": True, "long_edge": credentials.THUMBNAIL_LONG_EDGE}
        base_settings = {"verify": verify_on, "builder": {"thumbnail": thumb}}
        rows = {
            "PNG encode (Pillow), baseline": lambda i: _png(images[i]),
            "sign_image": lambda i: credentials.sign_image(pngs[i], "image/png", manifest, signer),
            "sign_image + given thumbnail": lambda i: credentials.sign_image(
                pngs[i],
                "image/png",
                manifest,
                signer,
                thumbnail=(_thumbnail(images[i]), "image/jpeg"),
            ),
            "sign_image, callback signer": lambda i: credentials.sign_image(
                pngs[i], "image/png", manifest, callback
            ),
            "c2pa, its default 1024 px thumbnail": lambda i: _raw_c2pa(
                signer, base_settings | {"builder": {"thumbnail": {"enabled": True}}}
            )(pngs[i]),
            "c2pa, no verify after sign": lambda i: _raw_c2pa(
                signer, base_settings | {"verify": {"verify_after_sign": False}}
            )(pngs[i]),
            "c2pa, no thumbnail": lambda i: _raw_c2pa(
                signer, base_settings | {"builder": {"thumbnail": {"enabled": False}}}
            )(pngs[i]),
            "read_credentials": lambda i: credentials.read_credentials(
                signed[i], "image/png", trust_anchors_pem=anchors
            ),
        }
        indices = list(range(args.n))
        results = {name: _median_ms(fn, indices) for name, fn in rows.items()}

    baseline = results["PNG encode (Pillow), baseline"]
    size_kb = statistics.median(len(p) for p in pngs) / 1024
    added_kb = statistics.median(len(s) - len(p) for s, p in zip(signed, pngs, strict=True)) / 1024
    print(
        f"{args.n} images of {args.size} px, PNG median {size_kb:.0f} KiB, the manifest adds "
        f"{added_kb:.1f} KiB; c2pa-rs {c2pa.sdk_version()}\n"
    )
    print("| step | median ms | x PNG encode |")
    print("| --- | ---: | ---: |")
    for name, ms in results.items():
        print(f"| {name} | {ms:.1f} | {ms / baseline:.2f} |")


if __name__ == "__main__":
    main()
