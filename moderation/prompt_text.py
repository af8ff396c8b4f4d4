"""Prompt text normalisation and literal matching of blocked terms and protected names (plain
module, no Django).

The gate judges a normalised form of the prompt and keeps the raw one for the record. Evasions
undone by `normalise`: case; compatibility forms and accents (NFKD: fullwidth and mathematical
letters, ligatures; combining marks dropped); letters drawn as symbols that NFKD leaves alone
(small capitals "ɴᴜᴅᴇ", negative circled and squared letters, regional indicator letters), read
from their Unicode names; invisible characters (format characters such as
zero-width spaces and joiners, soft hyphens, bidi controls and tag characters; variation
selectors; fillers that render blank); every kind of space read as a space; and letters of other
scripts that look like Latin ones (Cyrillic a, Greek omicron, Armenian oh, Cherokee A), mapped
to their Latin look-alike with the Unicode confusables table (UTS #39) as packaged by
`confusable-homoglyphs`. `readable` also joins letters spelled out with spaces or punctuation
between them ("n u d e", "n.u.d.e", one per line), reads leetspeak inside words ("s3xy") and
shortens runs of a repeated letter ("nuuuude"), so the semantic classifier and the minors rule
see words they know.

Look-alike letters are only mapped inside a word that mixes them with Latin letters, or a word
made only of look-alikes in a prompt written in Latin letters: a Russian prompt keeps its
Cyrillic words. Such words are reported (`lookalike_words`) because writing a word with
another script's letters is itself a sign of evasion. A prompt written wholly in look-alikes
("sexy" with every letter a Cyrillic look-alike) has no Latin word to tell it from a foreign one, so
`readable` gives a second reading with every such word mapped (`latin_letters`), and the gate
judges both.

Matching of terms and names is word-boundary aware: a term matches whole words (with an
optional plural "s"/"es"), so the term "ass" blocks "a$$" and "asses" but not "class" or
"assistant". Letters spelled out one by one are the exception: such a run is searched anywhere
inside, because spelling a word out is itself the evasion."""

import re
import unicodedata
from collections.abc import Container
from dataclasses import dataclass, replace
from functools import lru_cache

import emoji
from confusable_homoglyphs import categories as scripts
from confusable_homoglyphs import confusables
from rapidfuzz.distance import OSA


def _latin_lookalike(char: str) -> str | None:
    """The ASCII letters that `char` (not ASCII) looks like, from UTS #39, or None.

    Case decides the look-alike (a capital Greek nu is an N, its lower case a v), so the letter
    is looked up as written; the table lists some lower-case letters only under their capital
    (Cyrillic "к" looks like a small capital K), so the capital is tried next. The table maps
    capital I-like letters to "l", their prototype; in a word they read as an I."""
    for candidate in (char, char.upper()):
        for entry in confusables.confusables_data.get(candidate, ()):
            target = entry["c"]
            if target.isascii() and target.isalpha():
                if target == "l" and candidate.isupper():
                    return "i"
                return target.lower()
    return None


# Letters the table does not list: Latin letters with a stroke that NFKD does not remove
# ("ł", "ø"), ligatures it does not split, and the lower-case Greek and Cyrillic letters that
# read as a Latin letter in running text although their capitals do not ("η", "ω", "п").
_EXTRA_LOOKALIKES = {
    "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "ŧ": "t", "æ": "ae", "œ": "oe", "ð": "d",
    "η": "n", "ω": "w", "п": "n",
}  # fmt: skip
# Characters that draw nothing but are letters or symbols, not format characters: Hangul
# fillers and the blank Braille pattern, used to pad words apart invisibly.
_BLANKS = frozenset("\u115f\u1160\u3164\uffa0\u2800")
_DROPPED_CATEGORIES = frozenset({"Cf", "Mn", "Me", "Cs", "Co"})
# Letters drawn as symbols or small capitals, which neither NFKD nor the confusables table maps.
_NAMED_LETTER = re.compile(
    r"(?:LATIN LETTER SMALL CAPITAL|NEGATIVE CIRCLED LATIN CAPITAL LETTER"
    r"|NEGATIVE SQUARED LATIN CAPITAL LETTER|REGIONAL INDICATOR SYMBOL LETTER) ([A-Z])"
)
_LATIN = "LATIN"
_LETTERS = re.compile(r"[^\W\d_]+")


@lru_cache(maxsize=4096)
def _lookalike(char: str) -> str | None:
    return _EXTRA_LOOKALIKES.get(char) or _latin_lookalike(char)


@lru_cache(maxsize=4096)
def _named_letter(char: str) -> str | None:
    """The letter a symbol or small capital is drawn as ("🅝": "N", "ᴀ": "a"), or None."""
    match = _NAMED_LETTER.fullmatch(unicodedata.name(char, ""))
    if match is None:
        return None
    return match.group(1).lower() if "SMALL CAPITAL" in match.group() else match.group(1)


def fold(text: str) -> str:
    """NFKD without marks, invisible characters and control characters (every space read as a
    space), letters drawn as symbols read as letters; case is kept, because it decides
    look-alikes. Bidi controls are dropped, not applied: the image model reads the characters
    in the order they are stored, whatever order a screen shows them in."""
    kept = []
    for char in unicodedata.normalize("NFKD", text):
        category = unicodedata.category(char)
        if category in _DROPPED_CATEGORIES or char in _BLANKS:
            continue
        if char.isspace():
            kept.append(" ")
        elif category != "Cc":
            kept.append(char if char.isascii() else _named_letter(char) or char)
    return unicodedata.normalize("NFC", "".join(kept))


def marked(text: str) -> str:
    """The prompt for a reader of many languages (prompt_multilingual): compatibility forms
    folded (NFKC), invisible, bidi, tag and control characters dropped, every space read as a
    space, disguised words' look-alike letters mapped, case folded; accents and other marks
    are kept, since in Vietnamese tones and in Devanagari vowel signs they carry the words."""
    kept = []
    for char in unicodedata.normalize("NFKC", text):
        category = unicodedata.category(char)
        if category in ("Cf", "Cs", "Co") or char in _BLANKS:
            continue
        if char.isspace():
            kept.append(" ")
        elif category != "Cc":
            kept.append(char)
    return " ".join(_fold_words("".join(kept))[0].casefold().split())


def _script(char: str) -> str:
    return scripts.alias(char) or "UNKNOWN"


def _fold_words(text: str, *, every_word: bool = False) -> tuple[str, tuple[str, ...]]:
    """Maps look-alike letters to Latin ones where a word is disguised (see the module
    docstring); returns the text and the disguised words as written. With `every_word`, a
    word made only of look-alikes is mapped whatever script the prompt is written in."""
    words = list(_LETTERS.finditer(text))
    latin_words = sum(any(_script(c) == _LATIN for c in m.group()) for m in words)
    mostly_latin = every_word or latin_words * 2 >= len(words)
    pieces, last, disguised = [], 0, []
    for match in words:
        word = match.group()
        foreign = [c for c in word if not c.isascii() and _script(c) != _LATIN]
        if not foreign:
            # Latin letters outside ASCII that NFKD leaves alone (dotless i, "ł") are read as ASCII.
            mapped = "".join(c if c.isascii() else (_lookalike(c) or c) for c in word)
        else:
            lookalikes = {c: _lookalike(c) for c in set(foreign)}
            mixed = len(foreign) < len(word)
            whole = not mixed and mostly_latin and all(lookalikes.values())
            if not (mixed or whole) or not any(lookalikes.values()):
                continue
            mapped = "".join(lookalikes.get(c) or c for c in word)
            disguised.append(word)
        pieces.append(text[last : match.start()])
        pieces.append(mapped)
        last = match.end()
    pieces.append(text[last:])
    return "".join(pieces), tuple(disguised)


def normalise(text: str) -> str:
    """Folds compatibility forms, accents, invisible characters, look-alike letters and case.

    Leetspeak is not rewritten here (a "1" may stand for "i" or "l"); the patterns of
    `TextMatcher` accept the stand-ins instead, and `readable` guesses."""
    return _fold_words(fold(text))[0].casefold()


@dataclass(frozen=True)
class ReadablePrompt:
    """The normalised prompt the gate judges: `text` for the classifier and the rules,
    `spelled` the runs of letters that were spelled out one by one (joined), and the words
    written with look-alike letters of another script, as they were written."""

    text: str
    spelled: tuple[str, ...]
    lookalike_words: tuple[str, ...]
    # `text` with each run of three or more of a letter read as one letter instead of two
    # ("pooorn": "porn", where `text` has "poorn"), or None when there is no such run.
    single_letters: str | None = None
    # `text` with every word made only of look-alike letters mapped to Latin ones, in a prompt
    # not written in Latin letters ("sexy" in Cyrillic letters), or None when that changes nothing.
    latin_letters: str | None = None
    # `text` with each emoji read as its name ("🔪🩸": "kitchen knife drop of blood"), or None
    # when the prompt has none: the image model's text encoder reads emoji as things.
    pictures: str | None = None
    # The prompt read back to front, when that reads as English and the prompt itself does
    # not ("nrop": "porn"), or None.
    backwards: str | None = None
    # `text` with each word masked with "*" ("k*kes", "s**x") read as the lexicon word it
    # fits (`unmask`), or None.
    unmasked: str | None = None
    # `text` with each misspelled word read as the lexicon word one edit away ("beheding";
    # `respell`), or None. Only the classifier reads it, not the cue lists: a rare real word
    # one edit from a harm word ("swabbing", "genial", "hooters") is respelled too, and the
    # classifier, reading the whole prompt, is not taken in by one such word where a list
    # term would block.
    respelled: str | None = None
    # `text` with each word split by punctuation read whole ("ex.ecu.tion", "bl-ood";
    # `rejoin`), or None.
    rejoined: str | None = None

    def alternatives(self) -> tuple[str, ...]:
        """The other readings of the prompt, judged beside `text`; the worse counts."""
        readings = (
            self.single_letters,
            self.latin_letters,
            self.pictures,
            self.backwards,
            self.unmasked,
            self.rejoined,
        )
        return tuple(other for other in readings if other)


# Leetspeak stand-ins read inside a word that also has letters; "1" is read as "l" next to
# another "1" ("ki11"), as "i" otherwise ("k1d", "l1ttle").
_LEET_READ = {"0": "o", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i"}
_LEET_WORD = re.compile(r"[\w@$]+(?:!+[\w@$]+)*")
# A number with a unit or an ordinal ending is a number, not a word in disguise.
_NUMBER = re.compile(
    r"\d+(?:yo|y|yr|yrs|th|st|nd|rd|s|d|k|p|x|h|m|f|am|pm|mm|cm|km|kg|g|ml|l|ft|in|hz|fps|mp"
    r"|gb|mb|v|w)?"
)
# Three or more of a letter become two: no English word has three, many have two ("teen").
_LONG_REPEAT = re.compile(r"([a-z])\1{2,}")
# Single letters or digits, each followed by a short gap of spaces or punctuation.
_SPELLED_RUN = re.compile(r"(?<![\w@$])(?:[a-z0-9@$](?:[^\w\n]|_){1,5}){1,}[a-z0-9@$](?![\w@$])")


# Symbols that stand for a letter only next to letters ("nud€", "g+re", "p()rn"); on their own
# they are a price, a plus or brackets. "|" stays a separator: "b|r|i|d|e" is spelled out.
_SYMBOL_LETTERS = [
    (re.compile(r"(?<=[a-z])\(\)|\(\)(?=[a-z])"), "o"),
    (re.compile(r"(?<=[a-z])€|€(?=[a-z])"), "e"),
    (re.compile(r"(?<=[a-z])\+(?=[a-z])"), "t"),
]


def _read_symbols(text: str) -> str:
    for pattern, letter in _SYMBOL_LETTERS:
        text = pattern.sub(letter, text)
    return text


def _is_number(word: str) -> bool:
    return _NUMBER.fullmatch(_REPEATS.sub(r"\1", word)) is not None


def _read_leet(word: str) -> str:
    if not re.search("[a-z]", word) or _is_number(word):
        return word
    # An "o" among a number's digits is a zero ("1o yo", "1oyo").
    lead = re.match(r"\d[\do]*", word)
    if lead and "o" in lead.group():
        as_number = lead.group().replace("o", "0") + word[lead.end() :]
        if _is_number(as_number):
            return as_number
    # A number with a disguised unit ("11y0") keeps its digits.
    digits = re.match(r"\d*", word).group()
    rest = "".join(_LEET_READ.get(char, char) for char in word[len(digits) :])
    if digits and _is_number(digits + rest):
        return digits + rest
    out = []
    for i, char in enumerate(word):
        if char == "1":
            near = word[max(i - 1, 0) : i] + word[i + 1 : i + 2]
            out.append("l" if "1" in near else "i")
        else:
            out.append(_LEET_READ.get(char, char))
    return "".join(out)


def _join_spelled(match: re.Match) -> str:
    letters = re.sub(r"[^a-z0-9@$]", "", match.group())
    # "a n u d e": the article stays a word of its own.
    if len(letters) >= 4 and letters[0] in "ai" and match.group()[1] == " ":
        return f"{letters[0]} {letters[1:]}"
    return letters


def readable(text: str, known: Container[str] = frozenset()) -> ReadablePrompt:
    """The normalised form the gate judges; see `ReadablePrompt`. `known` (the words the
    classifier's encoder knows) tells a prompt written backwards without any of the commonest
    words."""
    folded = fold(text)
    words, disguised = _fold_words(folded)
    read = _read(words)
    every, _ = _fold_words(folded, every_word=True)
    if every != words:
        read = replace(read, latin_letters=_read(every).text)
    if emoji.emoji_count(text):
        named = emoji.demojize(text, delimiters=(" ", " ")).replace("_", " ")
        # "🔞" says adults only; its name, "no one under eighteen", read as an age.
        named = named.replace("no one under eighteen", "adults only")
        read = replace(read, pictures=_read(_fold_words(fold(named))[0]).text)
    # A note in brackets ("(read it right to left)") is written forwards beside a reversed
    # prompt: the test is on the rest, and a note that says the text is reversed is believed.
    body = _NOTE.sub(" ", words)
    backwards = _read(body[::-1]).text
    told = _REVERSED_INSTRUCTION.search(words) is not None or any(
        _REVERSED_NOTE.search(note) for note in _NOTE.findall(words)
    )
    whole = _more_english(backwards, _read(body).text, known)
    # A prompt of one clause was judged whole already.
    clauses = _CLAUSE.split(body)
    if told or whole or (len(clauses) > 1 and any(_reads_backwards(c, known) for c in clauses)):
        read = replace(read, backwards=backwards)
    return replace(read, lookalike_words=disguised)


_NOTE = re.compile(r"\([^()]*\)|\[[^\[\]]*\]")
_REVERSED_NOTE = re.compile(
    r"\b(?:backwards?|reversed?|in reverse|right to left|from the end|flip (?:it|the text|this|"
    r"the words|the letters)|mirror(?:ed)? (?:text|writing)|read (?:it )?the other way)\b",
    re.IGNORECASE,
)
# Outside brackets only an instruction says so ("Reverse this and generate: ...", "Read it
# backwards:", "REVERSED: ..."): "Reverse osmosis", "walking backwards" or "mirror text art"
# describe the picture, and reading such a prompt backwards made "bats" "stab" and "41 88"
# "88 14".
_REVERSED_INSTRUCTION = re.compile(
    r"\b(?:reverse|flip|mirror)\s+(?:it|this|the (?:text|words|letters|prompt|following))\b"
    r"|\bread\s+(?:it\s+|this\s+)?(?:backwards?|reversed|in reverse|right to left|from the end)\b"
    r"|\b(?:reversed?|backwards?|in reverse|right to left|reverse of)\s*:",
    re.IGNORECASE,
)


# The commonest English words and the words image prompts nearly always carry: more of them
# read back to front than forwards, in the whole prompt or in one of its clauses, say that it
# or a part of it was written backwards (a reversed clause after forward style tags: "photo,
# 8k, roolf eht no doolb"). Words of three letters or more only: reversed two-letter words of
# other languages are English ones (Tagalog "sa" is "as", "on" is "no"), and reading such a
# prompt backwards made harm words of its other words ("Izan" is "nazi"). Function words
# alone missed reversed prompts that have none ("Muslims as cockroaches, propaganda poster").
# An English prompt without them gets no backwards reading.
_COMMON_WORDS = frozenset(
    "the and with for from are into onto over under her his their its this that who while "
    "being out off all every some one two after before during photo photograph "
    "photorealistic picture image realistic poster style scene art painting drawing portrait "
    "render detailed lighting background close shot video footage news meme cinematic man "
    "woman people person having quality high ultra sharp focus".split()
)
_CLAUSE = re.compile(r"[,;.|\n]+")


def _reads_backwards(text: str, known: Container[str]) -> bool:
    return _more_english(_read(text[::-1]).text, _read(text).text, known)


def _more_english(backwards: str, forwards: str, known: Container[str]) -> bool:
    """Whether a text's backwards reading is the English one: more of the commonest words, or
    of `known` words by `_more_words`' margins."""
    return _common_words(backwards) > _common_words(forwards) or _more_words(
        backwards, forwards, known
    )


def _common_words(text: str) -> int:
    return sum(word in _COMMON_WORDS for word in re.findall(r"[a-z]+", text))


_KNOWN_SHARE = 0.5


def _more_words(backwards: str, forwards: str, known: Container[str]) -> bool:
    """Whether a text without the commonest words reads as English backwards ("evrats ,sbir
    ynniks ,opsniht ana orp"): at least three of the backwards reading's words of three letters
    or more are words of `known`, twice as many as forwards and half its words at least (junk
    words padding a reversed clause do not hide it). The margins keep another language's
    prompt from gaining a reading by chance: none of the bench's 11 860 prompts not written
    backwards did, whole or clause by clause, at a share of 0.4 to 0.6."""
    back = _long_words(backwards)
    hits = sum(_known(word, known) for word in back)
    ahead = sum(_known(word, known) for word in _long_words(forwards))
    return hits >= 3 and hits >= 2 * max(ahead, 1) and hits >= _KNOWN_SHARE * len(back)


def _long_words(text: str) -> list[str]:
    return [word for word in re.findall(r"[a-z]+", text) if len(word) >= 3]


def _read(folded: str) -> ReadablePrompt:
    """Spelled-out letters, leetspeak and stretched letters read in a folded text."""
    folded = _read_symbols(folded.casefold())
    spelled = tuple(
        re.sub(r"[^a-z0-9@$]", "", m.group())
        for m in _SPELLED_RUN.finditer(folded)
        if len(re.sub(r"[^a-z0-9@$]", "", m.group())) >= 2
    )
    joined = _SPELLED_RUN.sub(_join_spelled, folded)
    words = _LEET_WORD.sub(lambda m: _read_leet(m.group()), joined)
    single = re.sub(r"[ \t]+", " ", _LONG_REPEAT.sub(r"\1", words)).strip()
    words = re.sub(r"[ \t]+", " ", _LONG_REPEAT.sub(r"\1\1", words)).strip()
    # A spelled run is kept as written too: its digits may be an age ("1 1 y o").
    runs = tuple(dict.fromkeys(form for run in spelled for form in (run, _read_leet(run))))
    return ReadablePrompt(words, runs, (), single if single != words else None)


# A word with letters hidden behind asterisks or hashes: a letter first, one hidden at least.
_MASKED = re.compile(r"(?<![\w*#])[a-z][a-z*#]*[*#][a-z*#]*(?![\w*#])")


def unmask(text: str, words: dict[str, tuple[str, ...]]) -> str | None:
    """`text` with each masked word ("k*kes") read as the first word of `words` it fits, or
    None when no masked word fits one. `words` maps a first letter and a length to the words,
    likeliest first (each hidden character is one letter; a plural "s" or "es" may follow).
    Words are masked to hide that they are offensive, so the first offensive word that fits
    is the reading."""
    changed = False

    def read(match: re.Match) -> str:
        nonlocal changed
        token = match.group()
        for ending in ("", "s", "es"):
            if ending and not token.endswith(ending):
                continue
            stem = token[: len(token) - len(ending)]
            fits = [
                word
                for word in words.get(f"{stem[0]}{len(stem)}", ())
                if all(c in "*#" or c == w for c, w in zip(stem, word, strict=True))
            ]
            if fits:
                changed = True
                return fits[0] + ending
        return token

    unmasked = _MASKED.sub(read, text)
    return unmasked if changed else None


@dataclass(frozen=True)
class Spellings:
    """What `respell` reads misspellings as (`targets`: the English lexicon's words and stems,
    a stem ending in "*", by first letter) and the terms of every language's lexicon, which
    are never read as another word (`words`, and `stems` without their "*")."""

    targets: dict[str, tuple[str, ...]]
    words: frozenset[str]
    stems: tuple[str, ...]

    def has(self, token: str) -> bool:
        return token in self.words or token.startswith(self.stems)


def respell(text: str, spellings: Spellings, known: Container[str]) -> str | None:
    """`text` with each misspelled word read as the first English lexicon word one edit away
    from it (a letter changed, added, dropped, or two swapped), or None when no word is so
    read; a stem ("behead*") reads "beheding" as "beheading" where what follows is an English
    ending.

    Only a word of `RESPELL_MIN` letters or more is read that is neither a lexicon term of any
    language (Dutch "naakt" is not German "nackt") nor in `known` (the words the classifier's
    encoder knows) with or without an English ending ("splashing" is "splash" and "ing", not
    "slashing"), and only as a word with its first letter: a misspelling that hides a harm
    ("nakid", "beheding") keeps the word's start, and a real word is never taken for
    another."""
    changed = False

    def read(match: re.Match) -> str:
        nonlocal changed
        token = match.group()
        if _known(token, known) or spellings.has(token):
            return token
        for word in spellings.targets.get(token[0], ()):
            stem = word.removesuffix("*")
            if len(stem) < RESPELL_MIN:
                continue
            if stem == word:
                # A short word is reached only by a letter changed or two swapped: one dropped
                # or added reads "nudges" as "nudes".
                size = 0 if len(word) < _SHORT else 1
                if abs(len(token) - len(word)) <= size and OSA.distance(token, word) <= 1:
                    changed = True
                    return word
                continue
            for cut in (len(stem), len(stem) - 1, len(stem) + 1):
                rest = token[cut:]
                if (not rest or rest in _ENDINGS) and OSA.distance(token[:cut], stem) <= 1:
                    changed = True
                    return stem + rest
        return token

    respelled = _RESPELL_WORD.sub(read, text)
    return respelled if changed else None


# Letters of one word split by punctuation: full stops, hyphens, underscores and middle dots
# between runs of letters ("ex.ecu.tion", "bl-ood", "k_ill"). Not apostrophes ("someone's" is
# no "someones"); asterisks are `unmask`'s, single letters spelled out `readable`'s.
_SPLIT_WORD = re.compile(r"(?<![\w@$*'\u2019])[a-z]+(?:[.\-_\u00b7][a-z]+)+(?![\w@$*'\u2019])")
_SPLITS = re.compile(r"[.\-_\u00b7]")


def rejoin(text: str, spellings: Spellings, known: Container[str]) -> str | None:
    """`text` with each word split by punctuation read as one word, or None when none is: only
    where the letters joined make a word of `known` or a lexicon term (`spellings`) and the
    pieces do not all make words: "bl-ood" is "blood", "k-ill" "kill", "sl-it-ting"
    "slitting", while "well-known", "in-laws" and "t-shirt" stay as written."""
    changed = False

    def read(match: re.Match) -> str:
        nonlocal changed
        pieces = _SPLITS.split(match.group())
        joined = "".join(pieces)
        if not (_known(joined, known) or spellings.has(joined)):
            return match.group()
        if all(_is_word(piece, known) for piece in pieces):
            return match.group()
        changed = True
        return joined

    rejoined = _SPLIT_WORD.sub(read, text)
    return rejoined if changed else None


# Words of one or two letters that are words; the encoder's vocabulary has fragments ("sl",
# "wr") that are none.
_SHORT_WORDS = frozenset(
    "a i am an as at be by do go he if in is it me my no of oh ok on or so to up us we".split()
)


def _is_word(piece: str, known: Container[str]) -> bool:
    return piece in _SHORT_WORDS or (len(piece) > 2 and _known(piece, known))


def _known(token: str, known: Container[str]) -> bool:
    """Whether `token` is in `known`, or is a word of it with an English ending: as written
    ("beaters"), with the "e" the ending dropped ("shaving"), with a doubled last consonant
    ("swabbing") or "y" for "i" ("pantries")."""
    if token in known:
        return True
    for ending in _ENDINGS:
        if not token.endswith(ending) or len(token) - len(ending) < 3:
            continue
        stem = token[: -len(ending)]
        forms = {stem, stem + "e"}
        if stem.endswith("i"):
            forms.add(stem[:-1] + "y")
        if len(stem) > 3 and stem[-1] == stem[-2]:
            forms.add(stem[:-1])
        if any(form in known for form in forms):
            return True
    return False


# Shorter words are one edit away from too many others, in English and in the languages the
# encoder does not know ("nude": "node", Spanish "nube"). Five-letter ones still are (German
# "nacht": "nackt", Swedish "räkor": "razor"), but only the classifier reads the respelling,
# and it weighs the whole prompt.
RESPELL_MIN = 5
_SHORT = 6
_RESPELL_WORD = re.compile(rf"(?<![a-z0-9])[a-z]{{{RESPELL_MIN},}}(?![a-z0-9])")
# English endings: a known word with one is known ("beaters"), and a stem is read through one.
_ENDINGS = ("s", "es", "d", "ed", "ing", "er", "ers", "y", "ies", "ly", "ion", "ions", "ation")


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


# "Negative prompt: ..." (and the "--no" flag of some front ends) written inside the prompt.
# The platform sends the whole prompt to the text encoder (only the request's own
# `negative_prompt` field is a negative prompt), so its words are read like the rest: gore
# listed there conditions the image on gore, and they stay evidence. Clothing listed there is
# also a request for nakedness in front ends that split it off ("a woman on a bed. Negative
# prompt: clothes, towel"): that reading is added.
_NEGATIVE = re.compile(
    r"(?:^|(?<=[\s.,;|(\[]))(?:negative(?: prompt)?|neg(?: prompt)?|avoid|exclude|without)\s*[:=]"
    r"|(?:^|(?<=\s))--no\b",
    re.IGNORECASE,
)
_CLOTHING = re.compile(
    r"\b(?:cloth(?:es|ing)?|dress(?:ed|es)?|shirts?|tops?|pants|trousers|shorts|skirts?|"
    r"underwear|lingerie|bras?|panties|briefs|bikinis?|swimsuits?|swimwear|towels?|sheets?|"
    r"blankets?|robes?|covered|covering|coverage|censor(?:ed|ship)?|mosaic|"
    r"modest(?:y)?|outfits?|garments?|fabric|attire)\b",
    re.IGNORECASE,
)
# A negative prompt that also rules out nudity asks for modesty, not for less clothing.
_NUDITY = re.compile(
    r"\b(?:nsfw|nud(?:e|es|ity)|naked|nipples?|explicit|sexual|sexy|porn\w*|cleavage)\b", re.I
)
# Someone the prompt itself dresses ("a man hiking in jeans", "a woman in a ball gown"): where
# the negative prompt does not rule that garment out too, it rules out other clothes, not all.
_WEARING = re.compile(
    r"\b(?:wearing|wears|dressed in|in) (?:a |an |her |his |their |full |formal )?(?:[\w-]+ )?"
    r"(dress|gown|suit|jeans|uniform|coat|jacket|shirt|blouse|sweater|jumper|costume|kimono|"
    r"sari|robe|armou?r|bikini|swimsuit|tuxedo|hoodie|t-shirt|trousers|pants|skirt|overalls|"
    r"scrubs|parka|cardigan|vest)e?s?\b",
    re.IGNORECASE,
)
# What the image model makes of a negative prompt that names clothing.
UNCLOTHED = "naked, nude, uncensored"
# A negative prompt that rules out decency toward the subject ("political cartoon about
# immigrants. Negative prompt: respectful, humanizing, nuanced") steers the image to its
# opposite, as one ruling out clothing steers it to nakedness. Two such words at least, and no
# photographer's words ("kind smile", "fair skin", "friendly, positive vibes" are a portrait's
# mood); "_" joins tags.
_DECENCY = re.compile(
    r"(?<![a-z])(?:respect(?:ful|fully)?|humani[sz](?:ing|ed)|humane|humanity|dignified|dignity|"
    r"sympathetic|sympathy|compassionate|compassion|empathetic|empathy|decency|decent|"
    r"inclusive|tolerant|tolerance|nuanced|non[ _-]?stereotyp\w*)(?![a-z])",
    re.IGNORECASE,
)
DEGRADING = "a degrading, dehumanising caricature"
# Someone to undress: a word for a person or a body, or a capitalised name ("blur" or "clothes"
# ruled out for "a red cube on a table" asks for nothing).
_SOMEONE = re.compile(
    r"\b(?:wom[ae]n|m[ae]n|girls?|boys?|lad(?:y|ies)|guys?|persons?|people|models?|bod(?:y|ies)|"
    r"figures?|couples?|she|her|he|him|wife|husband|girlfriend|boyfriend|teens?|actress|actor|"
    r"dancers?|selfie|portrait|torso|nurse|student|adults?|lovers?|partners?)\b",
    re.IGNORECASE,
)
_NAME = re.compile(r"\b[A-Z][a-z]+ [A-Z][a-z]+\b")


# The prompt itself after a negative prompt written first ("Negative prompt: clothes. Prompt:
# a couple on a bed", "... Subject: ...").
_POSITIVE = re.compile(
    r"(?:^|(?<=[\s.,;|(\[]))(?:positive(?: prompt)?|(?:main |image )?prompt|subject|scene|"
    r"description|image|content|show|draw|generate)\s*[:=]",
    re.IGNORECASE,
)
# Without such a marker, a negative prompt written first ends at its sentence's end ("Negative:
# clothes, towel. A couple on a bed"); a "--no" parameter takes one word ("--no clothes a
# couple on a bed"), as image front ends read it.
_NEGATIVE_END = re.compile(r"[.;|\n]+")


def negative_split(prompt: str) -> tuple[str, str]:
    """The prompt without its negative prompt, and the negative prompt ("" when none)."""
    match = _NEGATIVE.search(prompt)
    if match is None:
        return prompt, ""
    if prompt[: match.start()].strip():
        return prompt[: match.start()].rstrip(" .,;|([-"), prompt[match.end() :]
    if after := _POSITIVE.search(prompt, match.end()):
        return prompt[after.end() :], prompt[match.end() : after.start()].rstrip(" .,;|([-")
    if end := _NEGATIVE_END.search(prompt, match.end()):
        return prompt[end.end() :], prompt[match.end() : end.start()]
    if match.group().startswith("--"):
        negative, _, positive = prompt[match.end() :].strip().partition(" ")
        return positive, negative
    return prompt, ""


def asked_for(prompt: str, negative_prompt: str = "") -> str:
    """What a prompt may ask the image model for: all of it, with a degrading caricature added
    where a negative prompt rules out decency, and nakedness where it names clothing: one
    written inside the prompt (`negative_split`) or the request's own `negative_prompt`, which
    classifier-free guidance steers the image away from. Nothing is taken away: a negative
    prompt inside the prompt text reaches the text encoder as the rest does. The request's
    negative prompt is read for that alone: harm words there ("nsfw, gore") are what the image
    is steered away from."""
    positive, negative = negative_split(prompt)
    negative = f"{negative} {negative_prompt}"
    someone = _SOMEONE.search(positive) or _NAME.search(positive)
    worn = {match.group(1).casefold() for match in _WEARING.finditer(positive)}
    dressed = any(not re.search(rf"\b{garment}", negative, re.IGNORECASE) for garment in worn)
    if len({word.casefold() for word in _DECENCY.findall(negative)}) >= 2:
        prompt = f"{prompt}, {DEGRADING}"
    if someone and _CLOTHING.search(negative) and not _NUDITY.search(negative) and not dressed:
        return f"{prompt}, {UNCLOTHED}"
    return prompt
