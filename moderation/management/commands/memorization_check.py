"""`manage.py memorization_check --org SLUG --model NAME:VERSION [--json] IMAGE ...`: the
memorization check of each image file against the training items of the model's datasets,
under the organization's active policy, stage by stage: the hash candidates (with their pHash,
dHash and wHash distances) and the pixel comparison of each (similarity, alignment), then the
decision. Creates no job and records nothing."""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from generation.models import GenerativeModel
from mintmark.errors import ApiError
from mintmark.imageio import UnreadableImage, open_image
from moderation.catalogs import training_catalog, training_pixels
from moderation.gates import GateError
from moderation.memorization import copy_reason, memorization_check
from orgs.models import Organization
from policies.selectors import policy_active, policy_active_rules

SHOWN = 5


class Command(BaseCommand):
    help = (
        "Prints each image's memorization decision under the organization's active policy, "
        "with the nearest training items and their distances at each stage; records nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("images", nargs="+", metavar="IMAGE", help="image files to check")
        parser.add_argument("--org", metavar="SLUG", required=True, help="the organization")
        parser.add_argument(
            "--model",
            metavar="NAME:VERSION",
            required=True,
            help="the model (name or name:version)",
        )
        parser.add_argument("--json", action="store_true", help="one JSON object per image")

    def handle(self, *args, images: list[str], org: str, model: str, json: bool, **options):
        organization = Organization.objects.filter(slug=org).first()
        if organization is None:
            raise CommandError(f"No organization with slug {org!r}.")
        try:
            policy = policy_active(org=organization)
            rules = policy_active_rules(org=organization).memorization
        except ApiError as exc:
            raise CommandError(exc.detail) from None
        found = self._model(organization, model)
        datasets = tuple(str(pk) for pk in found.trained_on.values_list("pk", flat=True))
        catalog = training_catalog(datasets)
        if not json:
            self.stdout.write(
                f"{organization.slug}: policy v{policy.version}, model {found}, "
                f"{len(catalog)} training items; candidates within {rules.candidate_radius} "
                f"bits (nearest {rules.candidates}), copy at similarity >= "
                f"{rules.exact_similarity:g}, or >= {rules.similarity_limit:g} at <= "
                f"{rules.max_neighbour_ratio:g} of the distance to the next nearest items"
            )
        for path in images:
            row = self._check(Path(path), catalog, rules)
            self.stdout.write(_json_line(row) if json else _text(row))

    def _model(self, org, ref: str) -> GenerativeModel:
        name, _, version = ref.partition(":")
        models = GenerativeModel.objects.for_org(org).filter(name=name)
        if version:
            models = models.filter(version=version)
        found = models.order_by("-created_at").first()
        if found is None:
            raise CommandError(f"No model {ref!r} in {org.slug}.")
        return found

    def _check(self, path: Path, catalog, rules) -> dict:
        row: dict = {"image": str(path)}
        try:
            image, _ = open_image(path.read_bytes())
        except (OSError, UnreadableImage) as exc:
            return {**row, "decision": "unreadable", "detail": str(exc)}
        if not rules.enabled:
            return {**row, "decision": "pass", "detail": "memorization check disabled by policy"}
        try:
            report = memorization_check(image, catalog, training_pixels, rules)
        except GateError as exc:
            return {**row, "decision": "error", "detail": str(exc)}
        copy = report.copy
        row["decision"] = "block" if copy is not None else "pass"
        row["detail"] = copy_reason(copy, report) if copy else report.nearest_text()
        row["stage1"] = {
            "radius": report.search.radius,
            "found": report.search.found,
            "nearest": [
                {"item": c.key, "dataset": c.label, "distances": c.distances}
                for c in report.search.candidates[:SHOWN]
            ],
        }
        row["stage2"] = [c.summary() for c in report.compared[:SHOWN]]
        return row


def _json_line(row: dict) -> str:
    return json.dumps(row, sort_keys=True)


def _text(row: dict) -> str:
    lines = [f"{row['image']}: {row['decision'].upper()} - {row['detail']}"]
    stage1 = row.get("stage1")
    if stage1 is not None:
        lines.append(
            f"  stage 1, hash candidates: {stage1['found']} within {stage1['radius']} bits"
            + ("" if stage1["nearest"] else " (none)")
        )
        for c in stage1["nearest"]:
            distances = ", ".join(f"{k} {v}" for k, v in c["distances"].items())
            lines.append(f"    {c['item']} ({c['dataset']}): {distances}")
        lines.append("  stage 2, pixel comparison:")
        for c in row["stage2"]:
            lines.append(
                f"    {c['item']} ({c['dataset']}): similarity {c['similarity']:.4f}"
                + (", mirrored" if c["mirrored"] else "")
                + f", zoom {c['zoom'][0]:g}, shift {c['shift'][0]},{c['shift'][1]} px"
            )
    return "\n".join(lines)
