"""What one image costs the database and the broker, counted exactly (bench/platform_gpu.py's
`counts` stage; the scaling model in bench/README.md rests on these): N requests go through
the platform's own code in this process, phase by phase — the API's submit (Django's test
client, the same view and middleware as over HTTP), the GPU worker's claim, run and store
(`generation.worker.job_run`, one batch), the gates and stamping (`moderation.gating.job_evaluate`)
and the client's reads (job, then file) — with every SQL statement, transaction, row lock and
broker message tallied. Broker messages are recorded, not sent: nothing else runs them."""

import time
from contextlib import contextmanager
from unittest import mock

from celery.app.task import Task
from django.db import connection
from django.test import Client, override_settings


class Tally:
    def __init__(self):
        self.queries = self.writes = self.locks = self.commits = self.autocommits = 0
        self.audit_appends = 0  # each locks the organization's row until its commit
        self.messages: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.queries += 1
        text = sql.lstrip().upper()
        if text.startswith(("INSERT", "UPDATE", "DELETE")):
            self.writes += 1
        if "FOR UPDATE" in text:
            self.locks += 1
        if text.startswith('INSERT INTO "AUDIT_AUDITEVENT"'):
            self.audit_appends += 1
        if not connection.in_atomic_block:
            self.autocommits += 1
        return execute(sql, params, many, context)

    def as_dict(self, images: int) -> dict:
        return {
            "queries": self.queries / images,
            "writes": self.writes / images,
            "row_locks": self.locks / images,
            "transactions": (self.commits + self.autocommits) / images,
            "broker_messages": len(self.messages) / images,
            "audit_appends": self.audit_appends / images,
        }


@contextmanager
def tallied(tally: Tally):
    real_commit = connection.commit

    def commit():
        tally.commits += 1
        return real_commit()

    def apply_async(task, args=None, kwargs=None, **options):
        tally.messages.append(task.name)

    with (
        connection.execute_wrapper(tally),
        mock.patch.object(connection, "commit", commit),
        mock.patch.object(Task, "apply_async", apply_async),
    ):
        yield


def counts(token: str, body: dict, batch: int) -> dict:
    """Per image, for `batch` requests that share one GPU call."""
    from generation import worker
    from moderation.gating import job_evaluate

    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {token}")
    phases, job_ids = {}, []
    tally = Tally()
    with tallied(tally):
        for index in range(batch):
            answer = client.post(
                "/api/generations", {**body, "seed": 1000 + index}, content_type="application/json"
            )
            assert answer.status_code == 202, answer.content[:300]
            job_ids.append(answer.json()["id"])
    phases["submit"] = tally.as_dict(batch)
    tally = Tally()
    began = time.perf_counter()
    with tallied(tally), override_settings(GPU_BATCH_WINDOW_MS=0):
        worker.job_run(job_id=job_ids[0], task_id=f"counts-{batch}-{time.time()}")
    phases["claim_run_store"] = tally.as_dict(batch)
    phases["claim_run_store"]["seconds"] = time.perf_counter() - began
    tally = Tally()
    with tallied(tally):
        for job_id in job_ids:
            job_evaluate(job_id=job_id)
    phases["gates_stamp_release"] = tally.as_dict(batch)
    tally = Tally()
    with tallied(tally):
        for job_id in job_ids:
            job = client.get(f"/api/generations/{job_id}").json()
            assert job["state"] == "RELEASED", job["state"]
            for asset in job["assets"]:
                assert client.get(asset["file_url"]).status_code == 200
    phases["client_reads"] = tally.as_dict(batch)
    total = {
        key: sum(phase[key] for phase in phases.values())
        for key in next(iter(phases.values()))
        if key != "seconds"
    }
    connection.close()
    return {"batch": batch, "per_image": phases, "total_per_image": total}
