"""What a GPU worker does with one task: claim the job and compatible queued jobs, run them as
one pipeline call, store the images in quarantine and hand them to the gates.

On a GPU, storing (PNG encoding, hashing, the storage write) runs behind: the task returns as
soon as the images are on the host and the next batch starts on the GPU while a background
thread stores this one. One batch at most waits to be stored; a worker that dies before
storing leaves its jobs RUNNING, and the stale-job sweep queues them again."""

import dataclasses
import io
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import structlog
from celery.signals import worker_process_shutdown
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import close_old_connections, transaction
from django.db.models import F, Window
from django.db.models.functions import RowNumber
from django.utils import timezone
from PIL import Image

from generation import pipelines, serving, upscaling
from generation.job_news import job_news_send
from generation.models import Asset, GenerationJob, GenerativeModel
from generation.outputs import encode_image
from generation.transitions import job_transition, jobs_claim
from mintmark import metrics
from moderation.stage import gates_submit

log = structlog.get_logger(__name__)
State = GenerationJob.State

_cache: pipelines.PipelineCache | None = None


def serving_options() -> serving.ServingOptions:
    """The worker's ServingOptions from its settings (README, "GPU serving")."""
    compiled = settings.GPU_COMPILE != "off"
    return serving.ServingOptions(
        dtype=settings.GPU_DTYPE,
        sdpa=settings.GPU_SDPA,
        channels_last=settings.GPU_CHANNELS_LAST,
        fuse_qkv=settings.GPU_FUSE_QKV,
        compile=settings.GPU_COMPILE,
        compile_mode=settings.GPU_COMPILE_MODE,
        compile_cache_dir=settings.GPU_COMPILE_CACHE_DIR if compiled else None,
        # Padding buys a reused compiled shape; an eager model would only do extra work.
        buckets=settings.GPU_BATCH_BUCKETS if compiled else (),
        text_cache_entries=settings.GPU_TEXT_CACHE_ENTRIES,
        device_postprocess=settings.GPU_DEVICE_POSTPROCESS,
    )


def pipeline_cache() -> pipelines.PipelineCache:
    # One per worker process: models stay resident between tasks.
    global _cache
    if _cache is None:
        _cache = pipelines.PipelineCache(
            max_bytes=settings.MODEL_CACHE_BYTES,
            device=pipelines.device_default(),
            options=serving_options(),
        )
    return _cache


# Jobs may share a pipeline call when their models have the same weights (two organizations
# that registered the same folder share one resident pipeline) and every BatchSpec field is
# equal; BatchSpec's fields are job fields of the same names.
SPEC_FIELDS = tuple(field.name for field in dataclasses.fields(pipelines.BatchSpec))


def _fair_queued(**filters):
    """Queued jobs in the order the GPU takes them: per-organization round robin. Each job's
    turn is its place in its own organization's queue (oldest first), so one organization's
    backlog never puts another's next job behind it; equal turns go oldest first. Batching is
    kept: a batch is filled in this order from the jobs that can share the call."""
    turn = Window(RowNumber(), partition_by=[F("org_id")], order_by=F("created_at").asc())
    return (
        GenerationJob.objects.filter(state=State.QUEUED, **filters)
        .annotate(turn=turn)
        .order_by("turn", "created_at")
    )


def _next_queued() -> GenerationJob | None:
    """The job whose turn is next, of any model or spec: it leads the next batch."""
    picked = _fair_queued().values_list("pk", flat=True)[:1]
    return GenerationJob.objects.select_related("model").filter(pk__in=list(picked)).first()


def _compatible_queued(primary: GenerationJob, room: int) -> list:
    """Ids of queued jobs that can share the primary's pipeline call, in their turn, up to
    `room` images."""
    same = {name: getattr(primary, name) for name in SPEC_FIELDS}
    same["model__weights_sha256"] = primary.model.weights_sha256
    candidates = _fair_queued(**same).exclude(pk=primary.pk).values_list("pk", "num_images")[:64]
    chosen = []
    for job_id, images in candidates:
        if images <= room:
            chosen.append(job_id)
            room -= images
    return chosen


def _gather(primary: GenerationJob) -> list:
    room = settings.GPU_MAX_BATCH_IMAGES - primary.num_images
    ids = [primary.pk, *_compatible_queued(primary, room)] if room > 0 else [primary.pk]
    if room > 0 and len(ids) == 1 and settings.GPU_BATCH_WINDOW_MS:
        # A short wait lets requests submitted together share one call.
        time.sleep(settings.GPU_BATCH_WINDOW_MS / 1000)
        ids += _compatible_queued(primary, room)
    return ids


@dataclass
class _Progress:
    job_ids: list
    last_write: float = 0.0
    last_check: float = 0.0
    cancelled: bool = False

    def on_step(self, step: int, total: int) -> None:
        now = time.monotonic()
        if step < total and now - self.last_write < settings.PROGRESS_MIN_INTERVAL_S:
            return
        self.last_write = now
        GenerationJob.objects.filter(pk__in=self.job_ids, state=State.RUNNING).update(
            progress_step=step, progress_total=total, heartbeat_at=timezone.now()
        )
        job_news_send(*self.job_ids)

    def should_cancel(self) -> bool:
        # A batch stops early only when every job in it was cancelled; otherwise the others'
        # images are still wanted and the cancelled job's are discarded afterwards.
        now = time.monotonic()
        if now - self.last_check >= settings.PROGRESS_MIN_INTERVAL_S:
            self.last_check = now
            running = GenerationJob.objects.filter(pk__in=self.job_ids, state=State.RUNNING)
            self.cancelled = not running.exists()
        return self.cancelled


def _load_input(key: str) -> Image.Image | None:
    if not key:
        return None
    with storages["quarantine"].open(key) as handle:
        return Image.open(io.BytesIO(handle.read())).convert("RGB")


def _requests(jobs: list[GenerationJob]) -> list[pipelines.ImageRequest]:
    requests = []
    for job in jobs:
        init, mask = _load_input(job.input_image_key), _load_input(job.mask_image_key)
        control = _load_input(job.control_image_key)
        for seed in job.seeds:
            requests.append(
                pipelines.ImageRequest(
                    prompt=job.prompt,
                    negative_prompt=job.negative_prompt,
                    seed=seed,
                    init_image=init,
                    mask_image=mask,
                    control_image=control,
                )
            )
    return requests


def _spec(job: GenerationJob) -> pipelines.BatchSpec:
    return pipelines.BatchSpec(**{name: getattr(job, name) for name in SPEC_FIELDS})


def _run_splitting(model, spec, requests, progress) -> list[Image.Image]:
    """One call for the whole batch; on running out of GPU memory, halves until it fits."""
    run = upscaling.run_upscale if spec.mode == pipelines.UPSCALE else pipelines.run_batch
    try:
        return run(
            model, spec, requests, on_step=progress.on_step, should_cancel=progress.should_cancel
        )
    except pipelines.OutOfMemory:
        if len(requests) == 1:
            raise
        half = len(requests) // 2
        log.warning("gpu out of memory, splitting batch", images=len(requests))
        pipelines.free_memory()
        return _run_splitting(model, spec, requests[:half], progress) + _run_splitting(
            model, spec, requests[half:], progress
        )


def _store(job: GenerationJob, index: int, seed: int, image: Image.Image) -> None:
    encoded = encode_image(image)
    store = storages["quarantine"]
    # Keyed by job and index: a retried run overwrites its own file instead of adding one.
    key = f"outputs/{job.pk}/{index}.png"
    if store.exists(key):
        store.delete(key)
    store.save(key, ContentFile(encoded.png))
    Asset.objects.update_or_create(
        job=job,
        index=index,
        defaults={
            "seed": seed,
            "width": encoded.width,
            "height": encoded.height,
            "sha256": encoded.sha256,
            "quarantine_key": key,
            "state": Asset.State.QUARANTINED,
            **encoded.hashes,
        },
    )


def _fail(jobs, reason: str) -> None:
    for job in jobs:
        job_transition(job_id=job.pk, to=State.FAILED, reason=reason)


def _finish(jobs: list[GenerationJob], images: list[Image.Image], task_id: str) -> None:
    """Stores each job's images in quarantine and moves it on to the gates, unless it was
    cancelled or taken over meanwhile."""
    offset = 0
    for job in jobs:
        produced = images[offset : offset + job.num_images]
        offset += job.num_images
        with transaction.atomic():
            current = GenerationJob.objects.select_for_update().get(pk=job.pk)
            if current.state != State.RUNNING or current.claimed_by != task_id:
                continue
            for index, (seed, image) in enumerate(zip(job.seeds, produced, strict=True)):
                _store(job, index, seed, image)
            moved = job_transition(
                job_id=job.pk,
                to=State.GATING,
                progress_step=current.progress_total,
                data={"assets": job.num_images},
            )
        if moved is not None:
            gates_submit(job=moved)


_behind = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-behind")
_behind_lock = threading.Lock()
_behind_pending: Future | None = None


def _finish_behind(jobs, images, task_id: str) -> None:
    try:
        close_old_connections()  # this thread's connection may have gone stale between batches
        _finish(jobs, images, task_id)
    except Exception:
        # The jobs stay RUNNING; the stale-job sweep queues them again.
        log.exception("storing a batch failed", jobs=[str(job.pk) for job in jobs])


def store_behind_flush() -> None:
    """Waits until the batch being stored behind (if any) is stored."""
    with _behind_lock:
        pending = _behind_pending
    if pending is not None:
        pending.result()


@worker_process_shutdown.connect(weak=False)
def _flush_on_shutdown(**_) -> None:
    store_behind_flush()


def _store_behind() -> bool:
    return settings.GPU_STORE_BEHIND and pipeline_cache().device.type == "cuda"


def _hand_over(jobs, images, task_id: str) -> None:
    global _behind_pending
    if not _store_behind():
        _finish(jobs, images, task_id)
        return
    # At most one batch waits: when storing is slower than the GPU, the GPU waits for it.
    store_behind_flush()
    with _behind_lock:
        _behind_pending = _behind.submit(_finish_behind, jobs, images, task_id)


def _claim_batch(task_id: str) -> tuple[GenerationJob | None, list]:
    """The batch this task runs: the one it had claimed (a redelivery after its worker died),
    else the next batch in the round robin. Another worker may claim the same jobs at the same
    moment; the loser picks again."""
    mine = GenerationJob.objects.filter(state=State.RUNNING, claimed_by=task_id)
    ids = list(mine.values_list("pk", flat=True))
    if ids:
        primary = GenerationJob.objects.select_related("model").get(pk=ids[0])
        return primary, jobs_claim(job_ids=ids, task_id=task_id)
    for _ in range(3):
        primary = _next_queued()
        if primary is None:
            return None, []
        jobs = jobs_claim(job_ids=_gather(primary), task_id=task_id)
        if jobs:
            return primary, jobs
    return None, []


def job_run(*, job_id, task_id: str) -> None:
    """Runs one batch of queued jobs; safe to call again for the same task. Every job has one
    task and every task claims a batch while any job is queued, so no job is left behind; which
    jobs a task runs is the round robin's choice (`_fair_queued`), not its own job's."""
    primary, jobs = _claim_batch(task_id)
    if not jobs:
        log.debug("nothing queued", job_id=str(job_id))
        return
    jobs.sort(key=lambda job: job.created_at)
    log.info("gpu batch", jobs=len(jobs), images=sum(job.num_images for job in jobs))
    model_row = primary.model
    if model_row.state != GenerativeModel.State.READY:
        # Submission refuses such a model too; this is the last check before weights load.
        _fail(jobs, f"model {model_row} cannot be used: its weights are {model_row.state}")
        return
    try:
        model = pipeline_cache().get(
            # Keyed by the weights, verified against the same digest: models of several
            # organizations registered from one folder are one pipeline on the GPU.
            key=model_row.weights_sha256,
            folder=model_row.local_path,
            expected_sha256=model_row.weights_sha256,
        )
    except pipelines.ModelLoadError as exc:
        _fail(jobs, f"model {model_row} could not be loaded: {exc}")
        return
    progress = _Progress(job_ids=[job.pk for job in jobs])
    started = time.monotonic()
    try:
        images = _run_splitting(model, _spec(primary), _requests(jobs), progress)
    except pipelines.Cancelled:
        return
    except pipelines.OutOfMemory as exc:
        _fail(jobs, f"out of GPU memory even for a single image: {exc}")
        return
    except (ValueError, pipelines.ModelLoadError) as exc:
        # The request cannot run on this model (no edit pipeline, inputs it refuses): the job
        # ends FAILED with the reason and the worker goes on with the next one.
        _fail(jobs, f"{type(exc).__name__}: {exc}")
        return
    metrics.gpu_batch(
        model=model_row.name,
        images=len(images),
        steps=primary.steps,
        seconds=time.monotonic() - started,
        device=pipeline_cache().device,
    )
    _hand_over(jobs, images, task_id)
