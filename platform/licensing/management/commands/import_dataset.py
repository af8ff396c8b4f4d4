"""`manage.py import_dataset FOLDER --manifest FILE --org SLUG --dataset NAME [--create]`:
imports a folder of images described by a CSV or JSON manifest, with their licences, content
hash and perceptual hashes. Every row is checked before anything is written; a re-run skips
the items already present."""

from contextlib import nullcontext
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from licensing.manifest import ManifestError
from licensing.models import Dataset
from licensing.services import dataset_create, dataset_import
from mintmark.errors import ApiError
from mintmark.progress import progress
from orgs.management.actor import command_actor
from orgs.models import Organization


class Command(BaseCommand):
    help = (
        "Imports a folder of images into a dataset from a CSV or JSON manifest (columns: file, "
        "licence, and optionally source_url, creator, caption, consent). Unknown licences, "
        "missing files and paths outside FOLDER refuse the whole import; items already in the "
        "dataset are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", metavar="FOLDER", help="folder the manifest's files are in")
        parser.add_argument("--manifest", metavar="FILE", required=True, help=".csv or .json")
        parser.add_argument("--org", metavar="SLUG", required=True)
        parser.add_argument("--dataset", metavar="NAME", required=True)
        parser.add_argument(
            "--description", default="", help="description of a dataset --create makes"
        )
        parser.add_argument(
            "--create", action="store_true", help="create the dataset if it does not exist"
        )
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="admin of the org the import is recorded as (default: the platform, 'system')",
        )

    def handle(self, *args, folder, manifest, org, dataset, description, create, actor, **opts):
        folder, manifest = Path(folder), Path(manifest)
        if not folder.is_dir():
            raise CommandError(f"{folder} is not a folder.")
        if not manifest.is_file():
            raise CommandError(f"Manifest {manifest} not found.")
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        user = command_actor(organization, actor)
        target = Dataset.objects.for_org(organization).filter(name=dataset.strip()).first()
        if target is None and not create:
            raise CommandError(
                f"No dataset named {dataset!r} in {organization.slug} (pass --create to create it)."
            )
        # An existing dataset is filled in committed batches, so an interrupted import keeps
        # what it finished. A dataset this run creates is created and filled in one
        # transaction: a refused import leaves no empty dataset behind.
        try:
            with transaction.atomic() if target is None else nullcontext():
                if target is None:
                    target = dataset_create(
                        org=organization, actor=user, name=dataset, description=description
                    )
                report = dataset_import(
                    dataset=target,
                    actor=user,
                    folder=folder,
                    manifest=manifest,
                    progress=self._progress,
                )
        except ManifestError as exc:
            raise CommandError(str(exc)) from None
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        except OSError as exc:
            raise CommandError(f"Cannot read an image: {exc}") from None
        self.stdout.write(
            f"{target.name}: added {report.added}, skipped {report.skipped} (already present)"
        )

    @staticmethod
    def _progress(rows):
        return progress(rows, desc="import", unit="image")
