"""The job page's words: what state a job is in and what happened to each image, said plainly,
from the same job summary the API returns (generation.summaries)."""

from audit.selectors import audit_events
from generation.models import Asset, GenerationJob
from generation.transitions import TERMINAL
from licensing.models import DatasetItem

State = GenerationJob.State
AssetState = Asset.State

GATE_LABELS = {
    "prompt": "The prompt check",
    "image_safety": "The image safety check",
    "memorization": "The training-data copy check",
}
STATE_TEXT = {
    State.QUEUED: "Waiting for a GPU worker",
    State.RUNNING: "Generating",
    State.GATING: "Checking safety",
    State.IN_REVIEW: "In review",
    State.RELEASED: "Released",
    State.BLOCKED: "Blocked",
    State.REJECTED: "Rejected",
    State.FAILED: "Failed",
    State.CANCELLED: "Cancelled",
}


def job_status(job: dict, org) -> dict:
    """The headline of a job: its state in words, the progress line, and why it ended when it
    ended without images."""
    state = job["state"]
    step, total = job["progress"]["step"], job["progress"]["total"]
    progress = f"Step {step} of {total}" if total else ""
    if state == State.QUEUED:
        progress = "Not started yet"
    detail = ""
    if state == State.IN_REVIEW:
        detail = "A reviewer of your organization must approve the held images before release."
        if job["hold_reasons"]:
            detail += " Held because " + "; ".join(job["hold_reasons"]) + "."
    elif state == State.FAILED:
        detail = job["error"] or "The worker gave no reason."
    elif state == State.CANCELLED:
        event = audit_events(
            org=org, action="generation.cancelled", subject_id=str(job["id"])
        ).first()
        who = f" by {event.actor_label}" if event is not None and event.actor_label else ""
        detail = f"Cancelled{who}; the images it would have made were not counted in the quota."
    return {
        "state": state,
        "text": STATE_TEXT[state],
        "progress": progress,
        "step": step,
        "total": total,
        "detail": detail,
        "final": state in TERMINAL,
    }


def _block_explanation(result: dict, org) -> dict:
    label = GATE_LABELS.get(result["gate"], f"The {result['gate']} check")
    explanation = {"gate": label, "text": result["reason"], "copied": None}
    if result["gate"] == "memorization" and result["details"].get("item"):
        found = result["details"]["item"]
        item = DatasetItem.objects.for_org(org).filter(pk=found["item"]).first()
        explanation["text"] = (
            f"It is a likely copy of an image the model was trained on: item {found['item']} "
            f"of the dataset “{found['dataset']}”."
        )
        explanation["copied"] = {
            "item": found["item"],
            "dataset": found["dataset"],
            "caption": item.caption if item else "",
            "creator": item.creator if item else "",
            "source_url": item.source_url if item else "",
            "distance": result["scores"].get("closest_distance"),
            "similarity": result["scores"].get("similarity"),
            "limit": result["details"].get("min_similarity"),
            "exact": result["details"].get("exact_similarity"),
            "ratio": result["scores"].get("neighbour_ratio"),
            "max_ratio": result["details"].get("max_neighbour_ratio"),
            "radius": result["details"].get("radius"),
        }
    elif result["gate"] == "image_safety":
        explanation["text"] = "It looks unsafe: " + result["reason"].removeprefix("unsafe image: ")
    return explanation


def asset_outcome(asset: dict, job: dict, org) -> dict:
    """What happened to one image: released, blocked (by which check, and for a copy which
    training item), held in review (and why, as the gates recorded it), rejected by a
    reviewer, or not decided yet."""
    state = asset["state"]
    results = asset["gate_results"]
    outcome = {"state": state, "explanations": [], "note": ""}
    if state == AssetState.BLOCKED:
        outcome["explanations"] = [
            _block_explanation(r, org) for r in results if r["verdict"] == "block"
        ]
    elif state == AssetState.IN_REVIEW:
        outcome["note"] = "In review: it is released only if a reviewer approves it."
        outcome["explanations"] = [
            {"gate": "Why", "text": reason, "copied": None} for reason in asset["hold_reasons"]
        ]
    elif state == AssetState.REJECTED:
        review = asset["review"] or {}
        outcome["note"] = f"A reviewer rejected it: {review.get('reason') or 'no reason given'}."
    elif state == AssetState.QUARANTINED:
        if job["state"] in TERMINAL:
            outcome["note"] = "Not released: the job ended before this image was cleared."
        else:
            outcome["note"] = "Checking safety…"
        outcome["explanations"] = [
            {
                "gate": GATE_LABELS.get(r["gate"], r["gate"]),
                "text": f"could not run: {r['reason']}",
                "copied": None,
            }
            for r in results
            if r["verdict"] == "error"
        ]
    return outcome
