"""The stages of bench/gpu_serving.py (which says how to run it); bench/README.md says what each
figure means. Every stage appends to results.json as soon as it ends, so a run cut short by
its time limit still leaves what it measured."""

import concurrent.futures
import copy
import json
import multiprocessing
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from queue import Queue

import diffusers
import numpy as np
import serving_governance
import torch
import transformers
from bench_results import Results, log
from diffusers.models.attention_processor import AttnProcessor, AttnProcessor2_0
from gpu_generation import PROMPTS, full_sd15, full_sdxl

from generation import pipelines, serving
from generation.outputs import encode_image
from generation.tiny import tiny_sd_pipeline

GUIDANCE = 7.5
SCHEDULER = "dpmpp_2m"
NEGATIVES = ("", "blurry, low quality, watermark")
BATCH_WINDOW_S = 0.025  # MINTMARK_GPU_BATCH_WINDOW_MS's default


@dataclass(frozen=True)
class Case:
    name: str
    build: object  # device -> pipeline
    size: int
    steps: int
    tflop_per_image: float | None  # UNet with CFG x steps + VAE decode (issue #9)


def _tiny(device: str):
    return tiny_sd_pipeline(0)


CASES = {
    "sd15": Case("SD 1.5, 512 px", full_sd15, 512, 25, 42.7),
    # The VAE decodes in fp16 with the fp16-fixed SDXL VAE's config (gpu_generation.full_sdxl);
    # --sdxl-vae upcast decodes in fp32, as the released VAE must.
    "sdxl": Case("SDXL, 1024 px", partial(full_sdxl, force_upcast=False), 1024, 25, 349.0),
    "smoke": Case("tiny SD (CPU smoke)", _tiny, 32, 3, None),
}


def case_for(args) -> Case:
    if args.smoke:
        return CASES["smoke"]
    case = CASES[args.case]
    if args.case == "sdxl" and getattr(args, "sdxl_vae", "fp16-fix") == "upcast":
        return replace(case, name="SDXL, 1024 px, VAE upcast to fp32", build=full_sdxl)
    return case


class Clock:
    def __init__(self, deadline_s: float):
        self.start = time.perf_counter()
        self.deadline_s = deadline_s

    def left(self) -> float:
        return self.deadline_s - (time.perf_counter() - self.start)


def sync(device: str) -> None:
    if device == "cuda":
        torch.cuda.synchronize()


def median(values) -> float:
    return statistics.median(values)


def percentile(values, q: float) -> float:
    return float(np.percentile(np.asarray(values), q)) if values else float("nan")


# --- Timing one thing --------------------------------------------------------------------------


def spec_for(case: Case) -> pipelines.BatchSpec:
    return pipelines.BatchSpec(
        mode=pipelines.TEXT_TO_IMAGE,
        width=case.size,
        height=case.size,
        steps=case.steps,
        guidance_scale=GUIDANCE,
        scheduler=SCHEDULER,
    )


def requests_for(count: int, seed: int) -> list[pipelines.ImageRequest]:
    return [
        pipelines.ImageRequest(
            prompt=PROMPTS[i % len(PROMPTS)], negative_prompt=NEGATIVES[i % 2], seed=seed + i
        )
        for i in range(count)
    ]


def plain_call(pipe, case: Case, seed: int, device: str) -> float:
    """The baseline: one plain diffusers call for one request."""
    sync(device)
    began = time.perf_counter()
    pipe(
        prompt=PROMPTS[seed % len(PROMPTS)],
        width=case.size,
        height=case.size,
        num_inference_steps=case.steps,
        guidance_scale=GUIDANCE,
        generator=torch.Generator("cpu").manual_seed(seed),
    )
    sync(device)
    return time.perf_counter() - began


def batch_seconds(model, spec, count: int, seed: int, device: str) -> float:
    sync(device)
    began = time.perf_counter()
    pipelines.run_batch(model, spec, requests_for(count, seed))
    sync(device)
    return time.perf_counter() - began


def rung(model, spec, *, max_batch: int, device: str, reps: int, limit_ips, warm: bool = True):
    """One row of the ladder: a lone request (batch of 1) and a full batch, medians."""
    if warm:
        batch_seconds(model, spec, 1, 10, device)
    lone = [batch_seconds(model, spec, 1, 100 + rep, device) for rep in range(reps + 1)]
    full = [batch_seconds(model, spec, max_batch, 200 + rep, device) for rep in range(reps)]
    ips = max_batch / median(full)
    return {
        "lone_s": median(lone),
        "lone_all_s": [round(t, 4) for t in lone],
        "batch_s": median(full),
        "batch_all_s": [round(t, 4) for t in full],
        "images_per_s": ips,
        "flop_limit_pct": 100 * ips / limit_ips if limit_ips else None,
    }


def matmul_tflops(device: str) -> float | None:
    """The GPU's dense fp16 matrix rate, measured: the FLOP limit's denominator."""
    if device != "cuda":
        return None
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    b = torch.randn(8192, 8192, device="cuda", dtype=torch.float16)
    for _ in range(3):
        a @ b
    sync(device)
    began = time.perf_counter()
    for _ in range(50):
        a @ b
    sync(device)
    return 50 * 2 * 8192**3 / (time.perf_counter() - began) / 1e12


def image_difference(images, references) -> dict:
    """Pixel levels (0-255) between two lists of images of the same requests."""
    diffs = [
        np.abs(np.asarray(a, dtype=np.int16) - np.asarray(b, dtype=np.int16))
        for a, b in zip(images, references, strict=True)
    ]
    stacked = np.stack(diffs)
    mse = float((stacked.astype(np.float64) ** 2).mean())
    return {
        "max_levels": int(stacked.max()),
        "mean_levels": float(stacked.mean()),
        "values_over_1_level_pct": 100 * float((stacked > 1).mean()),
        "psnr_db": float("inf") if mse == 0 else float(10 * np.log10(255**2 / mse)),
    }


# --- The stream of concurrent users --------------------------------------------------------------


@dataclass
class Request:
    prompt: str
    negative_prompt: str
    seed: int
    submitted: float
    on_host: float = 0.0
    stored: float = 0.0
    released: float = 0.0
    batch: int = 0
    governed: dict = field(default_factory=dict)
    done: threading.Event = field(default_factory=threading.Event)


class Stream:
    """Closed-loop users against one worker: each user submits a request, waits until it is
    released (or, gates off, stored in quarantine), and submits the next. The worker's loop is
    generation.worker's: the oldest request plus queued ones up to `max_batch`, one wait of the
    batch window when it is alone, one run_batch call; the batch's images go to a store-behind
    thread (PNG, sha256, perceptual hashes: generation.outputs.encode_image) and from there each
    to a gate worker process. The GPU loop runs in this (the main) thread: CUDA graphs are
    recorded per thread."""

    def __init__(self, model, spec, *, max_batch, device, pool, rng_seed: int):
        self.model, self.spec, self.max_batch, self.device = model, spec, max_batch, device
        self.pool = pool
        self.queue: deque[Request] = deque()
        self.cond = threading.Condition()
        self.rng = random.Random(rng_seed)
        self.serial = 0
        self.batches: list[tuple[int, float]] = []

    def new_request(self) -> Request:
        with self.cond:
            self.serial += 1
            prompt = self.rng.choice(PROMPTS)
            if self.rng.random() < 0.5:  # half the prompts are seen once only
                prompt = f"{prompt}, variation {self.serial}"
            return Request(
                prompt=prompt,
                negative_prompt=self.rng.choice(NEGATIVES),
                seed=self.rng.randrange(2**32),
                submitted=time.perf_counter(),
            )

    def _release(self, request: Request, future=None) -> None:
        if future is not None:
            try:
                request.governed = future.result()
            except Exception as exc:  # noqa: BLE001 - recorded; the user must not hang
                request.governed = {"decision": "error", "error": repr(exc)}
        request.released = time.perf_counter()
        request.done.set()

    def _store_loop(self, inbox: Queue) -> None:
        while (item := inbox.get()) is not None:
            batch, images = item
            for request, image in zip(batch, images, strict=True):
                encoded = encode_image(image)
                request.stored = time.perf_counter()
                if self.pool is None:
                    self._release(request)
                else:
                    future = self.pool.submit(serving_governance.govern, encoded.png, request.seed)
                    future.add_done_callback(lambda f, r=request: self._release(r, f))

    def _next_batch(self) -> list[Request]:
        with self.cond:
            if not self.queue:
                self.cond.wait(timeout=0.02)
            if not self.queue:
                return []
            alone = len(self.queue) == 1
        if alone and self.max_batch > 1:
            time.sleep(BATCH_WINDOW_S)  # the worker's one wait for company
        with self.cond:
            count = min(self.max_batch, len(self.queue))
            return [self.queue.popleft() for _ in range(count)]

    def run(self, users: int, duration_s: float, warm_s: float) -> dict:
        stop = threading.Event()
        finished: list[Request] = []

        def user() -> None:
            while not stop.is_set():
                request = self.new_request()
                with self.cond:
                    self.queue.append(request)
                    self.cond.notify()
                request.done.wait()
                finished.append(request)

        inbox: Queue = Queue(maxsize=1)  # one batch waits to be stored, as in the worker
        storer = threading.Thread(target=self._store_loop, args=(inbox,), daemon=True)
        storer.start()
        threads = [threading.Thread(target=user, daemon=True) for _ in range(users)]
        start = time.perf_counter()
        for thread in threads:
            thread.start()
        gpu_busy = 0.0
        while any(thread.is_alive() for thread in threads):
            if time.perf_counter() - start >= duration_s:
                stop.set()
            batch = self._next_batch()
            if not batch:
                continue
            began = time.perf_counter()
            images = pipelines.run_batch(
                self.model,
                self.spec,
                [
                    pipelines.ImageRequest(
                        prompt=r.prompt, negative_prompt=r.negative_prompt, seed=r.seed
                    )
                    for r in batch
                ],
            )
            ended = time.perf_counter()
            gpu_busy += ended - began
            self.batches.append((len(batch), ended - began))
            for request in batch:
                request.on_host, request.batch = ended, len(batch)
            inbox.put((batch, images))
        inbox.put(None)
        storer.join()
        end = start + duration_s
        window = [r for r in finished if start + warm_s <= r.submitted < end]
        done_in_window = [r for r in finished if start + warm_s <= r.released <= end]
        latencies = [r.released - r.submitted for r in window]
        to_host = [r.on_host - r.submitted for r in window]
        gate_ms = [r.governed.get("gates_ms", 0.0) for r in window if r.governed]
        stamp_ms = [r.governed.get("stamp_ms", 0.0) for r in window if r.governed]
        decisions = sorted({r.governed.get("decision") for r in finished if r.governed})
        sizes = [r.batch for r in window]
        return {
            "users": users,
            "governed": self.pool is not None,
            "measured_s": duration_s - warm_s,
            "completed": len(done_in_window),
            "images_per_s": len(done_in_window) / (duration_s - warm_s),
            "latency_p50_s": percentile(latencies, 50),
            "latency_p95_s": percentile(latencies, 95),
            "to_host_p50_s": percentile(to_host, 50),
            "mean_batch": float(np.mean(sizes)) if sizes else None,
            "gpu_busy_pct": 100 * gpu_busy / (time.perf_counter() - start),
            "gates_ms_p50": percentile(gate_ms, 50) if gate_ms else None,
            "stamp_ms_p50": percentile(stamp_ms, 50) if stamp_ms else None,
            "decisions": decisions,
            "gates_run": sorted({g for r in finished for g in r.governed.get("gates", {})}),
        }


def gate_pool(processes: int, catalog: int) -> concurrent.futures.ProcessPoolExecutor:
    folder = serving_governance.keys_folder()
    pool = concurrent.futures.ProcessPoolExecutor(
        max_workers=processes,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=serving_governance.init,
        initargs=(str(folder), catalog),
    )
    # Start every process now, while the model is built, not inside a measurement.
    for future in [pool.submit(time.sleep, 0.2) for _ in range(processes)]:
        future.result()
    return pool


# --- The run -------------------------------------------------------------------------------------


def environment(device: str) -> dict:
    return {
        "device": torch.cuda.get_device_name() if device == "cuda" else platform.machine(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "diffusers": diffusers.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cpu_count": multiprocessing.cpu_count(),
    }


def compile_into(pipe, options, device: str) -> None:
    """What serving.prepare does on CUDA; a CPU smoke run compiles with the eager backend."""
    serving.compile_cache_use(options.compile_cache_dir)
    serving.compile_modules(pipe, options, backend="inductor" if device == "cuda" else "eager")


def optimized_options(device: str, **fields) -> serving.ServingOptions:
    """The rungs after batching: each adds its field to these."""
    return serving.ServingOptions(channels_last=device == "cuda", fuse_qkv=True, **fields)


@dataclass
class Run:
    args: object
    case: Case
    device: str
    clock: Clock
    results: Results
    pipe: object
    spec: pipelines.BatchSpec
    buckets: tuple[int, ...]
    cache_dir: Path
    limit_ips: float | None
    ladder: dict = field(default_factory=dict)

    @property
    def max_batch(self) -> int:
        return self.args.max_batch

    def step(self, name: str, model, *, warm: bool = True) -> None:
        with self.results.guarded(name):
            self.ladder[name] = rung(
                model,
                self.spec,
                max_batch=self.max_batch,
                device=self.device,
                reps=1 if self.args.smoke else 2,
                limit_ips=self.limit_ips,
                warm=warm,
            )
            shown = {k: v for k, v in self.ladder[name].items() if "all" not in k}
            log(f"{name}: {json.dumps(shown)}")
        self.results.put("ladder", self.ladder)

    def baseline(self) -> None:
        """Plain diffusers, eager, one call per request."""
        case, pipe, device = self.case, self.pipe, self.device
        for seed in (1, 2):
            plain_call(pipe, case, seed, device)
        plain = [
            plain_call(pipe, case, 1000 + i, device) for i in range(3 if self.args.smoke else 8)
        ]
        ips = 1 / statistics.mean(plain)
        self.ladder["plain diffusers, one at a time"] = {
            "lone_s": median(plain),
            "lone_all_s": [round(t, 4) for t in plain],
            "images_per_s": ips,
            "flop_limit_pct": 100 * ips / self.limit_ips if self.limit_ips else None,
        }
        self.results.put("ladder", self.ladder)
        log(f"baseline {median(plain):.3f} s a request")

    def eager_rungs(self) -> list:
        """The eager rungs, one optimization added at a time on the same weights (none with
        --skip-eager: only what the compiled rungs build on); returns the
        reference images (eager fp16, plain options) the optimized path is compared with."""
        pipe, device, spec = self.pipe, self.device, self.spec
        model = pipelines.LoadedModel(pipe, options=serving.ServingOptions())
        reference = pipelines.run_batch(model, spec, requests_for(4, 7000))
        if self.args.skip_eager:
            # The compiled rungs start from what the eager ones leave: fused QKV, channels-last.
            serving.prepare(pipe, optimized_options(device), torch.device(device))
            return reference
        self.step("run_batch, eager fp16 (batching)", model)
        with self.results.guarded("ablation: classic attention, no SDPA"):
            pipe.unet.set_attn_processor(AttnProcessor())
            try:
                seconds = batch_seconds(model, spec, self.max_batch, 300, device)
            finally:
                pipe.unet.set_attn_processor(AttnProcessor2_0())
            self.ladder["ablation: classic attention, no SDPA"] = {"batch_s": seconds}
        if device == "cuda":
            pipe.unet.to(memory_format=torch.channels_last)
            self.step("+ channels-last UNet", model)
        pipe.unet.fuse_qkv_projections()
        pipe.vae.fuse_qkv_projections()
        self.step(
            "+ fused QKV projections",
            pipelines.LoadedModel(pipe, options=optimized_options(device)),
        )
        options = optimized_options(device, text_cache_entries=1024, device_postprocess=True)
        self.step(
            "+ text-embedding cache, uint8 on device", pipelines.LoadedModel(pipe, options=options)
        )
        if device == "cuda" and self.clock.left() > 400:
            with self.results.guarded("ablation: the same in bf16"):
                copied = copy.deepcopy(pipe).to(dtype=torch.bfloat16)
                bf16 = pipelines.LoadedModel(copied, options=options)
                batch_seconds(bf16, spec, 1, 11, device)
                seconds = batch_seconds(bf16, spec, self.max_batch, 301, device)
                self.ladder["ablation: the same in bf16"] = {"batch_s": seconds}
                del copied, bf16
                torch.cuda.empty_cache()
        self.results.put("ladder", self.ladder)
        return reference

    def compiled_rungs(self):
        """torch.compile of the UNet, then of the VAE decoder too, each bucket warmed (that is,
        compiled) first and timed; returns the compiled model."""
        compiled, model = {}, None
        backend = "inductor" if self.device == "cuda" else "eager"
        for target in ("unet", "unet+vae"):
            options = optimized_options(
                self.device,
                compile=target,
                compile_mode=self.args.compile_mode,
                compile_cache_dir=self.cache_dir,
                buckets=self.buckets,
                text_cache_entries=1024,
                device_postprocess=True,
            )
            stage = f"compile {target}"
            with self.results.guarded(stage):
                if target == "unet":
                    serving.compile_cache_use(self.cache_dir)
                    serving.compile_modules(self.pipe, options, backend=backend)
                elif serving.decoder_compilable(self.pipe):
                    self.pipe.vae.decoder.compile(**serving.compile_kwargs(options, backend))
                else:
                    log("the VAE is upcast around every decode: its decoder stays eager")
                    break
                candidate = pipelines.LoadedModel(self.pipe, options=options)
                began = time.perf_counter()
                per_bucket = pipelines.warm_up(candidate, size=self.case.size)
                compiled[target] = {
                    "warm_up_s": time.perf_counter() - began,
                    "per_bucket_s": per_bucket,
                }
                log(f"compiled {target}: {compiled[target]}")
                self.results.put("compile", compiled)
                model = candidate
                label = "UNet" if target == "unet" else "VAE decoder"
                self.step(f"+ torch.compile {label} ({self.args.compile_mode})", model, warm=False)
            if stage in self.results.data["errors"]:
                break
        compiled["artifacts_bytes"] = serving.compile_cache_save(self.cache_dir)
        self.results.put("compile", compiled)
        return model

    def streams(self, model, pool) -> None:
        """Concurrent users with gates and stamping on; then off at the largest count and for
        one user."""
        args, results = self.args, self.results
        users = [int(x) for x in args.users.split(",")]
        reserve = 0 if args.no_warm_start else (20 if args.smoke else 110)
        batch_s = list(self.ladder.values())[-1].get("batch_s") or 1.0
        # Until a point's queue is full its figures are not steady: about one latency is skipped.
        warm = {n: 0.5 + 1.5 * batch_s * -(-n // self.max_batch) for n in users}
        points = [*users, users[-1], 1]
        spare = self.clock.left() - reserve - sum(2 * warm[n] for n in points)
        if args.smoke:
            measure_s = max(2.0, 5 * batch_s)
        else:
            measure_s = max(4 * batch_s, min(12.0, spare / len(points)))
        sweep = []
        kwargs = {"max_batch": self.max_batch, "device": self.device, "rng_seed": 5}
        stream = Stream(model, self.spec, pool=pool, **kwargs)
        for count in users:
            with results.guarded(f"stream {count}"):
                point = stream.run(count, warm[count] + measure_s, warm[count])
                sweep.append(point)
                log(f"governed, {count} users: {json.dumps(point)}")
            results.put("stream", sweep)
        ungoverned = Stream(model, self.spec, pool=None, **kwargs)
        with results.guarded("governance"):
            top = users[-1]
            off = ungoverned.run(top, warm[top] + measure_s, warm[top])
            log(f"gates off, {top} users: {json.dumps(off)}")
            on = next(point for point in sweep if point["users"] == top)
            ratio = on["images_per_s"] / off["images_per_s"] if off["images_per_s"] else None
            results.put("governance", {"on": on, "off": off, "ratio": ratio})
            lone_off = ungoverned.run(1, warm[1] + measure_s, warm[1])
            results.put("governance", {"on": on, "off": off, "ratio": ratio, "lone_off": lone_off})


def run(args) -> None:
    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("no CUDA device; use --smoke for a CPU check")
    case = case_for(args)
    clock = Clock(args.deadline_s)
    results = Results(Path(args.out), environment(device))
    buckets = tuple(int(x) for x in args.buckets.split(","))
    cache_dir = Path(args.compile_cache or tempfile.mkdtemp(prefix="mintmark-compile-"))
    log(f"{case.name} on {results.data['env']['device']}; buckets {buckets}, cache {cache_dir}")

    pool = gate_pool(args.gate_processes, args.catalog)
    torch.manual_seed(0)
    began = time.perf_counter()
    pipe = case.build(device)
    pipe.to(device=device, dtype=torch.float16 if device == "cuda" else torch.float32)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = pipelines.SCHEDULERS[SCHEDULER].from_config(pipe.scheduler.config)
    tflops = matmul_tflops(device)
    limit_ips = tflops / case.tflop_per_image if tflops and case.tflop_per_image else None
    results.put(
        "setup",
        {
            "case": case.name,
            "steps": case.steps,
            "max_batch": args.max_batch,
            "buckets": buckets,
            "compile_mode": args.compile_mode,
            "sdxl_vae": args.sdxl_vae if case.name.startswith("SDXL") else None,
            "build_s": time.perf_counter() - began,
            "matmul_tflops": tflops,
            "tflop_per_image": case.tflop_per_image,
            "flop_limit_images_per_s": limit_ips,
            "gate_processes": args.gate_processes,
            "catalog_items": args.catalog,
        },
    )
    bench = Run(
        args, case, device, clock, results, pipe, spec_for(case), buckets, cache_dir, limit_ips
    )
    bench.baseline()
    reference = bench.eager_rungs()
    if args.no_compile:
        model = pipelines.LoadedModel(
            pipe,
            options=optimized_options(device, text_cache_entries=1024, device_postprocess=True),
        )
    else:
        model = bench.compiled_rungs()
    if model is not None:
        with results.guarded("quality"):
            optimized = pipelines.run_batch(model, bench.spec, requests_for(4, 7000))
            results.put("quality", image_difference(optimized, reference))
            log(f"quality against eager fp16: {results.data['stages']['quality']}")
        bench.streams(model, pool)
    pool.shutdown()
    if not args.no_warm_start and clock.left() > (10 if args.smoke else 60):
        results.put("warm_start", warm_start(args, cache_dir, clock))
    plot(results, Path(args.out))
    print()
    print(table(results.data), flush=True)


def warm_start(args, cache_dir: Path, clock: Clock) -> dict:
    command = [
        sys.executable,
        str(Path(__file__).resolve().parent / "gpu_serving.py"),
        "--warm-start-child",
        "--case",
        args.case,
        "--buckets",
        args.buckets,
        "--max-batch",
        str(args.max_batch),
        "--compile-mode",
        args.compile_mode,
        "--sdxl-vae",
        args.sdxl_vae,
        "--compile-cache",
        str(cache_dir),
        "--out",
        str(cache_dir / "child"),
        "--spawned-at",
        repr(time.time()),
    ] + (["--smoke"] if args.smoke else [])
    began = time.perf_counter()
    try:
        subprocess.run(command, check=True, timeout=max(10, clock.left() - 10))  # noqa: S603
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return {"error": str(exc), "wall_s": time.perf_counter() - began}
    child = json.loads((cache_dir / "child" / "warm_start.json").read_text())
    child["wall_s"] = time.perf_counter() - began
    log(f"warm start: {json.dumps(child)}")
    return child


def worker_start(args, started_at: float) -> dict:
    """What a GPU worker does when it loads a model (PipelineCache._load after the weights are
    read): prepare the pipeline with the serving options, warm (compile or load) every bucket,
    save the compile artifacts; then a lone request and a full batch are timed. `started_at`
    is the process's start (time.time())."""
    began = time.perf_counter()
    device = "cpu" if args.smoke else "cuda"
    case = case_for(args)
    cache_dir = Path(args.compile_cache)
    had_artifacts = (cache_dir / serving.ARTIFACTS_FILE).is_file()
    options = optimized_options(
        device,
        compile="unet+vae",
        compile_mode=args.compile_mode,
        compile_cache_dir=cache_dir,
        buckets=tuple(int(x) for x in args.buckets.split(",")),
        text_cache_entries=1024,
        device_postprocess=True,
    )
    torch.manual_seed(0)
    pipe = case.build(device)
    pipe.to(device=device, dtype=torch.float16 if device == "cuda" else torch.float32)
    pipe.set_progress_bar_config(disable=True)
    built = time.perf_counter()
    serving.prepare(pipe, options, torch.device(device))
    if device != "cuda":
        compile_into(pipe, options, device)
    model = pipelines.LoadedModel(pipe, options=options)
    per_bucket = pipelines.warm_up(model, size=case.size)
    ready = time.perf_counter()
    since_start = time.time() - started_at
    artifacts = serving.compile_cache_save(cache_dir)
    spec = spec_for(case)
    return {
        "cache_had_artifacts": had_artifacts,
        "start_and_imports_s": since_start - (ready - began),
        "build_s": built - began,
        "warm_up_s": ready - built,
        "per_bucket_s": per_bucket,
        "ready_after_start_s": since_start,
        "artifacts_bytes": artifacts,
        "lone_s": median([batch_seconds(model, spec, 1, 50 + i, device) for i in range(3)]),
        "batch_s": batch_seconds(model, spec, args.max_batch, 60, device),
    }


def warm_start_child(args) -> None:
    out = worker_start(args, args.spawned_at)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "warm_start.json").write_text(json.dumps(out))


def restarts(args) -> None:
    """A cold start (an empty compile cache) in this process, then a restart: a new process on
    the cache the first one filled."""
    device = "cpu" if args.smoke else "cuda"
    results = Results(Path(args.out), environment(device))
    args.compile_cache = args.compile_cache or tempfile.mkdtemp(prefix="mintmark-compile-")
    clock = Clock(args.deadline_s)
    with results.guarded("cold_start"):
        results.put("cold_start", worker_start(args, args.started_at))
        log(f"cold start: {json.dumps(results.data['stages']['cold_start'])}")
    results.put("warm_start", warm_start(args, Path(args.compile_cache), clock))
    print()
    print(table(results.data), flush=True)


def plot(results: Results, out: Path) -> None:
    """Throughput against concurrent users: the governed stream, the gates-off point, the plain
    baseline and the FLOP limit."""
    stages = results.data["stages"]
    sweep = stages.get("stream") or []
    if not sweep:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no plot")
        return
    figure, axis = plt.subplots(figsize=(7, 4.5))
    users = [point["users"] for point in sweep]
    axis.plot(
        users, [p["images_per_s"] for p in sweep], "o-", label="Mintmark, gates + stamping on"
    )
    governance = stages.get("governance")
    if governance:
        off = governance["off"]
        axis.plot([off["users"]], [off["images_per_s"]], "s", label="Mintmark, gates off")
    baseline = stages["ladder"]["plain diffusers, one at a time"]["images_per_s"]
    axis.axhline(baseline, color="grey", ls="--", label="plain diffusers, one at a time")
    limit = stages["setup"].get("flop_limit_images_per_s")
    if limit:
        axis.axhline(limit, color="red", ls=":", label="FLOP limit (measured matmul rate)")
        axis.axhline(0.6 * limit, color="orange", ls=":", label="60 % of the FLOP limit")
    axis.set_xscale("log", base=2)
    axis.set_xticks(users, [str(u) for u in users])
    axis.set_xlabel("concurrent users (closed loop)")
    axis.set_ylabel("images / s, submit to released")
    axis.set_title(f"{stages['setup']['case']}, {results.data['env']['device']}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "throughput_vs_users.png", dpi=120)


def _f(value, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def table(data: dict) -> str:
    stages = data["stages"]
    ladder = stages.get("ladder", {})
    setup = stages.get("setup", {})
    base = ladder.get("plain diffusers, one at a time", {}).get("images_per_s")
    lines = (
        []
        if not ladder
        else [
            f"{setup.get('case')} on {data['env']['device']}, max batch {setup.get('max_batch')}, "
            f"buckets {setup.get('buckets')}, FLOP limit "
            f"{_f(setup.get('flop_limit_images_per_s'), '{:.2f}')} images/s "
            f"({_f(setup.get('matmul_tflops'), '{:.0f}')} TFLOP/s measured)",
            "",
            f"| step | lone request (s) | batch of {setup.get('max_batch')} (s) | images/s "
            "| % of FLOP limit | x baseline |",
            "| --- | --- | --- | --- | --- | --- |",
        ]
    )
    for name, row in ladder.items():
        ips = row.get("images_per_s")
        if ips is None and row.get("batch_s"):
            ips = setup.get("max_batch") / row["batch_s"]
        limit = setup.get("flop_limit_images_per_s")
        pct = 100 * ips / limit if ips and limit else None
        lines.append(
            f"| {name} | {_f(row.get('lone_s'))} | {_f(row.get('batch_s'))} | {_f(ips, '{:.2f}')} "
            f"| {_f(pct, '{:.1f}')} | {_f(ips / base if ips and base else None, '{:.2f}')} |"
        )
    sweep = stages.get("stream") or []
    if sweep:
        lines += [
            "",
            "| users | gates + stamping | images/s | % of FLOP limit | latency p50 / p95 (s) "
            "| image on host p50 (s) | mean batch | GPU busy % |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        governance = stages.get("governance") or {}
        extra = [governance[k] for k in ("off", "lone_off") if k in governance]
        for point in [*sweep, *extra]:
            limit = setup.get("flop_limit_images_per_s")
            pct = 100 * point["images_per_s"] / limit if limit else None
            lines.append(
                f"| {point['users']} | {'on' if point['governed'] else 'off'} "
                f"| {point['images_per_s']:.2f} | {_f(pct, '{:.1f}')} "
                f"| {point['latency_p50_s']:.3f} / {point['latency_p95_s']:.3f} "
                f"| {point['to_host_p50_s']:.3f} | {_f(point['mean_batch'], '{:.1f}')} "
                f"| {point['gpu_busy_pct']:.0f} |"
            )
        if governance.get("on") and governance.get("ratio") is None:
            lines += [
                "",
                f"governance on/off at {governance['on']['users']} users: no ratio "
                "(no ungoverned image finished inside the window)",
            ]
        elif governance.get("ratio") is not None:
            on = governance["on"]
            lines += [
                "",
                f"governance on/off at {on['users']} users: {governance['ratio']:.3f} "
                f"(gates run: {', '.join(on['gates_run'])}; decisions {on['decisions']}; "
                f"p50 gates {_f(on['gates_ms_p50'], '{:.0f}')} ms, stamping "
                f"{_f(on['stamp_ms_p50'], '{:.0f}')} ms an image, "
                f"{setup.get('gate_processes')} gate processes)",
            ]
        lone = next((p for p in sweep if p["users"] == 1), None)
        plain = ladder.get("plain diffusers, one at a time", {}).get("lone_s")
        if lone and plain:
            lines.append(
                f"lone request on an idle worker: image on host {lone['to_host_p50_s']:.3f} s, "
                f"released {lone['latency_p50_s']:.3f} s; plain diffusers eager batch 1: "
                f"{plain:.3f} s"
            )
    if "quality" in stages:
        lines.append(f"quality, optimized vs eager fp16, same seeds: {stages['quality']}")
    if "compile" in stages:
        lines.append(f"cold compile: {stages['compile']}")
    if "cold_start" in stages:
        lines.append(f"cold start (empty compile cache): {stages['cold_start']}")
    if "warm_start" in stages:
        lines.append(f"warm start (new process, same cache): {stages['warm_start']}")
    if data.get("errors"):
        lines.append(f"stages that failed: {', '.join(data['errors'])}")
    return "\n".join(lines)
