"""Lexical evidence for the prompt gate's categories (plain module, no Django).

The semantic classifier misses prompts far from its exemplars ("a KKK recruitment poster"
scored low for hate: no exemplar named the Klan) and cannot be taught every name of every harm.
Words are the other half of the evidence, and they generalise as far as the vocabulary of a harm
does. `moderation/data/prompt_cues.yaml` lists per category

- `block` terms, whose only ordinary use is the harm ("pornographic", "beheaded", "sieg
  heil", "kill yourself"): one blocks under its category by itself;
- `cue` terms, evidence with harmless senses ("blood", "noose", "swastika"): a cue flags its
  category only when the classifier's score for it reaches `CUE_BAR` instead of 0.5, so "a
  blood orange" (no violence in the score) passes and "a KKK poster with a burning cross"
  (some hate in the score) does not;
- `harmless` terms, a frame that gives the category's words a harmless sense ("a suicide
  prevention hotline", "a made-up astronaut"): with one, only a block term or a head at
  `HARMLESS_YIELDS_AT` flags the category.

`non_consensual_intimate` is intimate imagery of a real person, so it takes two halves like
the minors rule: the real person without consent (its cue terms, or the classifier's head) and
sexual evidence (a sexual term, one of its `intimate` terms, or the sexual head). Its head alone
blocked "a street photographer capturing strangers".

A person's name is a cue too, of impersonation and of the real-person half of
`non_consensual_intimate`: a public figure of `moderation/data/public_figures.yaml` in any of
the forms they are called by ("Merkel", "obama", "Путина", "习近平"; `moderation.public_figures`),
or else two or more capitalised words in a row as the prompt was written ("Serena Williams"),
since the normalised text has lost case. Like every cue it needs the classifier's score beside
it, so "Starry Night by Van Gogh" does not block; and for impersonation it counts only beside a
`realism` term (a photo, footage, "realistic"), since a real person in a picture that claims no
reality ("Obama's official portrait") is no impersonation.

Impersonation is a real person shown in a made-up scene passed off as real, and the
classifier misses it when the scene has no sexual or violent word ("Angela Merkel taking a
suitcase of cash, press photo"). So it also takes three halves, whatever the score: a person's
name, a `realism` term (a photo, footage, a news or press frame, "make it look real") and a
`compromising` term (arrested, in prison, taking a bribe, snorting cocaine, drunk, collapsed,
surrendering). A harmless frame (a cartoon, a painting, a statue) still lets it pass.

Coded and indirect hate has no slur and often no word the classifier scores ("a poster warning
that the globalists pull every string", "a rat in a kippah"), so hate also takes two halves,
whatever the score: a `target` term (a group of people named as a group, or its attire or
emblem) with a `hostile` term (a dehumanising comparison, a caricature of stereotyped
features, a claim of inferiority, an expulsion, a conspiracy trope or code); or a
`perpetrator` term (a perpetrator of a massacre of a group, named or by role) with a
`glorifying` term (a saint, a hero, "did nothing wrong", a high score); or a target term with
an `attacked` term (violence done to people: gassed, lynched, thrown off a roof) and a
`cheering` one (a cheering crowd, "they deserve it", a smiling caption). A harmless frame (a
history lesson, a memorial, a campaign against hate) still lets it pass; and a category's
`unframed` wording ("a parody, but it must pass as a genuine press photo") denies its harmless
frames.

Where the prompt, or a clause of it, is mostly not English words, the classifier's low scores
say nothing, so there two distinct cue words of a category flag it without a score ("laash" and
"khoon", a corpse and blood in romanised Hindi; one alone is a blood donation or a crime novel);
a harmless frame still lets it pass. `moderation/data/prompt_cues_world.yaml` holds the cue
words of the romanisations and scripts that the other two files lack.

`flagged_categories` combines the heads and the words into the categories a prompt is flagged
for.

Terms are written and matched as in the minors lexicon (`moderation.minors_rule`): on the
normalised text, with word boundaries, and inside letters spelled out one by one."""

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from moderation.minors_rule import (
    LexiconEntry,
    LexiconUnavailable,
    Term,
    first_match,
    first_spelled_match,
    lexicon_entry,
)
from moderation.prompt_text import ReadablePrompt, Spellings
from moderation.public_figures import public_figures
from policies.rules import MANDATORY_CATEGORY, PROMPT_CATEGORIES

CUES_PATH = Path(__file__).resolve().parent / "data" / "prompt_cues.yaml"
# The same kinds of terms in other languages than English (the classifier reads English only,
# so there the words carry the decision): merged into the cue file's categories.
LANGUAGES_PATH = CUES_PATH.with_name("prompt_cues_languages.yaml")
# Romanised and other-script forms the other two files lack (romanised Hindi, Urdu, Japanese,
# Chinese, Korean and Arabic; Hindi, Arabic, Persian, Hebrew, Greek, Thai, Japanese, Chinese and
# Korean in their scripts; Indonesian, Tagalog, Swahili, Vietnamese, Czech, Hungarian, Finnish,
# Romanian, Ukrainian, Scandinavian) and algospeak: merged the same way.
WORLD_PATH = CUES_PATH.with_name("prompt_cues_world.yaml")
# A category's score (0.5 is the head's own boundary) at which a cue term of that category
# flags it. Chosen on the tuning split of bench/prompt_sets (see bench/README.md).
CUE_BAR = 0.2
# A harmless frame gives way to a head this sure ("a made-up but realistic photo of a famous
# footballer being arrested"). Chosen on the same split.
HARMLESS_YIELDS_AT = 0.9
NCII = "non_consensual_intimate"
IMPERSONATION = "impersonation"
HATE = "hate"
# Words as written, to find capitalised ones in a row ("Angela Merkel", "Jean-Luc Godard",
# "Pedro Sánchez"); Unicode letters, so accented and non-Latin names count too.
_WORD = re.compile(r"[^\W\d_]+(?:['\u2019][^\W\d_]+)?")
_JOINERS = frozenset(" -")
# Capitalised at a sentence's start in the languages the cue files cover, never a name.
_NOT_NAMES = frozenset(
    "the a an this that my our his her their its el la los las un una le les une il lo gli "
    "der die das ein eine einen einem einer den dem des o os as um uma de het een".split()
)


# The words most often masked with asterisks in prompts, read first when a masked word fits
# several ("r*pe" is "rape" before "rope").
_MASKED_FIRST = (
    "rape raped raping rapist sex sexy porn fuck fucking nude nudes naked kill killed killing "
    "suicide kike kikes nigger niggers nigga faggot faggots fag tranny slut whore cum dick cock "
    "pussy tits gore murder nazi nazis hitler"
).split()
# Words that make a run of capitalised words a place, an event, an institution, a publication
# or a product line, not a person (German nouns are capitalised: "Bademode-Katalog").
_NOT_PERSONS = frozenset(
    "university college school academy institute square street avenue road boulevard park "
    "circus bridge tower museum gallery palace castle cathedral church temple mosque station "
    "airport hotel stadium arena hall center centre day week festival mela illustrated times news "
    "magazine journal post lake river mountain mount island beach bay valley forest garden "
    "gardens market mall club company inc ltd corporation bank hospital parliament senate "
    "state states republic kingdom empire way catalog catalogue katalog kollektion collection "
    "campaign kampagne shop store boutique brand".split()
)


class CuesUnavailable(LexiconUnavailable):
    """The cue file is missing or malformed: the gate must not pass anything (callers that
    close the gate on an unusable minors lexicon close it on this too)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CategoryTerms(_Strict):
    block: list[str | Term] = Field(default_factory=list)
    cue: list[str | Term] = Field(default_factory=list)
    harmless: list[str | Term] = Field(default_factory=list)
    intimate: list[str | Term] = Field(default_factory=list)
    realism: list[str | Term] = Field(default_factory=list)
    compromising: list[str | Term] = Field(default_factory=list)
    target: list[str | Term] = Field(default_factory=list)
    hostile: list[str | Term] = Field(default_factory=list)
    perpetrator: list[str | Term] = Field(default_factory=list)
    glorifying: list[str | Term] = Field(default_factory=list)
    attacked: list[str | Term] = Field(default_factory=list)
    cheering: list[str | Term] = Field(default_factory=list)
    # Wording that denies the category's harmless frames ("a parody, but make it pass as a
    # genuine Reuters photo"): with it, they frame nothing.
    unframed: list[str | Term] = Field(default_factory=list)


class CueFile(_Strict):
    version: int
    categories: dict[str, CategoryTerms]

    @model_validator(mode="after")
    def _known(self) -> "CueFile":
        expected = set(PROMPT_CATEGORIES) - {MANDATORY_CATEGORY}
        if set(self.categories) != expected:
            raise ValueError(f"categories must be exactly {sorted(expected)}")
        if any(terms.intimate for name, terms in self.categories.items() if name != NCII):
            raise ValueError(f"only {NCII} has intimate terms")
        for name, terms in self.categories.items():
            if name != IMPERSONATION and (terms.realism or terms.compromising):
                raise ValueError(f"only {IMPERSONATION} has realism and compromising terms")
            paired = (
                terms.target
                or terms.hostile
                or terms.perpetrator
                or terms.glorifying
                or terms.attacked
                or terms.cheering
            )
            if name != HATE and paired:
                raise ValueError(f"only {HATE} has paired terms (target, hostile, ...)")
        return self


_KINDS = (
    "block",
    "cue",
    "harmless",
    "intimate",
    "realism",
    "compromising",
    "hostile",
    "glorifying",
    "target",
    "perpetrator",
    "attacked",
    "cheering",
    "unframed",
)
# The second half of a pair is only looked for when a first was found (the lists are long).
_AFTER = {
    "compromising": ("realism",),
    "perpetrator": ("glorifying",),
    "attacked": ("target",),
    "cheering": ("attacked",),
    "unframed": ("harmless",),
}


@dataclass(frozen=True)
class CueFinding:
    """Per kind of term, the first term found per category (a category absent: none; the
    second half of a pair is looked for only where the first was found)."""

    block: dict[str, str]
    cue: dict[str, str]
    harmless: dict[str, str]
    intimate: dict[str, str]
    realism: dict[str, str]
    compromising: dict[str, str]
    target: dict[str, str]
    hostile: dict[str, str]
    perpetrator: dict[str, str]
    glorifying: dict[str, str]
    attacked: dict[str, str]
    cheering: dict[str, str]
    unframed: dict[str, str]
    person: str | None = None
    # Every distinct cue term found per category (`cue` keeps the first): in a prompt the
    # classifier cannot read, two of them are the evidence a score would have been.
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @property
    def staged(self) -> bool:
        """A named person + a realism term + a compromising term: impersonation's three
        halves, a made-up scene of a real person passed off as real."""
        return bool(self.person) and all(
            IMPERSONATION in terms for terms in (self.realism, self.compromising)
        )


def _find_every(
    entries: list[LexiconEntry], any_of: re.Pattern, text: ReadablePrompt
) -> tuple[str, ...]:
    """The distinct words of `text` (any reading) that entries match, as found; a match inside
    another counts once ("khoon" in "khoon se lathpath" is one word, two files' "unaliv*" and
    "unalive*" one match)."""
    readings = [reading for reading in (text.text, *text.alternatives()) if any_of.search(reading)]
    found = {match for entry in entries for reading in readings if (match := entry.find(reading))}
    return tuple(sorted(m for m in found if not any(m != other and m in other for other in found)))


def _find(entries: list[LexiconEntry], any_of: re.Pattern, text: ReadablePrompt) -> str | None:
    # `any_of` finds a superset of what the entries find (their patterns without the harmless
    # senses), in one scan: most prompts have no term of a given list.
    found = None
    for reading in (text.text, *text.alternatives()):
        if found is not None:
            break
        if any_of.search(reading):
            found = first_match(entries, reading)
    for run in text.spelled:
        if found is not None:
            break
        found = first_spelled_match(entries, run)
    return found


class PromptCues:
    """The compiled cue lexicon; see the module docstring."""

    def __init__(self, cues: CueFile, sha256: str, spellings: Spellings):
        self.sha256 = sha256
        # Words a misspelled word is read as (`prompt_text.respell`), by first letter.
        self.spellings = spellings
        self.entries = {
            kind: {
                name: [lexicon_entry(term) for term in getattr(terms, kind)]
                for name, terms in cues.categories.items()
            }
            for kind in _KINDS
        }
        self.any_of = {
            kind: {
                name: re.compile("|".join(f"(?:{entry.bounded.pattern})" for entry in entries))
                for name, entries in categories.items()
                if entries
            }
            for kind, categories in self.entries.items()
        }

    @cached_property
    def words(self) -> dict[str, tuple[str, ...]]:
        """Words masked words are read as (`prompt_text.unmask`), by first letter and length:
        the words people mask most, then the one-word terms of the block, cue, target and
        hostile lists (a stem's stem)."""
        found: dict[str, list[str]] = {}
        lexicon = sorted(
            entry.term.rstrip("*")
            for kind in ("block", "cue", "target", "hostile")
            for entries in self.entries[kind].values()
            for entry in entries
        )
        for word in (*_MASKED_FIRST, *lexicon):
            if re.fullmatch("[a-z]{3,}", word):
                found.setdefault(f"{word[0]}{len(word)}", []).append(word)
        return {key: tuple(dict.fromkeys(words)) for key, words in found.items()}

    def find(self, text: ReadablePrompt, written: str = "") -> CueFinding:
        """The terms in `text` (the normalised prompt); `written` is the prompt with its case
        (NFKC), where names are looked for."""
        found: dict[str, dict[str, str]] = {kind: {} for kind in _KINDS}
        every: dict[str, tuple[str, ...]] = {}
        for kind, categories in self.entries.items():
            for name, entries in categories.items():
                if kind in _AFTER and all(name not in found[first] for first in _AFTER[kind]):
                    continue
                term = _find(entries, self.any_of[kind][name], text) if entries else None
                if kind == "harmless" and term is not None and _negated(term, text):
                    term = None
                if term is not None:
                    found[kind][name] = term
                if kind == "cue" and term is not None:
                    every[name] = _find_every(entries, self.any_of[kind][name], text)
        person = public_figures().find(text, written) or person_name(
            unicodedata.normalize("NFKC", written)
        )
        if person is not None:
            found["cue"].setdefault(NCII, person)
            # A name is evidence of impersonation only in a scene passed off as real: with it
            # alone the head's low bar blocked "a portrait of the president".
            if IMPERSONATION in found["realism"]:
                found["cue"].setdefault(IMPERSONATION, person)
        return CueFinding(**found, person=person, cues=every)


# A frame said not to be there ("no helpline", "without a hotline") frames nothing.
_NEGATORS = r"(?:no|not|without|never)"
_NEGATION = rf"{_NEGATORS} (?:a |an |the |any )?"


def _negated(term: str, text: ReadablePrompt) -> bool:
    """Whether every mention of a harmless `term` in the prompt is negated; a term that is a
    negation itself ("no gore") never is."""
    if re.match(rf"{_NEGATORS}\b", term):
        return False
    mention = re.compile(rf"(?<![\w]){re.escape(term)}")
    negated = re.compile(rf"(?<![\w]){_NEGATION}{re.escape(term)}")
    counts = [
        (len(mention.findall(reading)), len(negated.findall(reading)))
        for reading in (text.text, *text.alternatives())
        if term in reading
    ]
    # Inside a word of a script written without spaces there is no word before it to negate.
    return any(mentions for mentions, _ in counts) and all(
        not mentions or negations >= mentions for mentions, negations in counts
    )


def person_name(written: str) -> str | None:
    """The first run of two or more capitalised words joined by a space or a hyphen, as
    written, that names a person; an article or a pronoun capitalised at the start of a sentence
    ("Ein Mann", "The Queen") is not part of a name, a run with a word for a place, an event or
    a publication ("Times Square", "Lund University", "Valentine's Day", "Sports Illustrated")
    is no person's, and nor is an artist named for a style ("in the style of Milo Manara",
    "Lucian Freud style"). A capital initial with its full stop after a first name ("Taylor
    S.", "Jessica M.") is a surname written short."""
    start = end = -1
    count = 0
    runs = []
    for match in _WORD.finditer(written):
        word = match.group()
        titled = word[0].isupper() and word[1:].islower()
        joined = count and match.start() == end + 1 and written[end] in _JOINERS
        initial = (
            len(word) == 1 and word.isupper() and written[match.end() : match.end() + 1] == "."
        )
        if (titled or initial) and joined:  # "Marine Le Pen": inside a name, any capitalised word
            count += 1
            end = match.end()
            continue
        if count >= 2:
            runs.append(written[start:end])
        if titled and word.lower() not in _NOT_NAMES:
            start, count = match.start(), 1
        else:
            count = 0
        end = match.end()
    if count >= 2:
        runs.append(written[start:end])
    return next(
        (
            run
            for run in runs
            if not _NOT_PERSONS.intersection(_words_of(run)) and not _styled(written, run)
        ),
        None,
    )


# An artist named for a style ("in the style of Milo Manara", "Lucian Freud style", "a
# Schiele-inspired nude") is not the person shown.
_STYLE_OF = re.compile(
    r"(?:style of|manner of|inspired by|homage to|a la|à la|in the vein of|influenced by)\s+$",
    re.IGNORECASE,
)
_STYLE_AFTER = re.compile(r"^(?:'s)?[\s-]*(?:style|styled|inspired|esque|like)\b", re.IGNORECASE)


def _styled(written: str, run: str) -> bool:
    at = written.index(run)
    return (
        _STYLE_OF.search(written[:at]) is not None
        or _STYLE_AFTER.match(written[at + len(run) :]) is not None
    )


def _words_of(run: str) -> set[str]:
    return {word.lower() for word in re.findall(r"[^\W\d_]+", run)}


def flagged_categories(
    finding: CueFinding,
    scores: dict[str, float],
    blocked: set[str],
    *,
    unread: dict[str, tuple[str, ...]] | None = None,
) -> dict[str, str | None]:
    """The blocked categories (sexual_minors aside) the prompt is flagged for, each with the
    term that decided it (None when the classifier's head did); see the module docstring.

    `unread`: the cue words per category (`CueFinding.cues`) of the part of the prompt that is
    mostly not English words (the whole prompt or some clauses), where the classifier's low
    scores say nothing; two distinct ones of a category flag it."""
    unread = unread or {}
    sexual = (
        "sexual" in finding.block
        or _outside_name(finding.cue.get("sexual"), finding.person)
        or _outside_name(finding.intimate.get(NCII), finding.person)
        or scores["sexual"] >= 0.5
    )
    flagged: dict[str, str | None] = {}
    for name in PROMPT_CATEGORIES:
        if name == MANDATORY_CATEGORY or name not in blocked:
            continue
        if name in finding.block:
            flagged[name] = finding.block[name]
        elif (
            name in finding.harmless
            and name not in finding.unframed
            and scores[name] < HARMLESS_YIELDS_AT
        ):
            continue
        elif name == NCII:
            if sexual and (name in finding.cue or scores[name] >= 0.5):
                flagged[name] = finding.cue.get(name)
        elif name == IMPERSONATION and finding.staged:
            flagged[name] = f"{finding.person} + {finding.compromising[name]}"
        elif name == HATE and (pair := _hateful_pair(finding)):
            flagged[name] = pair
        elif scores[name] >= 0.5:
            flagged[name] = None
        elif name in finding.cue and scores[name] >= CUE_BAR and not _in_name(name, finding):
            flagged[name] = finding.cue[name]
        elif len(unread.get(name, ())) >= 2:
            flagged[name] = " + ".join(unread[name][:2])
    return flagged


def _in_name(name: str, finding: CueFinding) -> bool:
    """Whether impersonation's cues are all words of the person's name: an office is also a
    surname ("Martin Luther King Jr.", "Stephen King"), and the name is a cue already. A title
    the name starts with ("Pope Francis waving to the crowds") is exempt too, unless the
    prompt claims a real picture ("King Charles ..., leaked phone video"), as the office alone
    would be; and any other cue beside them counts ("a doctored photo of Pope Francis")."""
    if name != IMPERSONATION or finding.person is None:
        return False
    words = finding.person.casefold().split()
    found = [cue.casefold() for cue in finding.cues.get(name) or (finding.cue[name],)]
    if words[0] in found and name in finding.realism:
        return False
    return all(cue in words for cue in found)


def _outside_name(term: str | None, person: str | None) -> bool:
    """Whether a term was found and is not a word of the name taken for a person's that is
    no name without it ("Nanga Parbat" is a mountain, not nudity; "Naked Jenna Smith" still
    names a person, and the term counts)."""
    if term is None or person is None:
        return term is not None
    words = person.casefold().split()
    return term.casefold() not in words or len(words) - words.count(term.casefold()) >= 2


def _hateful_pair(finding: CueFinding) -> str | None:
    """A group together with a hostile framing of it, or a perpetrator of hate together with a
    glorifying one, as "term + term"; None when neither pair is complete."""
    for first, second in (
        (finding.target, finding.hostile),
        (finding.perpetrator, finding.glorifying),
    ):
        if HATE in first and HATE in second:
            return f"{first[HATE]} + {second[HATE]}"
    # Violence done to a group, enjoyed ("refugees drowning while onlookers cheer"): the
    # violence alone is a history lesson or the news, and cheering alone is a party.
    if all(HATE in part for part in (finding.target, finding.attacked, finding.cheering)):
        return f"{finding.target[HATE]} + {finding.attacked[HATE]} + {finding.cheering[HATE]}"
    return None


def _one_word_terms(cues: CueFile, kinds: tuple[str, ...], skip: str = "") -> list[str]:
    terms = (
        term if isinstance(term, str) else term.term
        for name, entry in cues.categories.items()
        if name != skip
        for kind in kinds
        for term in getattr(entry, kind)
    )
    return sorted(term for term in terms if re.fullmatch(r"[a-z]{3,}\*?", term))


def _spellings(english_terms: list[str], every: CueFile) -> Spellings:
    """What `prompt_text.respell` reads misspellings as: `english_terms` (the English file's
    one-word terms and stems of every list but the harmless senses), by first letter. Not the
    other languages' terms: a rare English word one edit from one of them would be read as it
    ("bralette" as French "branlette"). Not hate's: its slurs are one edit from ordinary words
    ("chinos", "clink", Swahili "chini", "fagots" of firewood, "niggling"), and a misspelled
    slur is written on purpose, where leetspeak and masking are read anyway. Every file's terms
    are never respelled."""
    targets: dict[str, list[str]] = {}
    for word in english_terms:
        targets.setdefault(word[0], []).append(word)
    terms = _one_word_terms(every, _KINDS)
    return Spellings(
        targets={first: tuple(dict.fromkeys(words)) for first, words in targets.items()},
        words=frozenset(term for term in terms if not term.endswith("*")),
        stems=tuple(term[:-1] for term in terms if term.endswith("*")),
    )


_SPELLING_KINDS = tuple(kind for kind in _KINDS if kind != "harmless")


def read_cues(
    path: Path = CUES_PATH, languages: Path = LANGUAGES_PATH, world: Path = WORLD_PATH
) -> PromptCues:
    """Reads, validates and compiles the cue file and its other-language terms; raises
    `CuesUnavailable` if any of the files is bad."""
    try:
        raw = Path(path).read_bytes()
        cues = CueFile.model_validate(yaml.safe_load(raw))
        # Read before the other files' terms are merged into `cues`.
        english_terms = _one_word_terms(cues, _SPELLING_KINDS, skip="hate")
        digest = hashlib.sha256(raw)
        for extra in (languages, world):
            other_raw = Path(extra).read_bytes()
            digest.update(other_raw)
            other = CueFile.model_validate(yaml.safe_load(other_raw))
            for name, terms in other.categories.items():
                for kind in _KINDS:
                    getattr(cues.categories[name], kind).extend(getattr(terms, kind))
        return PromptCues(cues, digest.hexdigest(), _spellings(english_terms, cues))
    except (OSError, yaml.YAMLError, ValidationError, re.error) as exc:
        raise CuesUnavailable(
            f"the prompt cue file {path}, {languages} or {world} is unusable: {exc}"
        ) from exc


@lru_cache(maxsize=1)
def prompt_cues() -> PromptCues:
    """The process-wide compiled cues (milliseconds to build)."""
    return read_cues()
