"""The deterministic rule for the mandatory category `sexual_minors` (plain module, no Django).

The semantic classifier misses prompts it has no exemplar near ("sultry pin-up poster starring
a twelve-year-old" passed it), and this category must never pass. So, independently of the
classifier, a prompt is blocked when its normalised text (`moderation.prompt_text.readable`) has

- a sexualised or suggestive framing ("sexy", "pin-up", "lingerie", "nude", ...) AND a sign
  that a person is a minor: a word for a child or teenager, an age under 18 (words, digits,
  "12yo", "12 y/o", "twelve-year-old", "12 años", "12-летняя", "aged 12", "looks about 12"),
  a school grade or year ("7th grader", "in seventh grade", "year 8 pupil"); or
- slang whose only use is sexualising children ("jailbait", "loli", "shota").

The vocabulary, in English, Spanish, French, German, Italian, Portuguese, Russian and
Japanese (romanised and in kana), is data: `moderation/data/minors_lexicon.yaml`, where each
term can name what gives it a harmless sense ("nude lipstick", "a minor key") so the rule does
not block the innocent. Both halves are needed: "a 12-year-old's birthday party" and "a sexy
sports car" pass. Words spelled out letter by letter are searched inside the spelled run too,
without word boundaries and without the harmless senses (spelling a word out is itself the
evasion)."""

import hashlib
import re
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moderation.prompt_text import ReadablePrompt, fold

LEXICON_PATH = Path(__file__).resolve().parent / "data" / "minors_lexicon.yaml"

_NOT_LETTER_BEFORE = r"(?<![^\W\d_])"
_NOT_LETTER_AFTER = r"(?![^\W\d_])"
_GAP = r"[\s-]*"
_SPACED_GAP = r"[\s-]+"
# Scripts written without spaces between words (Japanese, Chinese, Thai, Lao, Khmer, Burmese),
# and Korean, whose particles are written onto the word ("초등학생이"): their terms match anywhere.
_UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u9fff\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
    r"\u0e00-\u0eff\u1000-\u109f\u1780-\u17ff]"
)
_DIGIT_AGE = r"(?<![\d.,])(?:1[0-7]|0?[1-9])(?![\d.,]?\d)"
# After "aged N" or "looks N": what says N is not an age ("looks 5 years younger").
_NOT_AN_AGE = (
    r"(?![\s-]*(?:years?|yrs?|yr)[\s-]*(?:younger|older|ago|later|earlier|before|after))"
    r"(?![\s-]*(?:feet|foot|ft|inch|inches|cm|kg|lbs?|pounds|%|percent|times|x\b|hours?"
    r"|minutes?|days?|weeks?|months?|points?|stars?|dollars?|euros?))"
    r"(?![\s-]*(?:of|out|more|less|times|step|day|night|hit|piece)\b)"
)
_PERSONS = (
    r"(?:girls?|boys?|kids?|child|children|teens?|daughters?|sons?|students?|pupils?|models?"
    r"|cheerleaders?|gymnasts?|nieces?|nephews?|sisters?|brothers?|dancers?|lass|lasses|lads?)"
)


class LexiconUnavailable(RuntimeError):
    """The lexicon file is missing or malformed: the gate must not pass anything."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Term(_Strict):
    term: str = Field(min_length=1)
    unless_next: list[str] = Field(default_factory=list)
    unless_before: list[str] = Field(default_factory=list)
    only_next: list[str] = Field(default_factory=list)


class Grades(_Strict):
    ordinals: str
    pupils: str
    years: str = ""  # school years as words ("year nine"); digits are built in


class LexiconFile(_Strict):
    version: int
    slang: list[str] = Field(min_length=1)
    framing: list[str | Term] = Field(min_length=1)
    minor: list[str | Term] = Field(min_length=1)
    numbers: list[str] = Field(min_length=1)
    age_after: list[str] = Field(min_length=1)
    age_before: list[str] = Field(min_length=1)
    age_words: list[str] = Field(default_factory=list)
    grades: Grades


def _word(word: str) -> str:
    """One word of a term: each letter may repeat (a double one at least twice: "teen" is
    not "ten"), a trailing "*" is any word ending."""
    stem, open_end = (word[:-1], True) if word.endswith("*") else (word, False)
    body = "".join(
        re.escape(m.group(1)) + ("+" if len(m.group()) == 1 else f"{{{len(m.group())},}}")
        for m in re.finditer(r"(.)\1*", stem)
    )
    return body + (r"\w*" if open_end else r"(?:s|es)?")


def _english_word(word: str) -> bool:
    """Whether `word` is a word of the prompt encoder's vocabulary, or one with an "s". Without
    the encoder, none is: every glued match then counts."""
    from moderation.prompt_classifier import ClassifierUnavailable, encoder_vocabulary

    try:
        words = encoder_vocabulary()
    except ClassifierUnavailable:
        return False
    word = word.casefold()
    return word in words or (word.endswith("s") and word[:-1] in words)


def _term_pattern(term: str) -> str:
    """A term as a regular expression without boundaries (see the lexicon's header)."""
    if "(" in term:
        return _written(term, _GAP)
    folded = fold(term).casefold().strip()
    return _GAP.join(_word(word) for word in re.split(r"[\s-]+", folded) if word)


def _written(term: str, gap: str) -> str:
    """A written regular expression with `gap` for each of its spaces; a space the pattern
    makes optional (" ?") stays an optional one."""
    return re.sub(r" (?![?*{])", lambda _: gap, term.strip()).replace(" ", _GAP)


def _bounded(pattern: str, term: str) -> str:
    if _UNSPACED.search(term):
        return pattern
    return f"{_NOT_LETTER_BEFORE}(?:{pattern}){_NOT_LETTER_AFTER}"


def _loose(fragment: str) -> str:
    """A lexicon regular-expression fragment: spaces may be spaces or hyphens, "*" any ending."""
    return fragment.replace("*", r"\w*").replace(" ", _GAP)


@dataclass(frozen=True)
class LexiconEntry:
    term: str
    bounded: re.Pattern
    bare: re.Pattern
    unless_next: re.Pattern | None
    unless_before: re.Pattern | None
    only_next: re.Pattern | None
    # A written pattern's words with real gaps between them: see `find`.
    spaced: re.Pattern | None = None

    def find(self, text: str) -> str | None:
        for match in self.bounded.finditer(text):
            # A pattern's gaps may be empty so that words run together to hide them are still
            # read ("deathtojews", "death tojews"), but a match that is spaced somewhere and
            # glued elsewhere into words of ordinary English is ordinary text: "burning
            # across" is not "burning a cross".
            if (
                self.spaced
                and re.search(r"\s", match.group())
                and not self.spaced.match(text, match.start())
                and all(map(_english_word, re.findall(r"[^\W\d_]+", match.group())))
            ):
                continue
            if self.unless_next and self.unless_next.match(text, match.end()):
                continue
            if self.only_next and not self.only_next.match(text, match.end()):
                continue
            if self.unless_before and self.unless_before.search(text[: match.start()]):
                continue
            return match.group()
        return None

    def find_spelled(self, run: str) -> str | None:
        match = self.bare.search(run)
        return match.group() if match else None


def lexicon_entry(item: "str | Term") -> LexiconEntry:
    term = item if isinstance(item, Term) else Term(term=item)
    pattern = _term_pattern(term.term)

    def after(fragments: list[str]) -> re.Pattern | None:
        if not fragments:
            return None
        return re.compile(r"[\s,-]*(?:" + "|".join(map(_loose, fragments)) + ")")

    before = None
    if term.unless_before:
        # From a word's start: "on " is not the end of "Johnson ".
        before = re.compile(
            _NOT_LETTER_BEFORE + "(?:" + "|".join(map(_loose, term.unless_before)) + r")\s*$"
        )
    spaced = None
    if "(" in term.term:
        spaced = re.compile(_bounded(_written(term.term, _SPACED_GAP), term.term))
    return LexiconEntry(
        term.term,
        re.compile(_bounded(pattern, term.term)),
        re.compile(pattern),
        after(term.unless_next),
        before,
        after(term.only_next),
        spaced,
    )


@dataclass(frozen=True)
class MinorsFinding:
    """Why the rule blocks: the slang word, or the framing and the sign of a minor found."""

    slang: str | None
    framing: str | None
    minor: str | None

    def describe(self) -> str:
        if self.slang is not None:
            return self.slang
        return f"{self.framing} + {self.minor}"


class MinorsRule:
    """The compiled lexicon; see the module docstring."""

    def __init__(self, lexicon: LexiconFile, sha256: str):
        self.sha256 = sha256
        self.slang = [lexicon_entry(term) for term in lexicon.slang]
        self.framing = [lexicon_entry(term) for term in lexicon.framing]
        self.minor = [lexicon_entry(term) for term in lexicon.minor]
        self.ages = _age_patterns(lexicon, bounded=True)
        # In a spelled-out run ("twelveyearsold") words have no boundaries.
        self.bare_ages = _age_patterns(lexicon, bounded=False)

    def minor_sign(self, text: ReadablePrompt) -> str | None:
        """The word, age or grade that says a person in the prompt is a minor, or None."""
        for pattern in self.ages:
            match = pattern.search(text.text)
            if match:
                return match.group().strip()
        found = first_match(self.minor, text.text)
        if found is not None:
            return found
        for run in text.spelled:
            for pattern in self.bare_ages:
                match = pattern.search(run)
                if match:
                    return match.group()
            found = first_spelled_match(self.minor, run)
            if found is not None:
                return found
        return None

    def framing_of(self, text: ReadablePrompt) -> str | None:
        """The sexualised or suggestive framing in the prompt, or None."""
        found = first_match(self.framing, text.text)
        if found is not None:
            return found
        for run in text.spelled:
            found = first_spelled_match(self.framing, run)
            if found is not None:
                return found
        return None

    def slang_of(self, text: ReadablePrompt) -> str | None:
        found = first_match(self.slang, text.text)
        if found is not None:
            return found
        for run in text.spelled:
            found = first_spelled_match(self.slang, run)
            if found is not None:
                return found
        return None

    def check(self, text: ReadablePrompt) -> MinorsFinding | None:
        """Why the prompt is `sexual_minors` by rule, or None. Every reading is checked
        (stretched letters both ways, "poooose" as "poose" and as "pose"; a prompt wholly in
        look-alike letters as written and mapped to Latin)."""
        finding = self._check(text)
        for other in text.alternatives():
            if finding is not None:
                break
            finding = self._check(replace(text, text=other))
        return finding

    def _check(self, text: ReadablePrompt) -> MinorsFinding | None:
        slang = self.slang_of(text)
        if slang is not None:
            return MinorsFinding(slang, None, None)
        framing = self.framing_of(text)
        if framing is None:
            return None
        minor = self.minor_sign(text)
        if minor is None:
            return None
        return MinorsFinding(None, framing, minor)


def _age_patterns(lexicon: LexiconFile, *, bounded: bool) -> list[re.Pattern]:
    """Ages under 18 and school grades, with word boundaries or (for spelled runs) without."""
    before_edge = _NOT_LETTER_BEFORE if bounded else ""
    after_edge = _NOT_LETTER_AFTER if bounded else ""
    numbers = sorted(
        {fold(word).casefold() for line in lexicon.numbers for word in line.split()}, key=len
    )
    words = "|".join(_term_pattern(word) for word in reversed(numbers))
    # A number word must not end a longer word ("ten" in "often", "ni" in "alumni").
    number = f"(?:{_DIGIT_AGE}|{before_edge}(?:{words}))"
    after = "|".join(_term_pattern(unit) for unit in lexicon.age_after)
    unspaced = "|".join(_term_pattern(u) for u in lexicon.age_after if _UNSPACED.search(u))
    before = "|".join(_loose(prefix) for prefix in lexicon.age_before)
    ordinal_words = "|".join(map(_term_pattern, lexicon.grades.ordinals.split()))
    grade, grader = _term_pattern("grade"), _term_pattern("grader")
    ordinal = f"(?:(?<!\\d)(?:1[0-2]|[1-9])(?:st|nd|rd|th)|{before_edge}(?:{ordinal_words}))"
    pupils = "|".join(lexicon.grades.pupils.split())
    year_words = "|".join(map(_term_pattern, lexicon.grades.years.split()))
    school_year = r"(?:(?<!\d)(?:1[0-2]|[1-9])(?!\d)" + (
        f"|{before_edge}(?:{year_words}){after_edge})" if year_words else ")"
    )
    patterns = [
        f"{number}{_GAP}(?:{after}){after_edge}",
        # Units in scripts without spaces ("12歳の") have a letter right after them.
        f"{number}{_GAP}(?:{unspaced})" if unspaced else None,
        f"{before_edge}(?:{before})[\\s:,-]*{number}{after_edge}{_NOT_AN_AGE}",
        f"{before_edge}{_PERSONS}\\s*[,(:]\\s*{_DIGIT_AGE}(?=\\s*(?:[),.;!/]|$))",
        # "a girl of 12", "a boy of twelve"
        f"{before_edge}{_PERSONS}{_GAP}of{_GAP}{number}{after_edge}{_NOT_AN_AGE}",
        f"{ordinal}{_GAP}{grader}{after_edge}",
        f"{before_edge}in[\\s-]*(?:the[\\s-]*)?{ordinal}{_GAP}{grade}{after_edge}",
        f"{ordinal}{_GAP}{grade}{_GAP}(?:{pupils}){after_edge}",
        f"{before_edge}(?:{grade}|year){_GAP}{school_year}{_GAP}(?:{pupils}){after_edge}",
        f"{before_edge}in{_GAP}(?:the{_GAP})?(?:{grade}|year){_GAP}{school_year}{after_edge}",
        *(f"{before_edge}(?:{_loose(w)}){after_edge}" for w in lexicon.age_words),
    ]
    return [re.compile(pattern) for pattern in patterns if pattern]


def first_match(entries: list[LexiconEntry], text: str) -> str | None:
    for entry in entries:
        found = entry.find(text)
        if found is not None:
            return found
    return None


def first_spelled_match(entries: list[LexiconEntry], run: str) -> str | None:
    for entry in entries:
        found = entry.find_spelled(run)
        if found is not None:
            return found
    return None


def read_rule(path: Path = LEXICON_PATH) -> MinorsRule:
    """Reads, validates and compiles a lexicon; raises `LexiconUnavailable` if it is bad."""
    try:
        raw = Path(path).read_bytes()
        return MinorsRule(
            LexiconFile.model_validate(yaml.safe_load(raw)), hashlib.sha256(raw).hexdigest()
        )
    except (OSError, yaml.YAMLError, ValidationError, re.error) as exc:
        raise LexiconUnavailable(f"the minors lexicon {path} is unusable: {exc}") from exc


@lru_cache(maxsize=1)
def minors_rule() -> MinorsRule:
    """The process-wide compiled rule (milliseconds to build)."""
    return read_rule()
