from pathlib import Path

from django.db import transaction

from audit.services import audit_append
from generation.models import GenerativeModel
from generation.weights import WeightsError, weights_sha256
from licensing.models import Dataset
from mintmark.errors import ApiError
from orgs.models import Organization


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
) -> GenerativeModel:
    """Registers a local diffusers folder as a model of the org, recording the digest of its
    weights (the worker refuses to load a folder that no longer matches) and its datasets."""
    if family not in GenerativeModel.Family.values:
        raise ApiError(
            422, "invalid_family", f"family must be one of {GenerativeModel.Family.values}"
        )
    if not name.strip() or not version.strip():
        raise ApiError(422, "invalid_model", "A model needs a name and a version.")
    try:
        digest = weights_sha256(Path(local_path))
    except WeightsError as exc:
        raise ApiError(422, "invalid_model_folder", str(exc)) from None
    datasets = list(Dataset.objects.for_org(org).filter(pk__in=dataset_ids))
    if len(datasets) != len(set(map(str, dataset_ids))):
        raise ApiError(422, "unknown_dataset", "Every trained_on id must be a dataset of this org.")
    with transaction.atomic():
        if GenerativeModel.objects.for_org(org).filter(name=name, version=version).exists():
            raise ApiError(409, "model_exists", f"{name}:{version} is already registered.")
        model = GenerativeModel.objects.create(
            org=org,
            name=name,
            version=version,
            family=family,
            local_path=str(Path(local_path).resolve()),
            weights_sha256=digest,
            model_card=model_card,
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
                "weights_sha256": digest,
                "trained_on": sorted(str(d.pk) for d in datasets),
            },
        )
    return model
