"""The prompt gate (plain module, no Django): one verdict per prompt, at submit.

It judges what the prompt asks for (`moderation.prompt_text.asked_for`: all of its text, a negative
prompt written inside it included, since the text encoder reads that too, with nakedness added where
such a negative prompt rules out clothing) in its normalised form
(`moderation.prompt_text.readable`: look-alike letters, invisible characters, spelled-out letters,
leetspeak undone, with emoji and backwards readings beside it, and text hidden in base64 decoded
after it: `with_decoded`) and reports it with the verdict; the raw prompt is kept by the caller; a
long sentence is judged in windows too (`prompt_chunks`), and a prompt mostly not in English words,
or a clause of it that is, is read again by a multilingual encoder
(`moderation.prompt_multilingual`), and there two cue words of a category stand for the score the
English classifier cannot give (`moderation.prompt_cues.flagged_categories`). It combines the org's
literal lists (protected names, blocked terms: `moderation.prompt_text`), the deterministic minors
rule (`moderation.minors_rule`) and the semantic classifier (`moderation.prompt_classifier`). Order
of the checks, first block wins:

1. sexual content involving minors: checked for every prompt whatever the caller passes, from
   the minors rule (a sexualised framing with any sign of a minor, or child-sexualising slang),
   from the classifier's head, or from a sexual score together with a sign of a minor;
2. words written with look-alike letters of another script, when the policy blocks them
   (`lookalikes="block"`; otherwise they are only reported);
3. a protected name (impersonation of a person the org protects);
4. a blocked term;
5. the other categories the policy blocks, flagged by the classifier's heads or by the cue
   lexicon (`moderation.prompt_cues`: a term whose only use is the harm, or a term with
   harmless senses together with a lower classifier score). When several are flagged, a sexual
   prompt with the wording of a real person without consent is `non_consensual_intimate`;
   self-harm with words of its own is reported over graphic violence without a block term
   (violence done to oneself); otherwise a category with a block term comes first, and among the
   rest the one the classifier finds most likely.

Only then deployment contexts: a prompt in a context the policy reviews gets "review".

The gate fails closed: an encoder or a lexicon that cannot load raises; it never turns into a
pass."""

import base64
import binascii
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Literal

from moderation.minors_rule import LEXICON_PATH, minors_rule
from moderation.prompt_classifier import (
    EXEMPLARS_PATH,
    TRAINING_PATH,
    Classification,
    load_classifier,
)
from moderation.prompt_cues import (
    CUES_PATH,
    LANGUAGES_PATH,
    NCII,
    WORLD_PATH,
    CueFinding,
    flagged_categories,
    prompt_cues,
)
from moderation.prompt_multilingual import (
    LANGUAGE_EXEMPLARS_PATH,
    WORD,
    english_vocabulary,
    needs_second_reading,
    other_language_clauses,
    read_again,
)
from moderation.prompt_text import (
    ReadablePrompt,
    asked_for,
    marked,
    negative_split,
    prepare,
    readable,
    rejoin,
    respell,
    text_matcher,
    unmask,
)
from moderation.public_figures import FIGURES_PATH
from policies.rules import DEPLOYMENT_CONTEXTS, MANDATORY_CATEGORY, PROMPT_CATEGORIES

# Bump when the matching or decision code changes; the data files' digest follows it.
GATE_CODE_VERSION = "prompt-v20"
BLOCKED_TERM = "blocked_term"
LOOKALIKES = "lookalike_letters"
# Sentences are scored on their own too, so a harmless preamble cannot dilute a harmful one.
_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+|\n+")
# Words an image front end weights ("(fresh cuts on her arm:1.3)", "((gore))"): what the
# prompt stresses is read on its own, not diluted among the style tags around it.
_WEIGHTED = re.compile(
    r"[(\[{]([^()\[\]{}:]+):\s*\d*\.?\d+[)\]}]|[(\[{]{2,}([^()\[\]{}:]+)[)\]}]{2,}"
)
# A longer sentence is also scored in windows of about this many words: prompts are mostly one
# comma-separated sentence, and a harmful clause with a tail of style tags ("8k, sharp focus,
# bokeh, ...") scored as a whole is diluted under the classifier's boundary while the image model
# reads the clause first. Clauses are packed whole into windows; a clause over the size is cut
# into windows overlapping by half. 16 words hold all but one of the 316 harmful prompts of the
# bench's tuning split; with 16 common style tags after each of those prompts 299 are blocked
# with windows, 228 without, and before each 310 and 177 (bench/prompt_dilution.py).
WINDOW_WORDS = 16

_CATEGORY_TEXT = {
    "sexual_minors": "sexual content involving minors, which no policy allows",
    "non_consensual_intimate": "intimate imagery of a real person without their consent",
    "sexual": "sexual content",
    "impersonation": "impersonation of a real person",
    "graphic_violence": "graphic violence",
    "hate": "hateful content",
    "self_harm": "content depicting or encouraging self-harm",
    LOOKALIKES: "words disguised with look-alike letters of another script, which your "
    "organization's policy blocks",
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
    normalised: str = ""  # the form that was judged
    lookalike_words: list[str] = field(default_factory=list)  # as written in the prompt


@lru_cache(maxsize=1)
def gate_version() -> str:
    """`prompt-v20+<first 12 hex of the sha256 of the two exemplar, training, minors lexicon,
    the three cue and public figures files>`: changes with any exemplar, training prompt or
    lexicon term."""
    digest = hashlib.sha256(
        EXEMPLARS_PATH.read_bytes()
        + LANGUAGE_EXEMPLARS_PATH.read_bytes()
        + TRAINING_PATH.read_bytes()
        + LEXICON_PATH.read_bytes()
        + CUES_PATH.read_bytes()
        + LANGUAGES_PATH.read_bytes()
        + WORLD_PATH.read_bytes()
        + FIGURES_PATH.read_bytes()
    )
    return f"{GATE_CODE_VERSION}+{digest.hexdigest()[:12]}"


# A run of base64 (standard or URL-safe alphabet) long enough to hold a phrase.
_BASE64 = re.compile(r"(?<![\w+/=-])[A-Za-z0-9+/_-]{16,}={0,2}(?![\w+/=-])")
_URL_SAFE = str.maketrans("-_", "+/")


def with_decoded(prompt: str) -> str:
    """The prompt with the text of each base64 run in it added on lines of its own ("render the
    scene encoded here: ZXhwbGljaXQg..."): the text encoder of a model never decodes it, but a
    request written that way is written to be read past a filter, and its wording is judged as
    if it were plain. A run that decodes to bytes that are not printable text of two words or
    more (a hash, a token, a word that happens to be valid base64) adds nothing."""
    decoded = []
    for match in _BASE64.finditer(prompt):
        run = match.group().rstrip("=").translate(_URL_SAFE)
        try:
            text = base64.b64decode(run + "=" * (-len(run) % 4), validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            continue
        if text.isprintable() and len(WORD.findall(text)) >= 2:
            decoded.append(text)
    return "\n".join([prompt, *decoded])


def prompt_chunks(prompt: str) -> list[str]:
    """The whole prompt, its sentences when it has more than one, the windows of each
    sentence longer than WINDOW_WORDS words, and each group of words the prompt weights."""
    sentences = [part.strip() for part in _SENTENCE_END.split(prompt) if part.strip()]
    chunks = [prompt.strip(), *sentences] if len(sentences) > 1 else [prompt.strip()]
    windows = [window for sentence in sentences for window in _windows(sentence)]
    groups = [(match.group(1) or match.group(2)).strip() for match in _WEIGHTED.finditer(prompt)]
    # Each group of words on its own, and single weighted words together ("((cutting))
    # ((wrist)) ((blood))").
    weighted = [group for group in groups if len(group.split()) >= 2]
    if len(groups) >= 2:
        weighted.append(" ".join(groups))
    return chunks + [part for part in dict.fromkeys(windows + weighted) if part not in chunks]


def _windows(sentence: str) -> list[str]:
    """The sentence's comma-separated clauses packed in order into windows of at most
    WINDOW_WORDS words (a longer clause cut into windows overlapping by half); none for a
    sentence that short."""
    if len(sentence.split()) <= WINDOW_WORDS:
        return []
    windows: list[list[str]] = []
    packed: list[str] = []  # clauses
    for words in (part.split() for part in sentence.split(",")):
        if not words:
            continue
        if len(words) > WINDOW_WORDS:
            step = WINDOW_WORDS // 2
            cuts = range(0, len(words) - step, step)
            windows += [[" ".join(words[i : i + WINDOW_WORDS])] for i in cuts]
            continue
        if packed and sum(len(c.split()) for c in packed) + len(words) > WINDOW_WORDS:
            windows.append(packed)
            packed = []
        packed = [*packed, " ".join(words)]
    if packed:
        windows.append(packed)
    return [", ".join(clauses) for clauses in windows]


def _check_names(values: Sequence[str], known: Sequence[str], what: str) -> None:
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ValueError(f"unknown {what}: {', '.join(unknown)}")


def _minors(text: ReadablePrompt, scores: dict[str, float]) -> tuple[bool, str | None]:
    """Whether the mandatory category applies, and the rule's evidence when the rule decided.

    The rule alone suffices. Otherwise it takes sexual evidence (the sexual or non-consensual
    head) together with evidence of a minor (a sign the rule knows, or the minors head): the
    minors head alone is no evidence of sexual content, it fires on "a 12-year-old's birthday
    party" because most of its exemplars are about children."""
    rule = minors_rule()
    finding = rule.check(text)
    if finding is not None:
        return True, finding.describe()
    sexual = max(scores["sexual"], scores["non_consensual_intimate"]) >= 0.5
    child = scores[MANDATORY_CATEGORY] >= 0.5 or rule.minor_sign(text) is not None
    return sexual and child, None


def prompt_check(
    prompt: str,
    *,
    blocked_categories: Sequence[str],
    blocked_terms: Sequence[str] = (),
    protected_names: Sequence[str] = (),
    review_contexts: Sequence[str] = (),
    lookalikes: Literal["report", "block"] = "report",
    negative_prompt: str = "",
) -> PromptVerdict:
    """Checks one prompt against a policy's prompt rules; see the module docstring.
    `negative_prompt`: the request's own, read for the clothing it rules out (`asked_for`).

    Raises ValueError for an empty prompt or an unknown category or context,
    `ClassifierUnavailable` when the classifier cannot load and `LexiconUnavailable` when the
    minors lexicon or the cue lexicon (`CuesUnavailable`) cannot."""
    # 1. Check inputs.
    if not isinstance(prompt, str) or not prompt.strip():
        raise ValueError("the prompt is empty")
    _check_names(blocked_categories, PROMPT_CATEGORIES, "prompt categories")
    _check_names(review_contexts, DEPLOYMENT_CONTEXTS, "deployment contexts")
    blocked = {MANDATORY_CATEGORY, *blocked_categories}
    version = gate_version()
    prompt = with_decoded(prompt)

    # 2. Normalise and score the prompt: the classifier judges the normalised form of what it
    # asks for (`asked_for`: the whole text, and nakedness where it rules out clothing).
    text = prepare(prompt)
    wanted = asked_for(prompt, negative_prompt)
    normal = readable(wanted, english_vocabulary())
    if masked := unmask(normal.text, prompt_cues().words):
        normal = replace(normal, unmasked=masked)
    if rejoined := rejoin(normal.text, prompt_cues().spellings, english_vocabulary()):
        normal = replace(normal, rejoined=rejoined)
    if respelled := respell(normal.text, prompt_cues().spellings, english_vocabulary()):
        normal = replace(normal, respelled=respelled)
    # Every reading is judged (stretched letters, a prompt wholly in look-alikes); the worse
    # counts.
    chunks = prompt_chunks(normal.text or wanted)
    for other in (*normal.alternatives(), normal.respelled):
        if other:
            chunks += prompt_chunks(other)
    classification = load_classifier().classify(chunks)
    other_language = marked(wanted)
    # The part of the prompt mostly not in English words, which the classifier cannot read.
    unread = None
    if needs_second_reading(other_language):
        # The multilingual encoder reads it too, with its accents and marks
        # (prompt_multilingual).
        unread = normal
        classification = read_again(classification, other_language, prompt_chunks(other_language))
    elif clauses := other_language_clauses(other_language):
        # Mostly English with a clause in another language: that clause is read again.
        unread = readable(", ".join(clauses), english_vocabulary())
        classification = read_again(classification, ", ".join(clauses), clauses)
    scores = classification.scores
    contexts = [name for name in DEPLOYMENT_CONTEXTS if scores[name] >= 0.5]
    disguised = list(normal.lookalike_words)

    def verdict(kind, category, reason, matched=None) -> PromptVerdict:
        return PromptVerdict(
            kind, category, reason, matched, scores, contexts, version, normal.text, disguised
        )

    # 3. Blocks, most serious first.
    minors, evidence = _minors(normal, scores)
    if minors:
        return verdict("block", MANDATORY_CATEGORY, _block_reason(MANDATORY_CATEGORY), evidence)
    if disguised and lookalikes == "block":
        return verdict("block", LOOKALIKES, _block_reason(LOOKALIKES), disguised[0])
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
    # The minors head was weighed in step 3, with its second signal.
    finding = _frames_asked_for(prompt_cues().find(normal, wanted), wanted)
    unread_cues = None
    if unread is not None:
        unread_cues = finding.cues if unread is normal else prompt_cues().find(unread).cues
    flagged = flagged_categories(finding, scores, blocked, unread=unread_cues)
    if flagged:
        category = _category(flagged, finding, classification)
        return verdict("block", category, _block_reason(category), flagged[category])

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


def _frames_asked_for(finding: CueFinding, wanted: str) -> CueFinding:
    """`finding` without the harmless frames only a negative prompt inside the prompt names:
    what the image is steered away from frames nothing ("a razor to her forearm. Negative
    prompt: bandages, hotline" is no prevention campaign, "... Negative: satire" no parody)."""
    positive, negative = negative_split(wanted)
    if not finding.harmless or not negative:
        return finding
    framed = prompt_cues().find(readable(positive), positive).harmless
    harmless = {name: term for name, term in finding.harmless.items() if name in framed}
    return replace(finding, harmless=harmless)


def _category(
    flagged: dict[str, str | None], finding: CueFinding, classification: Classification
) -> str:
    """Which of the flagged categories the block is reported under (module docstring, 5)."""
    if flagged.get(NCII) is not None:
        return NCII
    flagged = dict(flagged)
    # Violence done to oneself is self-harm, though the violence head is surer of the blood ("a
    # gun to his own temple"): self-harm's words count over violence without words of its own.
    own = "self_harm" in finding.block or "self_harm" in finding.cue
    if "self_harm" in flagged and own and "graphic_violence" not in finding.block:
        flagged.pop("graphic_violence", None)
    worded = [name for name in flagged if name in finding.block]
    # A named person in a scene staged as real is impersonation, whatever the scene shows
    # ("... dragged out by police, crying, realistic"), unless another category has its words.
    if not worded and "impersonation" in flagged and finding.staged:
        return "impersonation"
    return max(worded or flagged, key=classification.which.__getitem__)


def _block_reason(category: str) -> str:
    return f"The prompt was blocked because it asks for {_CATEGORY_TEXT[category]}."
