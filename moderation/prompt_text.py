"""Prompt text normalisation and literal matching of blocked terms and protected names (plain
module, no Django).

Evasions undone before matching: case, compatibility forms and accents (NFKD: fullwidth and
mathematical letters, ligatures; combining marks dropped), Cyrillic, Greek and Armenian letters
that look like Latin ones, invisible format characters (zero-width space and joiners, soft
hyphen), leetspeak digits and symbols, letters spelled out with spaces or punctuation between
them ("n u d e", "n.u.d.e", "n-u-d-e"), and repeated letters ("nuuude").

Matching is word-boundary aware: a term matches whole words (with an optional plural "s"/"es"),
so the term "ass" blocks "a$$" and "asses" but not "class" or "assistant". Letters spelled out
one by one are the exception: such a run is searched anywhere inside, because spelling a word
out is itself the evasion."""

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

# Look-alikes of Latin letters from Unicode's confusables table (UTS #39) for the scripts
# most used to dodge filters. NFKC does not fold them: they are distinct letters, not variants.
_CONFUSABLES = {
    **str.maketrans(
        # Cyrillic, Greek, Armenian, then Latin letters outside ASCII that NFKD leaves alone
        "аАВвсСԁеЕһНніІјЈКкӏӀМмоОрРԛԚгѕЅТтуУԝԜхХьЬпЗз"
        "αΑβΒεΕΖηΗιΙκΚΜνΝοΟρΡτΤυΥχΧγως"
        "օՕսՍհոցզ"  # noqa: RUF001 - the look-alikes are the point
        "ıȷłŁøØđĐħŧ",
        "aABbcCdeEhHhiIjJKkllMmoOpPqQrsSTtyYwWxXbbn33"
        "aAbBeEZnHiIkKMvNoOpPtTuYxXyws"
        "oOuUhngq"
        "ijlLoOdDht",
    ),
    **str.maketrans({"æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE"}),
}

# Characters a word may be written with: letters, digits, and the symbols leetspeak uses.
_WORD = "a-z0-9@$"
_TOKEN = re.compile(f"[{_WORD}]+")
# Between letters spelled out one by one: a few spaces or punctuation marks, no line break.
_SPELLED_GAP = re.compile(r"(?:[^\w\n]|_){1,3}")
# What each letter may be written as: itself and its leetspeak stand-ins.
_LEET = {"a": "a4@", "e": "e3", "i": "i1", "l": "l1", "o": "o0", "s": "s5$", "t": "t7"}
# The same, read the other way round, for the index: every stand-in as one letter.
_SKELETON = str.maketrans("4@3105$7l", "aaeiossti")
_REPEATS = re.compile(r"(.)\1+")
_BEFORE = f"(?<![{_WORD}])"
_AFTER = f"(?![{_WORD}])"


def normalise(text: str) -> str:
    """Folds compatibility forms, accents, invisible characters, confusable letters and case.

    Leetspeak is not rewritten here (a "1" may stand for "i" or "l"); the patterns of
    `TextMatcher` accept the stand-ins instead."""
    # NFKD both folds compatibility forms and splits accents off their letters; confusables
    # are mapped before case folding because case decides the look-alike (a capital Greek eta
    # is an H, its lower case an n).
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        ch
        for ch in decomposed
        if not unicodedata.combining(ch) and unicodedata.category(ch) != "Cf"
    )
    return kept.translate(_CONFUSABLES).casefold()


@dataclass(frozen=True)
class PreparedText:
    """A normalised prompt: its words joined by single spaces, and the runs of letters that
    were spelled out one by one, each joined into one string."""

    words: str
    spelled: tuple[str, ...]


def prepare(text: str) -> PreparedText:
    """Normalises `text` and splits it into words, joining spelled-out letters."""
    folded = normalise(text)
    tokens = list(_TOKEN.finditer(folded))
    words: list[str] = []
    spelled: list[str] = []
    run: list[str] = []

    def close_run() -> None:
        if len(run) >= 2:
            spelled.append("".join(run))
        run.clear()

    for index, token in enumerate(tokens):
        single = len(token.group()) == 1
        joined = (
            single
            and run
            and _SPELLED_GAP.fullmatch(folded, tokens[index - 1].end(), token.start()) is not None
        )
        if not joined:
            close_run()
        if single:
            run.append(token.group())
        words.append(token.group())
    close_run()
    return PreparedText(" ".join(words), tuple(spelled))


def _letter_pattern(letter: str, count: int) -> str:
    """A letter written `count` or more times, each time as itself or a leetspeak stand-in."""
    choices = _LEET.get(letter, letter)
    klass = re.escape(choices) if len(choices) == 1 else f"[{re.escape(choices)}]"
    return klass + ("+" if count == 1 else f"{{{count},}}")


def _word_pattern(word: str) -> str:
    return "".join(_letter_pattern(match.group(1), len(match.group())) for match in
                   re.finditer(r"(.)\1*", word))  # fmt: skip


def _phrase_words(phrase: str) -> list[str]:
    return _TOKEN.findall(normalise(phrase))


def term_pattern(term: str) -> str:
    """The regular expression (no boundaries) that a blocked term is matched with."""
    words = _phrase_words(term)
    if not words:
        raise ValueError(f"the term {term!r} has no letters or digits")
    body = r"\s?".join(_word_pattern(word) for word in words)
    return f"{body}(?:{_letter_pattern('s', 1)}|{_word_pattern('es')})?"


def name_pattern(name: str) -> str:
    """The regular expression (no boundaries) that a protected name is matched with.

    Every word of the name must appear, in order: a surname alone does not match. A middle
    initial may be added ("Ada B. Lovelace") or left out when the name has one, and a
    possessive or plural "s" may follow."""
    words = _phrase_words(name)
    if not words:
        raise ValueError(f"the name {name!r} has no letters or digits")
    parts = [_word_pattern(words[0])]
    for word in words[1:-1]:
        if len(word) == 1:
            parts.append(f"(?:\\s?{_word_pattern(word)})?")
        else:
            parts.append(f"\\s?{_word_pattern(word)}")
    if len(words) > 1:
        initial = "" if any(len(word) == 1 for word in words[1:-1]) else r"(?:\s[a-z])?"
        parts.append(f"{initial}\\s?{_word_pattern(words[-1])}")
    return "".join(parts) + f"(?:{_letter_pattern('s', 1)})?"


@lru_cache(maxsize=20_000)
def _compiled(phrase: str, names: bool) -> tuple[re.Pattern, re.Pattern]:
    """A phrase's pattern bounded by word edges (for words) and bare (for spelled-out runs)."""
    pattern = name_pattern(phrase) if names else term_pattern(phrase)
    return re.compile(f"{_BEFORE}{pattern}{_AFTER}"), re.compile(pattern)


def skeleton(text: str) -> str:
    """Leetspeak read as letters ("1" and "l" both as "i"), runs of a letter collapsed."""
    return _REPEATS.sub(r"\1", text.translate(_SKELETON))


def _without_initials(words: list[str]) -> list[str]:
    return [words[0], *(word for word in words[1:-1] if len(word) > 1), *words[1:][-1:]]


def _gram_keys(words: list[str]) -> set[str]:
    """Index keys a run of words may match: the words joined, also without a plural ending,
    and also without single-letter words inside the run (middle initials)."""
    keys = set()
    for variant in {"".join(words), "".join(_without_initials(words))}:
        key = skeleton(variant)
        keys.add(key)
        for ending in ("s", "es"):
            if key.endswith(ending) and len(key) > len(ending):
                keys.add(key[: -len(ending)])
    return keys


class TextMatcher:
    """Finds which of a list of phrases (blocked terms or protected names) a prompt contains.

    Each phrase is indexed by its skeleton; a prompt's runs of words (and every stretch of a
    spelled-out run) are looked up in the index, and only the phrases found there are checked
    with their exact pattern. So a policy's 5 000 terms cost a few dictionary look-ups per
    word, not 5 000 regular-expression scans."""

    def __init__(self, phrases: tuple[str, ...], *, names: bool):
        self.phrases = phrases
        self.names = names
        self._index: dict[str, list[int]] = {}
        self._longest = 0
        self._longest_key = 0
        for position, phrase in enumerate(phrases):
            words = _phrase_words(phrase)
            if not words:
                continue
            key = skeleton("".join(_without_initials(words) if names else words))
            self._index.setdefault(key, []).append(position)
            self._longest_key = max(self._longest_key, len(key))
            # A name may gain a middle initial in the prompt; a term keeps its words.
            self._longest = max(self._longest, len(words) + (1 if names else 0))

    def _candidates(self, text: PreparedText) -> set[int]:
        found: set[int] = set()
        words = text.words.split(" ") if text.words else []
        for start in range(len(words)):
            for end in range(start + 1, min(start + self._longest, len(words)) + 1):
                for key in _gram_keys(words[start:end]):
                    found.update(self._index.get(key, ()))
        # Any stretch of a spelled-out run may be the phrase; the skeleton of a stretch is a
        # stretch of the run's skeleton, so only stretches up to the longest key are looked up.
        for run in map(skeleton, text.spelled):
            for start in range(len(run)):
                for end in range(start + 1, min(start + self._longest_key, len(run)) + 1):
                    found.update(self._index.get(run[start:end], ()))
        return found

    def find(self, text: PreparedText) -> str | None:
        """The first phrase (in the configured order) that `text` contains, or None."""
        for position in sorted(self._candidates(text)):
            phrase = self.phrases[position]
            bounded, anywhere = _compiled(phrase, self.names)
            if bounded.search(text.words) or any(map(anywhere.search, text.spelled)):
                return phrase
        return None


@lru_cache(maxsize=256)
def text_matcher(phrases: tuple[str, ...], *, names: bool) -> TextMatcher:
    """A compiled matcher, cached per phrase list (a policy's lists change rarely)."""
    return TextMatcher(phrases, names=names)


# Words that say a person is a child. On their own they are harmless ("children playing in a
# park"); together with a sexual score they decide that the mandatory category applies, the
# way the Stable Diffusion safety checker raises every score when a child is in the picture.
MINOR_WORDS = (
    "baby", "child", "children", "elementary school", "grade schooler", "infant", "juvenile",
    "first grader", "second grader", "third grader", "fourth grader", "fifth grader",
    "sixth grader", "seventh grader", "eighth grader", "ninth grader", "grade school",
    "junior high", "kid", "kiddie", "kiddo", "little boy", "little girl", "middle school",
    "middle schooler", "minor", "newborn", "preschooler", "prepubescent", "preteen",
    "pubescent", "schoolboy", "schoolgirl", "teen", "teenage", "teenager", "toddler", "tween",
    "underage", "young boy", "young girl", "young teen", "youngster",
)  # fmt: skip
# Slang whose only use is sexualising children: a match blocks on its own.
MINOR_SEXUAL_SLANG = (
    "jailbait", "loli", "lolicon", "pedo", "pedophile", "pedophilia", "paedophile", "pthc",
    "shota", "shotacon",
)  # fmt: skip
_UNDER_18 = (
    r"(?:[0-9]|1[0-7]|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve"
    r"|thirteen|fourteen|fifteen|sixteen|seventeen)"
)
_AGE = re.compile(
    f"{_BEFORE}(?:{_UNDER_18}\\s?(?:years?|yrs?|yr)\\s?old|{_UNDER_18}\\s?(?:yo|y\\s?o)"
    f"|(?:aged?|age)\\s{_UNDER_18}){_AFTER}"
)


def minor_indicated(text: PreparedText) -> str | None:
    """The word or age (under 18) that says the prompt is about a child, or None."""
    age = _AGE.search(text.words)
    if age is not None:
        return age.group()
    return text_matcher(MINOR_WORDS, names=False).find(text)


def minor_sexual_slang(text: PreparedText) -> str | None:
    """The child-sexualising slang word the prompt contains, or None."""
    return text_matcher(MINOR_SEXUAL_SLANG, names=False).find(text)
