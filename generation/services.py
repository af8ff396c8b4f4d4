import os
import time
from pathlib import Path

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_append
from generation.families import family_mismatch
from generation.model_folders import Placement, model_folder_place
from generation.models import GenerativeModel
from generation.weights import WeightsError, folder_pipeline_class, weights_sha256
from licensing.models import Dataset
from mintmark.errors import ApiError
from orgs.models import Organization

State = GenerativeModel.State
# How often a verification writes its progress (bytes hashed) to the model's row.
PROGRESS_INTERVAL_S = 0.5
# Registrations that claim folders are taken one at a time (PostgreSQL; SQLite's write
# transactions already are), so two orgs cannot both claim one folder.
_REGISTER_LOCK = 0x6D6D_6D64


def _not_allowed() -> ApiError:
    roots = ", ".join(str(root) for root in (*settings.MODEL_ROOTS, *settings.SHARED_MODEL_ROOTS))
    # One answer for a missing path, a file, a folder outside the roots and another org's
    # folder: the API must not tell what exists on the server.
    return ApiError(
        422,
        "invalid_model_folder",
        "local_path is not under an allowed model root that this organization may use "
        f"(model roots: {roots or 'none'}).",
    )


def _claimed_elsewhere(org: Organization, folder: Path) -> bool:
    """Whether another org registered this folder, a folder inside it or one holding it."""
    text = str(folder)
    overlapping = Q(local_path=text) | Q(local_path__in=[str(p) for p in folder.parents])
    overlapping |= Q(local_path__startswith=text + os.sep)
    others = GenerativeModel.objects.exclude(org=org).exclude(state=State.FAILED)
    return others.filter(overlapping).exists()


def model_folder_allowed(*, org: Organization, local_path: str) -> tuple[Path, bool]:
    """The folder `local_path` names, resolved, if `org` may register it, and whether it still
    has to be claimed (a folder elsewhere under a model root is the first registering org's).
    `<root>/<slug>/` is that org's alone; what is under a shared root any org may use."""
    place: Placement | None = model_folder_place(
        local_path, settings.MODEL_ROOTS, settings.SHARED_MODEL_ROOTS
    )
    if place is None:
        raise _not_allowed()
    if place.shared:
        claim = False
    else:
        slugs = set(
            Organization.objects.filter(slug__in=place.first_parts).values_list("slug", flat=True)
        )
        if slugs - {org.slug}:
            raise _not_allowed()
        claim = org.slug not in slugs
        if claim and _claimed_elsewhere(org, place.folder):
            raise _not_allowed()
    if not (place.folder / "model_index.json").is_file():
        raise ApiError(
            422,
            "invalid_model_folder",
            "local_path is not a diffusers pipeline folder: it has no model_index.json.",
        )
    return place.folder, claim


class _Progress:
    """Bytes hashed so far and in all, passed on to `report` at most every PROGRESS_INTERVAL_S
    and once at the end."""

    def __init__(self, report=None) -> None:
        self.done = self.total = 0
        self.report = report
        self.last = -PROGRESS_INTERVAL_S

    def __call__(self, done: int, total: int) -> None:
        self.done, self.total = done, total
        now = time.monotonic()
        if self.report and (now - self.last >= PROGRESS_INTERVAL_S or done == total):
            self.last = now
            self.report(done, total)


def _hash(folder: Path, progress: _Progress) -> str:
    # The stored path was resolved at registration: one that resolves elsewhere now had a
    # folder on its way replaced by a link since.
    if Path(folder).resolve() != Path(folder):
        raise WeightsError("the folder resolves elsewhere than when it was registered")
    return weights_sha256(Path(folder), max_bytes=settings.MODEL_MAX_BYTES, progress=progress)


def model_register(
    *,
    org: Organization,
    actor,
    name: str,
    version: str,
    family: str,
    local_path: str,
    dataset_ids: list,
    model_card: str = "",
    inline: bool = False,
    progress=None,
) -> GenerativeModel:
    """Registers a local diffusers folder under an allowed model root as a model of the org,
    with the datasets it was trained on. Its weights are hashed by the `generation.verify_model`
    task (the model is VERIFYING until then), or here with `inline` (operators' commands, which
    then write nothing when the folder fails); the worker refuses to load a folder that no
    longer matches the digest."""
    if family not in GenerativeModel.Family.values:
        raise ApiError(
            422, "invalid_family", f"family must be one of {GenerativeModel.Family.values}"
        )
    if not name.strip() or not version.strip():
        raise ApiError(422, "invalid_model", "A model needs a name and a version.")
    folder, claim = model_folder_allowed(org=org, local_path=local_path)
    mismatch = family_mismatch(family, folder_pipeline_class(folder))
    if mismatch:
        raise ApiError(422, "family_mismatch", f"family {family!r}: {mismatch}.")
    datasets = list(Dataset.objects.for_org(org).filter(pk__in=dataset_ids))
    if len(datasets) != len(set(map(str, dataset_ids))):
        raise ApiError(422, "unknown_dataset", "Every trained_on id must be a dataset of this org.")
    _refuse_existing(org, name, version)
    digest, hashed = None, _Progress(progress)
    if inline:
        try:
            digest = _hash(folder, hashed)
        except WeightsError as exc:
            raise ApiError(422, "invalid_model_folder", str(exc)) from None
    with transaction.atomic():
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REGISTER_LOCK])
        if claim and _claimed_elsewhere(org, folder):
            raise _not_allowed()
        _refuse_existing(org, name, version, drop_failed=True)
        model = GenerativeModel.objects.create(
            org=org,
            name=name,
            version=version,
            family=family,
            local_path=str(folder),
            model_card=model_card,
            **(
                {
                    "state": State.READY,
                    "weights_sha256": digest,
                    "verify_bytes_done": hashed.total,
                    "verify_bytes_total": hashed.total,
                    "verified_at": timezone.now(),
                }
                if inline
                else {"verify_heartbeat_at": timezone.now()}
            ),
        )
        model.trained_on.set(datasets)
        audit_append(
            org=org,
            actor=actor,
            action="model.registered",
            subject=model,
            data={
                "name": name,
                "version": version,
                "family": family,
                "local_path": str(folder),
                "trained_on": sorted(str(d.pk) for d in datasets),
            },
        )
        if inline:
            _audit_verified(model)
        else:
            from generation.tasks import verify_model

            transaction.on_commit(lambda: verify_model.delay(str(model.pk)))
    return model


def _refuse_existing(org, name: str, version: str, *, drop_failed: bool = False) -> None:
    existing = GenerativeModel.objects.for_org(org).filter(name=name, version=version).first()
    if existing is None:
        return
    if existing.state != State.FAILED:
        raise ApiError(409, "model_exists", f"{name}:{version} is already registered.")
    if drop_failed:
        # A registration whose weights failed was never usable (no job can name it): a new
        # registration of the same name and version takes its place.
        existing.delete()


def _audit_verified(model: GenerativeModel) -> None:
    audit_append(
        org=model.org,
        actor=None,
        action="model.verified",
        subject=model,
        data={"weights_sha256": model.weights_sha256, "bytes": model.verify_bytes_total},
    )


def model_verify(*, model_id) -> GenerativeModel | None:
    """Hashes the weights of a VERIFYING model (the `generation.verify_model` task, queue
    "gates"), writing its progress as it goes, then marks it READY with the digest or FAILED
    with the reason. Running it again is safe: a model no longer VERIFYING is left alone."""
    model = GenerativeModel.objects.filter(pk=model_id, state=State.VERIFYING).first()
    if model is None:
        return None
    rows = GenerativeModel.objects.filter(pk=model.pk, state=State.VERIFYING)
    hashed = _Progress(
        lambda done, total: rows.update(
            verify_bytes_done=done, verify_bytes_total=total, verify_heartbeat_at=timezone.now()
        )
    )
    try:
        digest, error = _hash(Path(model.local_path), hashed), ""
    except (WeightsError, OSError) as exc:
        digest, error = "", str(exc) or type(exc).__name__
    with transaction.atomic():
        model = GenerativeModel.objects.select_for_update().filter(pk=model.pk).first()
        if model is None or model.state != State.VERIFYING:
            return model
        model.verified_at = timezone.now()
        if error:
            model.state, model.verify_error = State.FAILED, error
        else:
            model.state, model.weights_sha256 = State.READY, digest
            model.verify_bytes_done = model.verify_bytes_total = hashed.total
        model.save()
        if error:
            audit_append(
                org=model.org,
                actor=None,
                action="model.verification_failed",
                subject=model,
                data={"reason": error},
            )
        else:
            _audit_verified(model)
    return model
