"""A model's licence posture, derived from the records of the data it was trained on."""

from dataclasses import dataclass, field

from django.db.models import Count, Q
from django.utils import timezone

from generation.adapters import datasets_of
from generation.models import GenerativeModel
from licensing.models import DatasetItem, Licence
from policies.rules import PolicyRules


@dataclass
class Posture:
    commercial: bool
    non_commercial: bool
    usable: bool
    reasons: list[str] = field(default_factory=list)
    datasets: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {
            "commercial": self.commercial,
            "non_commercial": self.non_commercial,
            "usable": self.usable,
            "reasons": self.reasons,
            "datasets": self.datasets,
        }


def _allowed_by_policy(model: GenerativeModel, rules: PolicyRules) -> bool:
    allowed = rules.allowed_models
    return not allowed or model.name in allowed or str(model) in allowed


def model_posture(*, model: GenerativeModel, rules: PolicyRules, adapters=()) -> Posture:
    """May the org use this model (with these LoRA adapters applied), commercially or not, and
    if not, which dataset, licence or opt-out is why. The datasets are the base model's and the
    adapters' together. Every dataset licence must allow training (and commercial use, for
    commercial use), be in date, and no item may carry an unresolved opt-out."""
    blocks_all: list[str] = []
    blocks_commercial: list[str] = []
    datasets = list(datasets_of(model, adapters).order_by("name"))
    if not model.trained_on.exists():
        blocks_all.append("no training datasets are recorded for this model")
    for adapter in adapters:
        if not adapter.trained_on.exists():
            blocks_all.append(f"no training datasets are recorded for adapter {adapter}")

    stats = (
        DatasetItem.objects.filter(dataset__in=datasets)
        .values("dataset_id")
        .annotate(
            items=Count("id"),
            opted_out=Count("id", filter=Q(consent=DatasetItem.Consent.OPTED_OUT)),
        )
    )
    stats = {row["dataset_id"]: row for row in stats}
    pairs = DatasetItem.objects.filter(dataset__in=datasets).values_list("dataset_id", "licence_id")
    licence_ids_by_dataset: dict = {}
    for dataset_id, licence_id in pairs.distinct():
        licence_ids_by_dataset.setdefault(dataset_id, set()).add(licence_id)
    licences = Licence.objects.in_bulk(
        {lid for ids in licence_ids_by_dataset.values() for lid in ids}
    )
    now = timezone.now()
    summary = []
    for dataset in datasets:
        row = stats.get(dataset.pk, {"items": 0, "opted_out": 0})
        used = sorted(
            (licences[lid] for lid in licence_ids_by_dataset.get(dataset.pk, ())),
            key=lambda lic: lic.key,
        )
        summary.append(
            {
                "id": str(dataset.pk),
                "name": dataset.name,
                "items": row["items"],
                "opted_out": row["opted_out"],
                "licences": [lic.key for lic in used],
            }
        )
        if not row["items"]:
            blocks_all.append(f"dataset '{dataset.name}' has no items recorded")
        if row["opted_out"] and not rules.allow_opted_out_models:
            blocks_all.append(
                f"dataset '{dataset.name}' has {row['opted_out']} item(s) whose owner opted out"
            )
        for lic in used:
            if not lic.allows_training:
                blocks_all.append(
                    f"dataset '{dataset.name}': licence {lic.key} does not allow training"
                )
            if lic.expires_at is not None and lic.expires_at <= now:
                blocks_all.append(f"dataset '{dataset.name}': licence {lic.key} expired")
            if not lic.allows_commercial:
                blocks_commercial.append(
                    f"dataset '{dataset.name}': licence {lic.key} does not allow commercial use"
                )
    non_commercial = not blocks_all
    commercial = non_commercial and not blocks_commercial
    reasons = blocks_all + blocks_commercial
    usable = commercial if rules.commercial_use else non_commercial
    if not _allowed_by_policy(model, rules):
        usable = False
        reasons.append("the organization's policy does not list this model")
    return Posture(commercial, non_commercial, usable, reasons, summary)
