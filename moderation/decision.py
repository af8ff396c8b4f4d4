"""The one function that turns gate runs into what happens to an asset (plain module)."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from moderation.gates import GateRun

APPROVE, BLOCK, REVIEW, HOLD = "approve", "block", "review", "hold"


@dataclass(frozen=True)
class Decision:
    action: str  # approve / block / review / hold (not decidable yet: stays quarantined)
    reasons: tuple[str, ...]


def decide(
    runs: Sequence[GateRun], *, required: Iterable[str], review_reasons: Sequence[str] = ()
) -> Decision:
    """Block wins (it is final and safe); then any gate that errored or is missing holds the
    asset; then review (asked by a gate or by the job, e.g. its deployment context); else
    approve. Nothing is approved unless every required gate ran and passed."""
    by_gate = {run.gate: run for run in runs}
    blocks = [f"{run.gate}: {run.outcome.reason}" for run in runs if run.verdict == "block"]
    if blocks:
        return Decision(BLOCK, tuple(blocks))
    missing = [f"{name}: did not run" for name in required if name not in by_gate]
    errors = [f"{run.gate}: {run.error}" for run in runs if run.verdict == "error"]
    if missing or errors:
        return Decision(HOLD, tuple(errors + missing))
    reviews = [f"{run.gate}: {run.outcome.reason}" for run in runs if run.verdict == "review"]
    reviews.extend(review_reasons)
    if reviews:
        return Decision(REVIEW, tuple(reviews))
    return Decision(APPROVE, ())
