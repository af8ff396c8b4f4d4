"""Input images checked against the model's training data before an edit job is queued: an
image-to-image or inpainting request built on a training item would come back as that item at a
low strength, so the submit service asks here first. The same two-stage check as the release
gate (moderation.memorization); the policy's `memorization.inputs` says whether a copy is
refused (422 `input_memorized`, naming the item and its dataset) or queued with its images held
for review. A check that cannot run refuses the request (fail closed).

A control image that is a line drawing (Canny edges or a scribble the user made, not computed
here) is also compared with the items' lines (moderation.edge_copies): an item's edge map or a
trace of it shares nothing with the item's pixels or hashes, yet gives the item's structure
back through the ControlNet."""

from collections.abc import Iterator
from dataclasses import dataclass, field

from django.db import transaction
from PIL import Image

from audit.services import audit_append
from generation.adapters import training_dataset_ids
from mintmark.errors import ApiError
from mintmark.imageio import open_image
from moderation.catalogs import (
    training_catalog,
    training_edge_catalog,
    training_lines,
    training_pixels,
)
from moderation.edge_copies import EdgeReport, edge_check
from moderation.gates import GateError
from moderation.memorization import (
    Report,
    colour_undo_views,
    copy_reason,
    frame_undo_views,
    memorization_check,
    report_details,
    tolerant_check,
    turn_undo_views,
)
from moderation.models import Hold, InputCheck
from moderation.region_rotation import hidden_item_report
from policies.rules import PolicyRules
from provenance.verify import image_verify

# Candidates compared for each view of an input (colour undone, turned back, unframed), and the
# side of the copy the views are made from (a 512 px input's 9 views took 1.4 s at full size,
# 0.3 s from this copy, on the 2-core machine with 20 000 items).
VIEW_CANDIDATES = 4
VIEW_SIDE = 128
# What the tolerant comparison undoes, for the reason and the refusal.
TOLERANT_VIEW = "its tone fitted and a covered part left out"


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
    *,
    org,
    user,
    model,
    rules: PolicyRules,
    inputs: dict[str, bytes],
    line_drawings=(),
    adapters=(),
    skip_assets=(),
) -> InputScreen:
    """Checks each input image (PNG bytes as the submit service keeps them) against the
    training items of `model`'s datasets and those of the LoRA `adapters` the job applies; the
    inputs named in `line_drawings` against the items' lines too. Raises ApiError 422
    `input_memorized` for a copy when the policy refuses them, 503 `input_check_failed` when
    the check cannot run. An input that is one of the organization's own images that a person
    had to clear (other than `skip_assets`, which the job names itself) is held for review
    again, whatever the policy says of training data."""
    screen = InputScreen(findings=_held_sources(org, inputs, skip=skip_assets))
    memorization = rules.memorization
    if not inputs or not memorization.enabled:
        return screen
    dataset_ids = training_dataset_ids(model, adapters)
    catalog = training_catalog(dataset_ids)
    for name, data in inputs.items():
        image, _ = open_image(data)
        lines = None
        try:
            report, undone = _input_report(image, catalog, memorization)
            if report.copy is None and name in line_drawings:
                lines = edge_check(image, training_edge_catalog(dataset_ids), training_lines)
        except GateError as exc:
            raise ApiError(
                503,
                "input_check_failed",
                f"The {name} could not be checked against the training data: {exc}",
            ) from None
        scores, details = report_details(report, memorization)
        if lines is not None:
            scores.update(_line_scores(lines))
            details["lines"] = _line_details(lines)
        found = _found(name, report, undone, lines)
        if found is None:
            screen.findings.append(InputFinding(name, "pass", "", scores, details))
            continue
        reason, refusal, extra = found
        details["item"] = {"item": extra["item"], "dataset": extra["dataset"]}
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
                f"{refusal}; the policy refuses edits of training data.",
                **extra,
            )
        screen.findings.append(InputFinding(name, "review", reason, scores, details))
    return screen


def _found(name, report: Report, undone: str, lines: EdgeReport | None):
    """(reason, refusal text, error fields) for a copy found by either check, or None."""
    copy = report.copy
    if copy is not None:
        view = f" ({undone})" if undone else ""
        return (
            f"input {name}{view}: " + copy_reason(copy, report),
            f"The {name}{view} is a likely copy of training item {copy.candidate.key} of "
            f"dataset {copy.candidate.label!r} (similarity {copy.similarity:.3f})",
            {
                "item": copy.candidate.key,
                "dataset": copy.candidate.label,
                "similarity": round(copy.similarity, 4),
            },
        )
    match = lines.copy if lines is not None else None
    if match is None:
        return None
    score, view = match.comparison.score, match.comparison.view
    return (
        f"input {name} (a line drawing): likely edges or trace of training item {match.key} of "
        f"dataset {match.label!r}: line score {score:.2f} (a copy scores 1 or less), "
        f"{lines.copy_ratio:.2f} of the next nearest item's"
        + (f", seen {view}" if view else ", mirrored" if match.comparison.mirrored else ""),
        f"The {name} is a likely edge map or trace of training item {match.key} of dataset "
        f"{match.label!r} (line score {score:.2f})",
        {"item": match.key, "dataset": match.label, "line_score": round(score, 3)},
    )


def _line_scores(lines: EdgeReport) -> dict:
    if not lines.compared:
        return {}
    return {
        "line_score": round(lines.compared[0].comparison.score, 3),
        "line_ratio": round(lines.ratio, 3),
    }


def _line_details(lines: EdgeReport) -> dict:
    return {
        "training_items": lines.training_items,
        "line_cells": lines.line_cells,
        "nearest": lines.nearest_text(),
        "matches": [
            {
                "item": match.key,
                "dataset": match.label,
                "score": round(match.comparison.score, 3),
                "precision": round(match.comparison.precision, 3),
                "uncovered": round(match.comparison.uncovered, 3),
                "mirrored": match.comparison.mirrored,
                "zoom": match.comparison.zoom,
            }
            for match in lines.compared[:5]
        ],
        # The second search's nearest items (turned and cut views), when it ran.
        "geometric": [
            {
                "item": match.key,
                "dataset": match.label,
                "score": round(match.comparison.score, 3),
                "view": match.comparison.view,
            }
            for match in lines.geometric[:5]
        ],
    }


def _held_sources(org, inputs: dict[str, bytes], skip=()) -> list[InputFinding]:
    """An image of the organization's that was held for review, downloaded once a reviewer
    approved it and uploaded again as an edit's base, a control image or an upscale, comes back
    at a low strength or enlarged: it is sent to a person again for the same reasons, as an
    upscale of the asset itself is (moderation.gating). Identified as verify identifies a
    file (the watermark and the fingerprint: the content credentials do not survive the PNG
    the submit path keeps)."""
    findings = []
    for name, data in inputs.items():
        try:
            asset = image_verify(data).asset
        except ApiError:
            raise
        except Exception as exc:  # noqa: BLE001 (fail closed: the request is refused)
            raise ApiError(
                503, "input_check_failed", f"The {name} could not be identified: {exc}"
            ) from None
        if asset is None or asset.job.org_id != org.pk or str(asset.pk) in map(str, skip):
            continue
        hold = Hold.objects.filter(asset=asset).first()
        if hold is None:
            continue
        for reason in hold.reasons:
            findings.append(
                InputFinding(
                    name,
                    "review",
                    f"input {name} is asset {asset.pk}, held for review before: {reason}",
                    {},
                    {"asset": str(asset.pk)},
                )
            )
    return findings


def _input_report(image, catalog, memorization) -> tuple[Report, str]:
    """The image's report, or the first view's that finds a copy (with the view's name): the
    image compared tolerantly (its tone fitted to each candidate's, a covered part left out;
    memorization.tolerant_check), colour-undone, turned back, both, or without its frame.
    Such a view of a training item lands on the item's hashes, so the views search only the
    tight radius and compare few candidates, and they are made from a VIEW_SIDE copy (hashes
    and the pixel comparison look at 64 px or less): they add little to a submission."""
    report = memorization_check(image, catalog, training_pixels, memorization)
    if report.copy is not None:
        return report, ""
    tolerant = tolerant_check(image, report, training_pixels)
    if tolerant.copy is not None:
        return tolerant, TOLERANT_VIEW
    tight = memorization.model_copy(
        update={"candidate_radius": memorization.max_hamming, "candidates": VIEW_CANDIDATES}
    )
    small = image.copy()
    small.thumbnail((VIEW_SIDE, VIEW_SIDE), Image.Resampling.LANCZOS)
    for undone, view in _views(small):
        viewed = memorization_check(view, catalog, training_pixels, tight)
        if viewed.copy is not None:
            return viewed, undone
    hidden = hidden_item_report(image, small, catalog, training_pixels, memorization, tight, report)
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
