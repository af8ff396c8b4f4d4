"""`manage.py edge_fingerprints [--all]`: computes the edge fingerprint of every dataset item
that has none (items imported before fingerprints existed), from the item's file in the datasets
storage. A command rather than a data migration: it reads every item's file, which a migration
should not (the storage may be remote, slow or not yet configured where migrations run), and it
can be re-run or interrupted; until it has run, the line check computes the missing fingerprints
itself when it loads its catalog."""

from django.core.files.storage import storages
from django.core.management.base import BaseCommand

from licensing.models import DatasetItem
from mintmark.imageio import open_image
from mintmark.line_drawings import edge_fingerprint


class Command(BaseCommand):
    help = "Computes the edge fingerprint of dataset items that have none (--all: every item)."

    def add_arguments(self, parser):
        parser.add_argument("--all", action="store_true", help="recompute every item's")

    def handle(self, *args, all=False, **options):
        items = (
            DatasetItem.objects.all() if all else DatasetItem.objects.filter(edge_fingerprint="")
        )
        done = failed = 0
        for item in items.order_by("pk").only("pk", "file_key").iterator(chunk_size=500):
            try:
                with storages["datasets"].open(item.file_key) as handle:
                    image, _ = open_image(handle.read())
            except Exception as exc:  # noqa: BLE001 (reported per item; the others go on)
                failed += 1
                self.stderr.write(f"item {item.pk}: {item.file_key} unreadable: {exc}")
                continue
            DatasetItem.objects.filter(pk=item.pk).update(edge_fingerprint=edge_fingerprint(image))
            done += 1
        self.stdout.write(f"{done} items fingerprinted, {failed} unreadable")
