"""LoRA adapters: registering an adapter folder for a base model with its training datasets, and
resolving the adapters a request names against the policy (which, how many, how strong)."""

from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import Q

from audit.services import audit_append
from generation.model_folders import model_folder_place
from generation.models import GenerationJob, GenerativeModel, LoraAdapter
from generation.weights import WeightsError, weights_sha256
from licensing.models import Dataset
from mintmark.errors import ApiError
from policies.rules import PolicyRules

# What diffusers' `save_lora_weights` writes and `load_lora_weights` reads from a folder.
LORA_WEIGHTS_FILE = "pytorch_lora_weights.safetensors"


def _adapter_folder(org, local_path: str) -> Path:
    place = model_folder_place(local_path, settings.MODEL_ROOTS, settings.SHARED_MODEL_ROOTS)
    # An adapter lives in the org's own folder (<root>/<slug>/...) or under a shared root; one
    # answer for every refusal, as for model folders.
    if place is None or not (place.shared or org.slug in place.first_parts):
        raise ApiError(
            422,
            "invalid_adapter_folder",
            "local_path is not a folder under this organization's model folder or a shared root.",
        )
    if not (place.folder / LORA_WEIGHTS_FILE).is_file():
        raise ApiError(422, "invalid_adapter_folder", f"local_path holds no {LORA_WEIGHTS_FILE}.")
    return place.folder


def adapter_register(
    *,
    org,
    actor,
    base_model: GenerativeModel,
    name: str,
    version: str,
    local_path: str,
    dataset_ids: list,
) -> LoraAdapter:
    """Registers a LoRA adapter folder for `base_model` (a model of the org) with the datasets it
    was fine-tuned on, its weights hashed now."""
    if base_model.org_id != org.pk:
        raise ApiError(422, "unknown_model", "The base model is not a model of this organization.")
    if not name.strip() or not version.strip():
        raise ApiError(422, "invalid_adapter", "An adapter needs a name and a version.")
    folder = _adapter_folder(org, local_path)
    datasets = list(Dataset.objects.for_org(org).filter(pk__in=dataset_ids))
    if len(datasets) != len(set(map(str, dataset_ids))):
        raise ApiError(422, "unknown_dataset", "Every trained_on id must be a dataset of this org.")
    try:
        digest = weights_sha256(folder, max_bytes=settings.MODEL_MAX_BYTES)
    except WeightsError as exc:
        raise ApiError(422, "invalid_adapter_folder", str(exc)) from None
    with transaction.atomic():
        if LoraAdapter.objects.filter(org=org, name=name, version=version).exists():
            raise ApiError(409, "adapter_exists", f"Adapter {name}:{version} already exists.")
        adapter = LoraAdapter.objects.create(
            org=org,
            base_model=base_model,
            name=name,
            version=version,
            local_path=str(folder),
            weights_sha256=digest,
        )
        adapter.trained_on.set(datasets)
        audit_append(
            org=org,
            actor=actor,
            action="adapter.registered",
            subject=adapter,
            data={
                "name": name,
                "version": version,
                "base_model": str(base_model),
                "local_path": str(folder),
                "weights_sha256": digest,
                "trained_on": sorted(str(d.pk) for d in datasets),
            },
        )
    return adapter


@dataclass(frozen=True)
class AdapterChoice:
    adapter: LoraAdapter
    weight: float

    def as_job_entry(self) -> dict:
        adapter = self.adapter
        return {
            "id": str(adapter.pk),
            "name": adapter.name,
            "version": adapter.version,
            "weight": self.weight,
            "sha256": adapter.weights_sha256,
            "path": adapter.local_path,
        }


def _adapter_for(org, model: GenerativeModel, ref: str) -> LoraAdapter:
    adapters = LoraAdapter.objects.for_org(org).filter(base_model=model)
    name, _, version = ref.partition(":")
    found = adapters.filter(name=name, version=version).first() if version else None
    found = found or adapters.filter(name=ref).order_by("-created_at").first()
    if found is None:
        raise ApiError(
            422, "unknown_adapter", f"No adapter {ref!r} for {model} in this organization."
        )
    return found


def adapters_resolve(*, org, model: GenerativeModel, requested: list, rules: PolicyRules) -> list:
    """The adapters a request names ([{"adapter": name, name:version, "weight": w}]) checked
    against the policy: each must be an adapter of this org for this model, allowed, within
    the count and the weight limit."""
    limits = rules.adapters
    if len(requested) > limits.max_per_job:
        raise ApiError(
            422,
            "too_many_adapters",
            f"The policy allows {limits.max_per_job} adapter(s) per job; {len(requested)} named.",
        )
    choices = []
    for entry in requested:
        adapter = _adapter_for(org, model, entry["adapter"])
        if limits.allowed and not {adapter.name, str(adapter)} & set(limits.allowed):
            raise ApiError(
                422, "adapter_not_allowed", f"The policy does not allow adapter {adapter}."
            )
        weight = entry["weight"]
        if not 0 < weight <= limits.max_weight:
            raise ApiError(
                422,
                "invalid_adapter_weight",
                f"Adapter {adapter}: weight must be over 0 and at most {limits.max_weight:g}.",
            )
        if any(choice.adapter.pk == adapter.pk for choice in choices):
            raise ApiError(422, "duplicate_adapter", f"Adapter {adapter} is named twice.")
        choices.append(AdapterChoice(adapter, float(weight)))
    return choices


def datasets_of(model, adapters=()):
    """The datasets behind images of `model` with `adapters` (instances or ids) applied: the
    model's and the adapters' together."""
    links = LoraAdapter.trained_on.through.objects.filter(
        loraadapter_id__in=[getattr(adapter, "pk", adapter) for adapter in adapters]
    )
    return Dataset.objects.filter(
        Q(pk__in=model.trained_on.values("pk")) | Q(pk__in=links.values("dataset_id"))
    )


def job_datasets(job: GenerationJob):
    return datasets_of(job.model, [entry["id"] for entry in job.adapters])


def training_dataset_ids(model: GenerativeModel, adapters=()) -> tuple[str, ...]:
    """Ids of the datasets a memorization check compares with: the model's and the adapters'."""
    found = datasets_of(model, adapters).values_list("pk", flat=True)
    return tuple(sorted(str(pk) for pk in found))
