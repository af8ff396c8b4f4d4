"""`manage.py register_model FOLDER --org SLUG --name N --version V --family F`: registers a
local diffusers folder under an allowed model root as a model of an organization, with the
digest of its weights (hashed here, with progress lines) and the datasets it was trained on
(from which its licence posture is derived). The same rules as `POST /api/models`."""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.models import GenerativeModel
from generation.services import model_register
from licensing.models import Dataset
from mintmark.errors import ApiError
from orgs.management.actor import command_actor
from orgs.models import Organization


class Command(BaseCommand):
    help = (
        "Registers a local diffusers folder under an allowed model root (MINTMARK_MODEL_ROOTS, "
        "MINTMARK_SHARED_MODEL_ROOTS) as a model of an organization: hashes its weight files "
        "and records the datasets it was trained on. Prints the model's id and weights digest."
    )

    def create_parser(self, prog_name, subcommand, **kwargs):
        # --version is the model's version here, not Django's: the later definition wins.
        return super().create_parser(prog_name, subcommand, conflict_handler="resolve", **kwargs)

    def add_arguments(self, parser):
        parser.add_argument(
            "folder",
            metavar="FOLDER",
            help="the model's diffusers folder (a relative path is taken from the current folder)",
        )
        parser.add_argument("--org", metavar="SLUG", required=True)
        parser.add_argument("--name", required=True)
        parser.add_argument("--version", dest="model_version", metavar="V", required=True)
        parser.add_argument("--family", choices=GenerativeModel.Family.values, required=True)
        parser.add_argument(
            "--dataset",
            dest="datasets",
            metavar="NAME",
            action="append",
            default=[],
            help="a dataset of the org the model was trained on (repeat for several)",
        )
        parser.add_argument("--card", metavar="FILE", help="model card (text or Markdown)")
        parser.add_argument(
            "--actor",
            metavar="USERNAME",
            help="admin of the org the registration is recorded as (default: 'system')",
        )

    def handle(self, *args, folder, org, name, model_version, family, datasets, card, **opts):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        actor = command_actor(organization, opts.get("actor"))
        dataset_ids = []
        for dataset_name in dict.fromkeys(datasets):
            dataset = Dataset.objects.for_org(organization).filter(name=dataset_name).first()
            if dataset is None:
                raise CommandError(f"No dataset named {dataset_name!r} in {organization.slug}.")
            dataset_ids.append(dataset.pk)
        model_card = ""
        if card:
            try:
                model_card = Path(card).read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                raise CommandError(f"Cannot read the model card {card}: {exc}") from None
        try:
            model = model_register(
                org=organization,
                actor=actor,
                name=name,
                version=model_version,
                family=family,
                # An operator types a path relative to where the shell is, not to a root.
                local_path=str(Path(folder).absolute()),
                dataset_ids=dataset_ids,
                model_card=model_card,
                inline=True,
                progress=self._progress,
            )
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        family_name = model.get_family_display()
        self.stdout.write(f"Registered {model} ({family_name}) in {organization.slug}")
        self.stdout.write(f"id: {model.pk}")
        self.stdout.write(f"weights sha256: {model.weights_sha256}")

    def _progress(self, done: int, total: int) -> None:
        self.stderr.write(
            f"hashing weights: {done} of {total} bytes ({100 * done // max(total, 1)}%)"
        )
