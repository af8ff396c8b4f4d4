"""Image-safety classifiers on the CPU: seconds per image for `clip_concepts` and `nudenet`, one
image per call against batches, in the same run.

    python bench/image_safety.py                       # tiny CLIP (as in the tests) + NudeNet
    python bench/image_safety.py --clip tiny,vit-b-32,vit-l-14 --batch 8 --repeats 5

`tiny` is the test suite's random CLIP saved to a temporary folder and loaded through
`load_classifier`, the production path. `vit-b-32` and `vit-l-14` are the full-size architectures
(transformers' CLIPConfig defaults, and the openai/clip-vit-large-patch14 sizes that the Stable
Diffusion safety checker uses) with random weights built in memory: speed does not depend on the
weights' values, and no checkpoint can be downloaded here. They skip the folder load (and the
weight hashing) and run the same `classify`. Pictures are 512 px noise, one view and one tile
each, the shape of an SD 1.5 output. Prints a markdown table and the load average, and writes
results.json into --out ($OUT if set)."""

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "platform")]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402
from transformers import CLIPConfig, CLIPImageProcessorPil, CLIPModel  # noqa: E402

from generation.tokenizer import VOCAB_SIZE, clip_tokenizer  # noqa: E402
from moderation.image_safety import ClassifierUnavailable, load_classifier  # noqa: E402
from moderation.image_safety_clip import (  # noqa: E402
    ClipConceptClassifier,
    ConceptTable,
    concept_embeddings,
)

TINY = {
    "text_config": {
        "vocab_size": VOCAB_SIZE,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "max_position_embeddings": 77,
        "bos_token_id": 49406,
        "eos_token_id": 49407,
        "pad_token_id": 49407,
    },
    "vision_config": {
        "image_size": 32,
        "patch_size": 8,
        "hidden_size": 32,
        "intermediate_size": 37,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
    },
    "projection_dim": 16,
}
TEXT_IDS = {"bos_token_id": 49406, "eos_token_id": 49407, "pad_token_id": 49407}
FULL = {
    "vit-b-32": {"text_config": TEXT_IDS, "vision_config": {}, "projection_dim": 512},
    "vit-l-14": {
        "text_config": {
            **TEXT_IDS,
            "hidden_size": 768,
            "intermediate_size": 3072,
            "num_attention_heads": 12,
        },
        "vision_config": {
            "hidden_size": 1024,
            "intermediate_size": 4096,
            "num_hidden_layers": 24,
            "num_attention_heads": 16,
            "patch_size": 14,
        },
        "projection_dim": 768,
    },
}


def pictures(count: int, size: int = 512) -> list[Image.Image]:
    rng = np.random.default_rng(0)
    return [
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)) for _ in range(count)
    ]


def seconds_per_image(classifier, images, repeats: int) -> float:
    classifier.classify(images)  # warm-up
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        classifier.classify(images)
        runs.append((time.perf_counter() - start) / len(images))
    return statistics.median(runs)


def tiny_clip(folder: Path):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        CLIPModel(CLIPConfig(**TINY)).save_pretrained(folder)
    start = time.perf_counter()
    classifier = load_classifier("clip_concepts", clip_model_dir=folder)
    return classifier, time.perf_counter() - start


def full_clip(arch: str):
    start = time.perf_counter()
    model = CLIPModel(CLIPConfig(**FULL[arch])).eval()
    size = model.config.vision_config.image_size
    processor = CLIPImageProcessorPil(
        size={"shortest_edge": size}, crop_size={"height": size, "width": size}
    )
    table = ConceptTable.read()
    text = concept_embeddings(model, clip_tokenizer(), table, key=(arch, "random"))
    classifier = ClipConceptClassifier(
        model=model, processor=processor, table=table, text=text, version=f"bench-{arch}"
    )
    return classifier, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clip", default="tiny", help="comma list of tiny, vit-b-32, vit-l-14")
    parser.add_argument("--no-nudenet", action="store_true")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's)")
    parser.add_argument("--out", default=os.environ.get("OUT"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    load_before = os.getloadavg()
    single, batch = pictures(1), pictures(args.batch)
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        candidates = [(f"clip_concepts {arch}", arch) for arch in args.clip.split(",") if arch]
        if not args.no_nudenet:
            candidates.append(("nudenet 3.4.2 (320n.onnx)", "nudenet"))
        for label, arch in candidates:
            if arch == "tiny":
                classifier, load_s = tiny_clip(Path(folder))
            elif arch == "nudenet":
                start = time.perf_counter()
                try:
                    classifier = load_classifier("nudenet", clip_model_dir=None)
                except ClassifierUnavailable as exc:
                    print(f"skipped {label}: {exc}")
                    continue
                load_s = time.perf_counter() - start
            else:
                classifier, load_s = full_clip(arch)
            one = seconds_per_image(classifier, single, args.repeats)
            many = seconds_per_image(classifier, batch, args.repeats)
            rows.append({"classifier": label, "load_s": load_s, "one_s": one, "batch_s": many})
            print(
                f"{label}: load {load_s:.2f} s, {one * 1e3:.1f} ms/img alone, "
                f"{many * 1e3:.1f} ms/img in batches of {args.batch}",
                flush=True,
            )
            del classifier

    load_after = os.getloadavg()
    print(
        f"\nCPU threads (torch): {torch.get_num_threads()}, cores: {os.cpu_count()}, "
        f"load average before {load_before[0]:.2f}, after {load_after[0]:.2f}\n"
    )
    print(f"| classifier | load | 1 image per call | batch of {args.batch}, per image | ratio |")
    print("| --- | --- | --- | --- | --- |")
    for row in rows:
        print(
            f"| {row['classifier']} | {row['load_s']:.2f} s | {row['one_s'] * 1e3:.1f} ms | "
            f"{row['batch_s'] * 1e3:.1f} ms | {row['one_s'] / row['batch_s']:.2f}x |"
        )
    if args.out:
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / "results.json").write_text(
            json.dumps(
                {
                    "batch": args.batch,
                    "repeats": args.repeats,
                    "cpu_count": os.cpu_count(),
                    "torch_threads": torch.get_num_threads(),
                    "load_average": [load_before, load_after],
                    "rows": rows,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
