"""Well-known public figures named in a prompt (plain module, no Django; issue #17).

Impersonation's three halves (`moderation.prompt_cues`) need a person, and a capitalised name
of two words is not how most people name the famous: "Merkel arrested", "obama drunk",
"Путина в наручниках", "习近平被捕". `moderation/data/public_figures.yaml` lists several
hundred public figures with the forms they are called by (surnames alone, other scripts,
declensions, transliterations); this module finds them.

Matching is one set lookup per word n-gram of the normalised prompt (the gate's `readable`
text, which has lost case, accents, look-alike letters and leetspeak) and of the prompt as
written with accents dropped (an Arabic or Hebrew word also without a one-letter prefix such as
"and"), plus one compiled pattern for the forms in Chinese, Japanese and Korean, which match
anywhere (no spaces between words, or particles joined to the name). A name followed by a
place word is the place ("JFK airport"). A form that is also an ordinary word ("Bush",
"Gates", "Rice", "Trump") counts only in context: after a title ("President Bush", "Mr
Gates"), or written with a capital inside a sentence, not after a determiner and not before a
word that makes it the common word ("a trump card"); the data file's header gives the three
kinds of context for whoever adds names."""

import hashlib
import itertools
import re
from functools import lru_cache
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from moderation.minors_rule import LexiconUnavailable
from moderation.prompt_text import ReadablePrompt, fold

FIGURES_PATH = Path(__file__).resolve().parent / "data" / "public_figures.yaml"
# A word: letters, with the vowel signs and viramas of Indic scripts (not letters to `re`).
_TOKEN = re.compile(r"(?:[^\W\d_]|[\u0900-\u0dff])+")
# Scripts written without spaces between words, or with particles joined to a name
# ("트럼프가"): their forms are found anywhere in the text, spaces and middle dots ignored.
_JOINED = re.compile(r"[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af\u1100-\u11ff]")
_JOINED_GAPS = re.compile(r"[\s\u00b7\u30fb\u2027-]+")
# One-letter prefixes written onto an Arabic or Hebrew word ("and", "with", "to", "the"),
# tried off a word's front: "وبوتين" is "and Putin".
_PREFIXES = frozenset("وفبلكوהובלמשכ")
_ALTERNATIVES = re.compile(r"\(([^()]*)\)")
_SENTENCE_END = frozenset('.!?:;\n"\u201c\u00ab(')
_LONGEST = 6  # words in the longest form
# How a form that is also an ordinary word counts (the data file's header).
_CAPITALISED, _ANY_CASE, _TITLED = "~", "+", "^"
_INITIALS = re.compile(r"[A-Z]{2,5}")
# "The prime minister of (the) ...", in the languages of the data file's `offices`.
_OF = frozenset({"of", "de", "du", "des", "del", "da", "do", "di", "von", "der", "van"})
_ARTICLES = frozenset({"the", "la", "le", "l", "el", "il", "lo", "os", "o", "der", "die", "das"})
_INDEFINITE = frozenset(
    {"a", "an", "some", "any", "one", "un", "une", "una", "ein", "eine", "einen"}
)


class FiguresUnavailable(LexiconUnavailable):
    """The public-figures file is missing or malformed: the gate must not pass anything."""


class FiguresFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int
    titles: list[str] = Field(min_length=1)
    determiners: list[str] = Field(min_length=1)
    place_next: list[str] = Field(default_factory=list)
    common_next: list[str] = Field(default_factory=list)
    offices: list[str] = Field(default_factory=list)
    office_next: list[str] = Field(default_factory=list)
    office_holders: list[str] = Field(default_factory=list)
    nations: list[str] = Field(default_factory=list)
    people: dict[str, list[str]] = Field(min_length=1)


def expand(form: str) -> list[str]:
    """A form with "(a|b|)" groups as every form it stands for: "putin(|a|owi)" is "putin",
    "putina" and "putinowi"."""
    parts = _ALTERNATIVES.split(form)
    # split() puts the groups' insides at the odd positions.
    choices = [part.split("|") if i % 2 else [part] for i, part in enumerate(parts)]
    return ["".join(combo) for combo in itertools.product(*choices)]


def _words(text: str) -> str:
    """`text` folded and case-folded, its words joined by single spaces."""
    return " ".join(_TOKEN.findall(fold(text).casefold()))


def _joined(text: str) -> str:
    return _JOINED_GAPS.sub("", fold(text).casefold())


class PublicFigures:
    """The compiled gazetteer; see the module docstring."""

    def __init__(self, figures: FiguresFile, sha256: str):
        self.sha256 = sha256
        self.titles = {_words(title) for title in figures.titles}
        self.determiners = {_words(word) for word in figures.determiners}
        self.place_next = {_words(word) for word in figures.place_next}
        self.common_next = self.place_next | {_words(word) for word in figures.common_next}
        self.offices = {_words(office) for office in figures.offices}
        self.nations = {_words(nation) for nation in figures.nations}
        self.office_next = {_words(word) for word in figures.office_next}
        self.plain: dict[str, str] = {}  # form (words joined by spaces): the person
        self.plain.update({_words(holder): holder for holder in figures.office_holders})
        # Forms that are also ordinary words: the person and how the form counts.
        self.common: dict[str, tuple[str, str]] = {}
        # Initials written in capitals in the file ("~AOC"): written so in the prompt they name
        # the person at a sentence's start too.
        self.initials: set[str] = set()
        joined: dict[str, str] = {}
        for person, forms in figures.people.items():
            prefixed = {_words(form[1:]) for form in forms if form[:1] in "~+^"}
            keyed = [] if _words(person) in prefixed else [person]
            for raw in [*keyed, *forms]:
                kind = raw[0] if raw[:1] in "~+^" else ""
                for form in expand(raw.removeprefix(kind)):
                    if _JOINED.search(form):
                        joined[_joined(form)] = person
                    elif (words := _words(form)) and kind:
                        self.common[words] = (person, kind)
                        if _INITIALS.fullmatch(form):
                            self.initials.add(words)
                    elif words:
                        self.plain[words] = person
        self.joined = joined
        self.joined_pattern = (
            re.compile("|".join(map(re.escape, sorted(joined, key=len, reverse=True))))
            if joined
            else None
        )

    def find(self, text: ReadablePrompt, written: str) -> str | None:
        """The first public figure the prompt names (their name as the data file spells it),
        or None. `text` is the gate's normalised prompt, `written` the prompt as submitted."""
        folded = fold(written)
        for reading in (text.text, *text.alternatives(), folded.casefold()):
            words = _TOKEN.findall(reading)
            found = self._plain(words) or self._office(words)
            if found is not None:
                return found
        if self.joined_pattern is not None and _JOINED.search(folded):
            match = self.joined_pattern.search(_joined(folded))
            if match:
                return self.joined[match.group()]
        return self._common(folded)

    def _plain(self, words: list[str]) -> str | None:
        for start in range(len(words)):
            first = words[start]
            heads = [first, first[1:]] if first[0] in _PREFIXES else [first]
            for size in range(min(_LONGEST, len(words) - start), 0, -1):
                rest = words[start + 1 : start + size]
                after = words[start + size] if start + size < len(words) else ""
                for head in heads:
                    person = self.plain.get(" ".join([head, *rest]))
                    if person is not None and after not in self.place_next:
                        return person
        return None

    def _office(self, words: list[str]) -> str | None:
        """An office named with its country ("the Indian prime minister", "the prime minister
        of India"): "prime minister (indian)", or None."""
        for start in range(len(words)):
            for size in (3, 2, 1):
                office = " ".join(words[start : start + size])
                if office not in self.offices:
                    continue
                after = words[start + size : start + size + 4]
                if any(" ".join(after[:n]) in self.office_next for n in (1, 2, 3)):
                    continue
                before = [" ".join(words[max(start - n, 0) : start]) for n in (1, 2)]
                # "India's": the possessive's "s" is a word of its own here.
                if start >= 2 and words[start - 1] == "s":
                    before.append(words[start - 2])
                if after[:1] and after[0] in _OF:
                    rest = after[2:] if after[1:2] and after[1] in _ARTICLES else after[1:]
                    before += [" ".join(rest[:n]) for n in (1, 2)]
                nation = next((word for word in before if word in self.nations), None)
                if nation and not self._indefinite(words, start, nation):
                    return f"{office} ({nation})"
        return None

    @staticmethod
    def _indefinite(words: list[str], start: int, nation: str) -> bool:
        """Whether the office is said of someone indefinite: "a" or "an" a few words before
        the nation word that comes before the office ("a nude Greek king"), or before the
        office itself, with no "the" nearer."""
        size = len(nation.split())
        at = start - size if " ".join(words[start - size : start]) == nation else start
        for word in reversed(words[max(at - 3, 0) : at]):
            if word in _INDEFINITE:
                return True
            if word in _ARTICLES:
                return False
        return False

    def _common(self, folded: str) -> str | None:
        matches = list(_TOKEN.finditer(folded))
        lowered = [match.group().casefold() for match in matches]
        for start in range(len(lowered)):
            for size in range(min(_LONGEST, len(lowered) - start), 0, -1):
                found = self.common.get(" ".join(lowered[start : start + size]))
                if found is not None and self._in_context(
                    folded, matches, lowered, start, size, found[1]
                ):
                    return found[0]
        return None

    def _in_context(self, folded, matches, lowered, start, size, kind) -> bool:
        """Whether a form that is also an ordinary word names the person here (the data
        file's header)."""
        before = lowered[max(start - 2, 0) : start]
        if before and (before[-1] in self.titles or " ".join(before) in self.titles):
            return True
        after = lowered[start + size] if start + size < len(lowered) else ""
        if kind == _TITLED or after in self.common_next:
            return False
        if before and before[-1] in self.determiners:
            return False
        if kind == _ANY_CASE:
            return True
        written = matches[start].group()
        if written.casefold() in self.initials and written.isupper():
            return True
        if start == 0 or not written[0].isupper():
            return False
        gap = folded[matches[start - 1].end() : matches[start].start()]
        return not any(char in _SENTENCE_END for char in gap)


def read_figures(path: Path = FIGURES_PATH) -> PublicFigures:
    """Reads, validates and compiles the gazetteer; raises `FiguresUnavailable` if it is bad."""
    try:
        raw = Path(path).read_bytes()
        return PublicFigures(
            FiguresFile.model_validate(yaml.safe_load(raw)), hashlib.sha256(raw).hexdigest()
        )
    except (OSError, yaml.YAMLError, ValidationError, re.error) as exc:
        raise FiguresUnavailable(f"the public-figures file {path} is unusable: {exc}") from exc


@lru_cache(maxsize=1)
def public_figures() -> PublicFigures:
    """The process-wide compiled gazetteer (milliseconds to build)."""
    return read_figures()
