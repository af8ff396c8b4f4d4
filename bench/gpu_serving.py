"""GPU serving benchmark: plain diffusers one request at a time against the platform's serving
path with each optimization added, then a stream of concurrent users through the worker's
batching with the gates and stamping on and off, a warm restart from the compile cache, and a
plot of throughput against concurrent users. Same model, same GPU, same run.

    PYTHONUNBUFFERED=1 python bench/gpu_serving.py --out $OUT            # CUDA: SD 1.5 @ 512
    PYTHONUNBUFFERED=1 python bench/gpu_serving.py --case sdxl --out $OUT
    python bench/gpu_serving.py --smoke                                  # CPU, tiny model

bench/README.md ("gpu_serving.py") says what each figure is and what is left out. This file
keeps its imports light: the gate worker processes are started with `spawn` and import it, so
torch and diffusers are imported by serving_stages.py, in the parent only."""

import argparse
import os
import sys
import time
import types
from pathlib import Path

STARTED_AT = time.time()

BENCH = Path(__file__).resolve().parent
sys.path[:0] = [str(BENCH), str(BENCH.parent), str(BENCH.parent / "platform")]
if "mintmark" not in sys.modules:
    # The plain modules of the `mintmark` package (imageio) without its __init__, which starts
    # the Celery app: the GPU machine has neither Celery nor Django, and no module used here
    # needs them.
    _package = types.ModuleType("mintmark")
    _package.__path__ = [str(BENCH.parent / "platform" / "mintmark")]
    sys.modules["mintmark"] = _package


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="sd15", choices=("sd15", "sdxl"))
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny SD pipeline, seconds")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="results folder")
    parser.add_argument("--buckets", default="", help="compiled batch sizes (default 1,8)")
    parser.add_argument("--max-batch", type=int, default=0, help="MINTMARK_GPU_MAX_BATCH (8)")
    parser.add_argument("--compile-mode", default="reduce-overhead")
    parser.add_argument(
        "--sdxl-vae", default="fp16-fix", choices=("fp16-fix", "upcast"), help="decode fp16 or fp32"
    )
    parser.add_argument("--users", default="1,2,4,8,16,32", help="concurrent users to sweep")
    parser.add_argument("--gate-processes", type=int, default=8)
    parser.add_argument("--catalog", type=int, default=100_000, help="training hashes")
    parser.add_argument("--deadline-s", type=float, default=560, help="skip what would not fit")
    parser.add_argument("--compile-cache", default="", help="default: a fresh temporary folder")
    parser.add_argument("--no-warm-start", action="store_true", help="skip the restart")
    parser.add_argument("--no-compile", action="store_true", help="eager rungs only")
    parser.add_argument(
        "--skip-eager", action="store_true", help="no eager rungs: baseline, then compiled"
    )
    parser.add_argument(
        "--restarts-only", action="store_true", help="only a cold start, then a warm restart"
    )
    parser.add_argument("--warm-start-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--spawned-at", type=float, default=0.0, help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse(argv)
    # A smoke run's defaults are small enough for a CPU test.
    args.buckets = args.buckets or ("1,2" if args.smoke else "1,8")
    args.max_batch = args.max_batch or (2 if args.smoke else 8)
    import serving_stages  # torch, diffusers: the parent only

    args.started_at = STARTED_AT
    if args.warm_start_child:
        serving_stages.warm_start_child(args)
    elif args.restarts_only:
        serving_stages.restarts(args)
    else:
        serving_stages.run(args)


if __name__ == "__main__":
    main()
