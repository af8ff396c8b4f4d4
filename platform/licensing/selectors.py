from django.db.models import Count, Q

from audit.selectors import audit_events
from licensing.models import ConsentRecord, Dataset, DatasetItem


def datasets_counted(*, org):
    """The org's datasets, each with `items_count` and `opted_out_count`."""
    return Dataset.objects.for_org(org).annotate(
        items_count=Count("items"),
        opted_out_count=Count("items", filter=Q(items__consent=DatasetItem.Consent.OPTED_OUT)),
    )


def dataset_imports(*, dataset: Dataset):
    """The committed batches of `import_dataset` runs into a dataset, newest first: the audit
    log is where imports are recorded (one event per batch, with its manifest and count)."""
    return audit_events(
        org=dataset.org_id,
        action="dataset.items_imported",
        subject_type=Dataset._meta.label_lower,
        subject_id=str(dataset.pk),
    ).order_by("-seq")


def dataset_opt_outs(*, dataset: Dataset):
    return (
        ConsentRecord.objects.filter(item__dataset=dataset, kind=ConsentRecord.Kind.OPT_OUT)
        .select_related("item", "recorded_by")
        .order_by("-created_at")
    )
