"""The prompt gate (plain module, no Django): one verdict per prompt, at submit.

It combines the org's literal lists (protected names, blocked terms: `moderation.prompt_text`)
with the semantic classifier (`moderation.prompt_classifier`). Order of the checks, first
block wins:

1. sexual content involving minors: checked for every prompt whatever the caller passes, from
   the classifier's head, from child-sexualising slang, or from a sexual score together with a
   word or age saying the person is a child;
2. a protected name (impersonation of a person the org protects);
3. a blocked term;
4. the classifier's other categories the policy blocks: when several heads flag the prompt,
   it is reported under the one the classifier finds most likely.

Only then deployment contexts: a prompt in a context the policy reviews gets "review".

The gate fails closed: an encoder that cannot load raises `ClassifierUnavailable`; it never
turns into a pass."""

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Literal

from moderation.prompt_classifier import EXEMPLARS_PATH, load_classifier
from moderation.prompt_text import (
    PreparedText,
    minor_indicated,
    minor_sexual_slang,
    prepare,
    text_matcher,
)
from policies.rules import DEPLOYMENT_CONTEXTS, MANDATORY_CATEGORY, PROMPT_CATEGORIES

# Bump when the matching or decision code changes; the exemplar file's digest follows it.
GATE_CODE_VERSION = "prompt-v1"
BLOCKED_TERM = "blocked_term"
# Sentences are scored on their own too, so a harmless preamble cannot dilute a harmful one.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")

_CATEGORY_TEXT = {
    "sexual_minors": "sexual content involving minors, which no policy allows",
    "non_consensual_intimate": "intimate imagery of a real person without their consent",
    "sexual": "sexual content",
    "impersonation": "impersonation of a real person",
    "graphic_violence": "graphic violence",
    "hate": "hateful content",
    "self_harm": "content depicting or encouraging self-harm",
}


@dataclass(frozen=True)
class PromptVerdict:
    verdict: Literal["pass", "block", "review"]
    # A PROMPT_CATEGORIES entry or "blocked_term" for a block, the context for a review.
    category: str | None
    reason: str
    matched: str | None  # the blocked term or protected name, as the policy spells it
    scores: dict[str, float] = field(default_factory=dict)
    contexts: list[str] = field(default_factory=list)
    gate_version: str = ""


@lru_cache(maxsize=1)
def gate_version() -> str:
    """`prompt-v1+<first 12 hex of the exemplar file's sha256>`: changes with any exemplar."""
    return f"{GATE_CODE_VERSION}+{hashlib.sha256(EXEMPLARS_PATH.read_bytes()).hexdigest()[:12]}"


def prompt_chunks(prompt: str) -> list[str]:
    """The whole prompt, and its sentences when it has more than one."""
    sentences = [part.strip() for part in _SENTENCE_END.split(prompt) if part.strip()]
    return [prompt.strip(), *sentences] if len(sentences) > 1 else [prompt.strip()]


def _check_names(values: Sequence[str], known: Sequence[str], what: str) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(unknown)}")


def _minors(text: PreparedText, scores: dict[str, float]) -> tuple[bool, str | None]:
    """Whether the mandatory category applies, and the slang word that decided it, if any."""
    slang = minor_sexual_slang(text)
    if slang is not None:
        return True, slang
    if scores[MANDATORY_CATEGORY] >= 0.5:
        return True, None
    sexual = max(scores["sexual"], scores["non_consensual_intimate"])
    return sexual >= 0.5 and minor_indicated(text) is not None, None


def prompt_check(
    prompt: str,
    *,
    blocked_categories: Sequence[str],
    blocked_terms: Sequence[str] = (),
    protected_names: Sequence[str] = (),
    review_contexts: Sequence[str] = (),
) -> PromptVerdict:
    """Checks one prompt against a policy's prompt rules; see the module docstring.

    Raises ValueError for an empty prompt or an unknown category or context, and
    `ClassifierUnavailable` when the classifier cannot load."""
    # 1. Check inputs.
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty")
    _check_names(blocked_categories, PROMPT_CATEGORIES, "prompt categories")
    _check_names(review_contexts, DEPLOYMENT_CONTEXTS, "deployment contexts")
    blocked = {MANDATORY_CATEGORY, *blocked_categories}
    version = gate_version()

    # 2. Score the prompt: literal matches and the classifier.
    text = prepare(prompt)
    classification = load_classifier().classify(prompt_chunks(prompt))
    scores = classification.scores
    contexts = [name for name in DEPLOYMENT_CONTEXTS if scores[name] >= 0.5]

    def verdict(kind, category, reason, matched=None) -> PromptVerdict:
        return PromptVerdict(kind, category, reason, matched, scores, contexts, version)

    # 3. Blocks, most serious first.
    minors, slang = _minors(text, scores)
    if minors:
        return verdict("block", MANDATORY_CATEGORY, _block_reason(MANDATORY_CATEGORY), slang)
    name = text_matcher(tuple(protected_names), names=True).find(text)
    if name is not None:
        reason = (
            f"The prompt was blocked because it names {name}, a person your organization's "
            "policy protects from impersonation."
        )
        return verdict("block", "impersonation", reason, name)
    term = text_matcher(tuple(blocked_terms), names=False).find(text)
    if term is not None:
        reason = (
            f'The prompt was blocked because it contains "{term}", a term your '
            "organization's policy blocks."
        )
        return verdict("block", BLOCKED_TERM, reason, term)
    flagged = [name for name in PROMPT_CATEGORIES if name in blocked and scores[name] >= 0.5]
    if flagged:
        category = max(flagged, key=classification.which.__getitem__)
        return verdict("block", category, _block_reason(category))

    # 4. Review, for the contexts the policy sends to reviewers.
    reviewed = [name for name in contexts if name in review_contexts]
    if reviewed:
        context = max(reviewed, key=scores.__getitem__)
        reason = (
            f"The prompt looks {context}, and your organization's policy has "
            "a reviewer approve such images before they are released."
        )
        return verdict("review", context, reason)
    return verdict("pass", None, "The prompt passed the prompt gate.")


def _block_reason(category: str) -> str:
    return f"The prompt was blocked because it asks for {_CATEGORY_TEXT[category]}."
