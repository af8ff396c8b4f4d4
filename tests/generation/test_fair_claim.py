"""The GPU worker's claim order: per-organization round robin (generation.worker._fair_queued).
An organization that queues ten times more than another must not put the other's jobs behind
its backlog; batching is kept, and every queued job still runs exactly once."""

import pytest

from generation import worker
from generation.models import Asset, GenerationJob
from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_pipeline
from tests.mm_api_support import make_dataset, register_at

State = GenerationJob.State


@pytest.fixture(scope="module")
def shared_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("shared-models")
    save_tiny_pipeline(root / "tiny-sd", family="sd15")
    return root


@pytest.fixture
def models(personas, shared_root, settings):
    """One folder under a shared model root, registered by both organizations."""
    settings.SHARED_MODEL_ROOTS = (shared_root,)
    folder = shared_root / "tiny-sd"
    big, small = personas["staff"].org, personas["outsider"].org
    return [register_at(org, folder, datasets=[make_dataset(org)[0]]) for org in (big, small)]


@pytest.fixture(autouse=True)
def no_batch_window(settings):
    settings.GPU_BATCH_WINDOW_MS = 0


def submit(persona, seed: int) -> GenerationJob:
    request = JobRequest(prompt="a red cube", model="tiny", width=32, height=32, steps=2, seed=seed)
    return job_submit(membership=persona.membership, req=request)


def test_a_small_org_is_not_queued_behind_a_big_backlog(personas, models):
    big = [submit(personas["staff"], seed) for seed in range(20)]
    small = [submit(personas["outsider"], 100 + seed) for seed in range(2)]
    # The task of the big org's oldest job runs first, as the broker delivers it.
    worker.job_run(job_id=big[0].pk, task_id="task-1")
    first = set(GenerationJob.objects.filter(claimed_by="task-1").values_list("pk", flat=True))
    # Oldest first would take the big org's first 8 jobs; the round robin takes each org's
    # next job in turn, in one call: the models share their weights.
    assert len(first) == 8
    assert {job.pk for job in small} <= first
    assert {job.pk for job in big[:6]} <= first


def test_every_queued_job_runs_once_whichever_task_claims_it(personas, models):
    jobs = [submit(personas["staff"], seed) for seed in range(11)]
    jobs += [submit(personas["outsider"], 100 + seed) for seed in range(3)]
    # One task per job, delivered in order; a task whose own job another batch took runs the
    # next batch instead, and those left with nothing queued do nothing.
    for index, job in enumerate(jobs):
        worker.job_run(job_id=job.pk, task_id=f"task-{index}")
    states = set(GenerationJob.objects.filter(pk__in=[j.pk for j in jobs]).values_list("state"))
    assert states == {(State.GATING,)}
    assert GenerationJob.objects.filter(attempts=1, pk__in=[j.pk for j in jobs]).count() == 14
    assert Asset.objects.filter(job__in=jobs).count() == 14
    tasks = set(GenerationJob.objects.values_list("claimed_by", flat=True))
    assert tasks == {"task-0", "task-1"}  # 8 + 6 images, two calls
