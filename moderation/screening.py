"""The prompt gate at submit: synchronous, in the request. A blocked prompt is refused with 422
and its category, counted for abuse monitoring and audited; a passed prompt's verdict is kept
with the job it created."""

from django.db import transaction

from audit.services import audit_append
from mintmark import metrics
from mintmark.errors import ApiError
from moderation.abuse import abuse_record, suspension_open
from moderation.minors_rule import LexiconUnavailable
from moderation.models import AbuseEvent, GateResult
from moderation.prompt_classifier import ClassifierUnavailable
from moderation.prompt_gate import PromptVerdict, prompt_check
from policies.rules import PolicyRules

PROMPT_GATE = "prompt"


def submitter_check(*, org, user) -> None:
    suspension = suspension_open(org=org, user=user)
    if suspension is not None:
        raise ApiError(
            403,
            "user_suspended",
            f"You may not generate images until an admin lifts your suspension: "
            f"{suspension.reason}.",
        )


def prompt_judge(*, prompt: str, rules: PolicyRules, negative_prompt: str = "") -> PromptVerdict:
    """The gate's verdict on `prompt` (with the request's `negative_prompt`) under `rules`,
    recording nothing (submission and the `prompt_check` command both use it). Raises 503
    `prompt_gate_unavailable` when the gate cannot judge."""
    try:
        return prompt_check(
            prompt,
            negative_prompt=negative_prompt,
            blocked_categories=rules.prompt.blocked_categories,
            blocked_terms=rules.prompt.blocked_terms,
            protected_names=rules.prompt.protected_names,
            review_contexts=rules.review_contexts,
            lookalikes=rules.prompt.lookalikes,
        )
    except (ClassifierUnavailable, LexiconUnavailable) as exc:
        # Without the classifier or the minors lexicon no prompt can be judged: refuse them
        # all (fail closed).
        raise ApiError(
            503, "prompt_gate_unavailable", f"The prompt gate is unavailable: {exc}."
        ) from None


def prompt_screen(
    *, org, user, prompt: str, rules: PolicyRules, negative_prompt: str = ""
) -> PromptVerdict:
    """Runs the prompt gate; raises 422 `prompt_blocked` (after recording it) on a block."""
    verdict = prompt_judge(prompt=prompt, rules=rules, negative_prompt=negative_prompt)
    metrics.gate_decided(gate=PROMPT_GATE, outcome=verdict.verdict)
    if verdict.verdict != "block":
        return verdict
    with transaction.atomic():
        audit_append(
            org=org,
            actor=user,
            action="prompt.blocked",
            subject=("auth.user", str(user.pk)),
            data={
                "prompt": prompt,
                "negative_prompt": negative_prompt,
                "normalised": verdict.normalised,
                "lookalike_words": verdict.lookalike_words,
                "category": verdict.category,
                "matched": verdict.matched,
                "reason": verdict.reason,
                "gate_version": verdict.gate_version,
            },
        )
        suspension = abuse_record(
            org=org,
            user=user,
            kind=AbuseEvent.Kind.PROMPT_BLOCKED,
            category=verdict.category or "",
            rules=rules,
        )
    detail = verdict.reason
    if suspension is not None:
        detail += " You are now suspended from generating until an admin lifts it."
    raise ApiError(422, "prompt_blocked", detail, category=verdict.category)


def prompt_result_store(*, job, verdict: PromptVerdict) -> GateResult:
    """Keeps the verdict of the prompt that created `job` (inside the job's transaction)."""
    return GateResult.objects.create(
        job=job,
        asset=None,
        gate=PROMPT_GATE,
        gate_version=verdict.gate_version,
        verdict=verdict.verdict,
        reason=verdict.reason if verdict.verdict != "pass" else "",
        scores={name: round(float(value), 4) for name, value in verdict.scores.items()},
        details={
            "category": verdict.category,
            "contexts": verdict.contexts,
            "normalised": verdict.normalised,
            "lookalike_words": verdict.lookalike_words,
        },
    )
