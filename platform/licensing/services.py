from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import IntegrityError, transaction

from audit.services import audit_append
from licensing.hashing import ImageHashes, UnreadableImage, image_hashes
from licensing.manifest import ManifestError, ManifestRow, manifest_read
from licensing.models import ConsentRecord, Dataset, DatasetItem, Licence
from licensing.spdx import STANDARD_LICENCES
from mintmark.errors import ApiError
from orgs.models import Organization

IMPORT_BATCH = 200


def licences_seed_standard(*, org: Organization, actor) -> None:
    for key, name, training, commercial, attribution, url in STANDARD_LICENCES:
        licence_create(
            org=org,
            actor=actor,
            key=key,
            name=name,
            spdx_id=key,
            url=url,
            allows_training=training,
            allows_commercial=commercial,
            requires_attribution=attribution,
        )


def licence_create(*, org: Organization, actor, key: str, **fields) -> Licence:
    if not fields.get("spdx_id") and not fields.get("custom_text"):
        raise ApiError(422, "invalid_licence", "A licence needs an SPDX id or its custom text.")
    with transaction.atomic():
        if Licence.objects.for_org(org).filter(key=key).exists():
            raise ApiError(409, "licence_exists", f"A licence with key {key!r} exists.")
        licence = Licence.objects.create(org=org, key=key, **fields)
        audit_append(
            org=org,
            actor=actor,
            action="licence.created",
            subject=licence,
            data={
                "key": key,
                "spdx_id": licence.spdx_id,
                "allows_training": licence.allows_training,
                "allows_commercial": licence.allows_commercial,
                "requires_attribution": licence.requires_attribution,
                "expires_at": licence.expires_at,
            },
        )
    return licence


def dataset_create(*, org: Organization, actor, name: str, description: str = "") -> Dataset:
    name = name.strip()
    if not name:
        raise ApiError(422, "invalid_dataset", "A dataset needs a name.")
    with transaction.atomic():
        if Dataset.objects.for_org(org).filter(name=name).exists():
            raise ApiError(409, "dataset_exists", f"A dataset named {name!r} exists.")
        dataset = Dataset.objects.create(
            org=org, name=name, description=description, created_by=actor
        )
        audit_append(
            org=org, actor=actor, action="dataset.created", subject=dataset, data={"name": name}
        )
    return dataset


def _store_item_file(dataset: Dataset, hashes: ImageHashes, data: bytes) -> str:
    # Keyed by content, so a re-run or retry overwrites the same object instead of adding one.
    key = f"{dataset.pk}/{hashes.sha256}.{hashes.format or 'bin'}"
    store = storages["datasets"]
    if not store.exists(key):
        store.save(key, ContentFile(data))
    return key


def _item_fields(row: ManifestRow | None = None, **overrides) -> dict:
    fields = {"source_url": "", "creator": "", "caption": "", "consent": "unknown"}
    if row is not None:
        fields.update(
            source_url=row.source_url, creator=row.creator, caption=row.caption, consent=row.consent
        )
    fields.update({key: value for key, value in overrides.items() if value is not None})
    return fields


def dataset_item_add(
    *, dataset: Dataset, actor, data: bytes, licence_key: str, **fields
) -> DatasetItem:
    """Adds one uploaded image to a dataset; refuses unreadable images, unknown licences and
    duplicates of an item already in the dataset."""
    licence = Licence.objects.for_org(dataset.org_id).filter(key=licence_key).first()
    if licence is None:
        raise ApiError(422, "unknown_licence", f"No licence with key {licence_key!r} in this org.")
    try:
        hashes = image_hashes(data)
    except UnreadableImage as exc:
        raise ApiError(422, "invalid_image", str(exc)) from None
    if DatasetItem.objects.filter(dataset=dataset, sha256=hashes.sha256).exists():
        raise ApiError(409, "duplicate_item", "This image is already in the dataset.")
    with transaction.atomic():
        try:
            item = _item_create(dataset, licence, hashes, data, _item_fields(**fields))
        except IntegrityError:
            raise ApiError(409, "duplicate_item", "This image is already in the dataset.") from None
        audit_append(
            org=dataset.org,
            actor=actor,
            action="dataset.item_added",
            subject=item,
            data={"dataset": str(dataset.pk), "sha256": item.sha256, "licence": licence.key},
        )
    return item


def _item_create(dataset, licence, hashes: ImageHashes, data: bytes, fields: dict) -> DatasetItem:
    with transaction.atomic():
        return DatasetItem.objects.create(
            dataset=dataset,
            licence=licence,
            sha256=hashes.sha256,
            phash=hashes.phash,
            dhash=hashes.dhash,
            whash=hashes.whash,
            edge_fingerprint=hashes.edge_fingerprint,
            width=hashes.width,
            height=hashes.height,
            file_key=_store_item_file(dataset, hashes, data),
            **fields,
        )


@dataclass
class ImportReport:
    added: int = 0
    skipped: int = 0


def _check_manifest(rows: list[ManifestRow], folder: Path, licences: dict) -> None:
    problems = []
    for row in rows:
        if row.licence not in licences:
            problems.append(f"row {row.line} ({row.file}): unknown licence {row.licence!r}")
        path = (folder / row.file).resolve()
        if not path.is_relative_to(folder.resolve()):
            problems.append(f"row {row.line}: {row.file!r} points outside the image folder")
        elif not path.is_file():
            problems.append(f"row {row.line}: file {row.file!r} not found")
    if problems:
        known = ", ".join(sorted(licences)) or "none"
        raise ManifestError(
            f"{len(problems)} item(s) refused, nothing imported: "
            + "; ".join(problems[:20])
            + (f"; … and {len(problems) - 20} more" if len(problems) > 20 else "")
            + f". Licences known to this organization: {known}."
        )


def dataset_import(
    *,
    dataset: Dataset,
    actor,
    folder: Path,
    manifest: Path,
    progress: Callable[[Iterable], Iterable] = iter,
) -> ImportReport:
    """Imports a folder of images described by a manifest. Every row's licence and file are
    checked before anything is written; items already in the dataset are skipped, so a re-run
    after an interruption finishes the job without duplicates."""
    rows = manifest_read(manifest)
    licences = {lic.key: lic for lic in Licence.objects.for_org(dataset.org_id)}
    _check_manifest(rows, folder, licences)
    present = set(DatasetItem.objects.filter(dataset=dataset).values_list("sha256", flat=True))
    report = ImportReport()
    rows_iter = iter(progress(rows))
    # Committed in batches: an interrupted import keeps what it finished, and its re-run skips it.
    while chunk := list(islice(rows_iter, IMPORT_BATCH)):
        # Every image of the batch is read and hashed before any file is stored, so an
        # unreadable one refuses the batch without leaving orphaned files behind.
        hashed = []
        for row in chunk:
            data = (folder / row.file).read_bytes()
            try:
                hashed.append((row, image_hashes(data), data))
            except UnreadableImage as exc:
                raise ManifestError(f"row {row.line} ({row.file}): {exc}") from None
        with transaction.atomic():
            added = []
            for row, hashes, data in hashed:
                if hashes.sha256 in present:
                    report.skipped += 1
                    continue
                _item_create(dataset, licences[row.licence], hashes, data, _item_fields(row))
                present.add(hashes.sha256)
                added.append(hashes.sha256)
            if added:
                # Each batch is its own event; `import_total` (this run's items so far) lets the
                # newest event tell what the whole import added, even an interrupted one.
                audit_append(
                    org=dataset.org,
                    actor=actor,
                    action="dataset.items_imported",
                    subject=dataset,
                    data={
                        "manifest": manifest.name,
                        "count": len(added),
                        "import_total": report.added + len(added),
                        "sha256": added,
                    },
                )
            report.added += len(added)
    return report


def item_consent_record(
    *, item: DatasetItem, actor, kind: str, requested_by: str, reason: str = ""
) -> ConsentRecord:
    """Records an owner's opt-out (or consent). An opted-out item flags every model trained
    on its dataset, through the models' licence posture."""
    if kind not in ConsentRecord.Kind.values:
        raise ApiError(422, "invalid_kind", f"kind must be one of {ConsentRecord.Kind.values}")
    if not requested_by.strip():
        raise ApiError(422, "invalid_request", "requested_by must name the owner.")
    with transaction.atomic():
        item = (
            DatasetItem.objects.select_for_update().select_related("dataset__org").get(pk=item.pk)
        )
        record = ConsentRecord.objects.create(
            item=item,
            kind=kind,
            requested_by=requested_by.strip(),
            reason=reason,
            recorded_by=actor,
        )
        item.consent = (
            DatasetItem.Consent.OPTED_OUT
            if kind == ConsentRecord.Kind.OPT_OUT
            else DatasetItem.Consent.GRANTED
        )
        item.save(update_fields=["consent"])
        affected = [str(model) for model in item.dataset.models_trained.all()]
        audit_append(
            org=item.dataset.org,
            actor=actor,
            action=f"dataset.item_{kind}",
            subject=item,
            data={
                "requested_by": record.requested_by,
                "reason": reason,
                "models_flagged": affected,
            },
        )
    return record
