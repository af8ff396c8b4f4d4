"""Input images checked against the model's training data before an edit job is queued: an
image-to-image or inpainting request built on a training item would come back as that item at a
low strength, so the submit service asks here first. The same two-stage check as the release
gate (moderation.memorization); the policy's `memorization.inputs` says whether a copy is
refused (422 `input_memorized`, naming the item and its dataset) or queued with its images held
for review. A check that cannot run refuses the request (fail closed)."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from PIL import Image

from audit.services import audit_append
from generation.adapters import training_dataset_ids
from mintmark.errors import ApiError
from mintmark.imageio import open_image
from moderation.catalogs import training_catalog, training_pixels
from moderation.gates import GateError
from moderation.memorization import (
    Report,
    colour_undo_views,
    copy_reason,
    frame_undo_views,
    memorization_check,
    report_details,
    turn_undo_views,
)
from moderation.models import InputCheck
from moderation.region_rotation import hidden_item_report
from policies.rules import PolicyRules

# Candidates compared for each view of an input (colour undone, turned back, unframed), and the
# side of the copy the views are made from (a 512 px input's 9 views took 1.4 s at full size,
# 0.3 s from this copy, on the 2-core machine with 20 000 items).
VIEW_CANDIDATES = 4
VIEW_SIDE = 128


@dataclass(frozen=True)
class InputFinding:
    input: str  # which upload: "image" (edit base), later control images
    verdict: str  # pass or review
    reason: str
    scores: dict
    details: dict


@dataclass
class InputScreen:
    findings: list[InputFinding] = field(default_factory=list)


def inputs_screen(
    *, org, user, model, rules: PolicyRules, inputs: dict[str, bytes], adapters=()
) -> InputScreen:
    """Checks each input image (PNG bytes as the submit service keeps them) against the
    training items of `model`'s datasets and those of the LoRA `adapters` the job applies.
    Raises ApiError 422 `input_memorized` for a copy when the policy refuses them, 503
    `input_check_failed` when the check cannot run."""
    screen = InputScreen()
    memorization = rules.memorization
    if not inputs or not memorization.enabled:
        return screen
    catalog = training_catalog(training_dataset_ids(model, adapters))
    for name, data in inputs.items():
        image, _ = open_image(data)
        try:
            report, undone = _input_report(image, catalog, memorization)
        except GateError as exc:
            raise ApiError(
                503,
                "input_check_failed",
                f"The {name} could not be checked against the training data: {exc}",
            ) from None
        scores, details = report_details(report, memorization)
        copy = report.copy
        if copy is None:
            screen.findings.append(InputFinding(name, "pass", "", scores, details))
            continue
        reason = f"input {name}{f' ({undone})' if undone else ''}: " + copy_reason(copy, report)
        if memorization.inputs == "refuse":
            with transaction.atomic():
                audit_append(
                    org=org,
                    actor=user,
                    action="generation.input_refused",
                    subject=("auth.user", str(user.pk)),
                    data={"model": str(model), "input": name, "reason": reason, **details["item"]},
                )
            raise ApiError(
                422,
                "input_memorized",
                f"The {name}{f' ({undone})' if undone else ''} is a likely copy of training "
                f"item {copy.candidate.key} of dataset "
                f"{copy.candidate.label!r} (similarity {copy.similarity:.3f}); the policy refuses "
                "edits of training data.",
                item=copy.candidate.key,
                dataset=copy.candidate.label,
                similarity=round(copy.similarity, 4),
            )
        screen.findings.append(InputFinding(name, "review", reason, scores, details))
    return screen


def _input_report(image, catalog, memorization) -> tuple[Report, str]:
    """The image's report, or the first view's that finds a copy (with the view's name): the
    image colour-undone, turned back, both, or without its frame. Such a view of a training item
    lands on the item's hashes, so the views search only the tight radius and compare few
    candidates, and they are made from a VIEW_SIDE copy (hashes and the pixel comparison look
    at 64 px or less): they add little to a submission."""
    report = memorization_check(image, catalog, training_pixels, memorization)
    if report.copy is not None:
        return report, ""
    tight = memorization.model_copy(
        update={"candidate_radius": memorization.max_hamming, "candidates": VIEW_CANDIDATES}
    )
    small = image.copy()
    small.thumbnail((VIEW_SIDE, VIEW_SIDE), Image.Resampling.LANCZOS)
    for undone, view in _views(small):
        viewed = memorization_check(view, catalog, training_pixels, tight)
        if viewed.copy is not None:
            return viewed, undone
    hidden = hidden_item_report(image, small, catalog, training_pixels, memorization, tight)
    return hidden if hidden is not None else (report, "")


def _views(image) -> Iterator[tuple[str, Image.Image]]:
    colours = colour_undo_views(image)
    yield from colours
    yield from turn_undo_views(image)
    # Two changes at once (an inverted item turned on its side) undo the same way.
    for colour, coloured in colours:
        for turn, turned in turn_undo_views(coloured):
            yield f"{colour}, {turn}", turned
    yield from frame_undo_views(image)


def input_checks_store(*, job, screen: InputScreen) -> None:
    """Keeps the findings with the job (inside its transaction); gating reads the ones that
    ask for review."""
    for finding in screen.findings:
        InputCheck.objects.create(
            job=job,
            input=finding.input,
            verdict=finding.verdict,
            reason=finding.reason,
            scores=finding.scores,
            details=finding.details,
        )


def input_review_reasons(job) -> list[str]:
    return [check.reason for check in job.input_checks.filter(verdict=InputCheck.Verdict.REVIEW)]
