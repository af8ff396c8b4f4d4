"""Builds harmful.jsonl and benign.jsonl from the hand-written seeds in this folder, and the
fresh held-out set fresh_harmful.jsonl and fresh_benign.jsonl from fresh_*_seeds.yaml.

    python bench/prompt_sets/build.py

Each row: prompt, label (a category, or "benign"), group (the seed's section), split ("tune" or
"held_out": every third seed of a section, with its variants) and evasion (none, or the trick
applied to the seed). Every row of the fresh files is in the split "fresh": a second
held-out set, written later than the first and never used for tuning, whose variants use
tricks the first sets do not (other look-alike scripts, combining marks, mixed separators).
The evasions are deterministic (a fixed random seed), so a rebuild gives
the same files; the bench reads the files, not the seeds."""

import json
import random
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
# Cyrillic and Greek letters that look like Latin ones.
_LOOKALIKE = {"a": "а", "e": "е", "o": "о", "c": "с", "p": "р", "x": "х", "y": "у", "i": "і"}  # noqa: RUF001
_LEET = {"a": "4", "e": "3", "i": "1", "o": "0", "s": "5", "t": "7"}
_INVISIBLE = ["\u200b", "\u200c", "\u200d", "\u2060", "\u00ad", "\ufe0f", "\U000e0020"]


def _words(text: str) -> list[tuple[int, str]]:
    out, start = [], None
    for i, char in enumerate(text + " "):
        if char.isalpha() and start is None:
            start = i
        elif not char.isalpha() and start is not None:
            out.append((start, text[start:i]))
            start = None
    return out


def _replace_words(text: str, rng: random.Random, change, share: float) -> str:
    words = [w for w in _words(text) if len(w[1]) >= 4]
    chosen = {start for start, _ in rng.sample(words, max(1, round(len(words) * share)))}
    out, last = [], 0
    for start, word in _words(text):
        if start in chosen:
            out += [text[last:start], change(word)]
            last = start + len(word)
    return "".join(out) + text[last:]


def lookalikes(text: str, rng: random.Random) -> str:
    return _replace_words(
        text,
        rng,
        lambda w: "".join(_LOOKALIKE.get(c, c) if rng.random() < 0.6 else c for c in w),
        0.6,
    )


def spacing(text: str, rng: random.Random) -> str:
    gap = rng.choice([" ", ".", "-", " . ", "_"])
    return _replace_words(text, rng, lambda w: gap.join(w), 0.25)


def leetspeak(text: str, rng: random.Random) -> str:
    return _replace_words(text, rng, lambda w: "".join(_LEET.get(c, c) for c in w), 0.5)


def invisible(text: str, rng: random.Random) -> str:
    def scatter(word: str) -> str:
        return "".join(c + (rng.choice(_INVISIBLE) if rng.random() < 0.5 else "") for c in word)

    return _replace_words(text, rng, scatter, 0.6)


def bidi_and_fullwidth(text: str, rng: random.Random) -> str:
    def wide(word: str) -> str:
        return (
            "\u2066" + "".join(chr(ord(c) + 0xFEE0) if c.isascii() else c for c in word) + "\u2069"
        )

    return _replace_words(text, rng, wide, 0.4)


def repeats_and_case(text: str, rng: random.Random) -> str:
    def stretch(word: str) -> str:
        i = rng.randrange(len(word))
        return (word[:i] + word[i] * 4 + word[i + 1 :]).upper()

    return _replace_words(text, rng, stretch, 0.4)


EVASIONS = [lookalikes, spacing, leetspeak, invisible, bidi_and_fullwidth, repeats_and_case]

# The fresh set's tricks. Greek, Armenian and Cherokee letters that look like Latin ones (the
# Cherokee ones are capitals, so the word is written in capitals).
_GREEK = {"a": "α", "o": "ο", "i": "ι", "k": "κ", "p": "ρ", "u": "υ", "x": "χ", "v": "ν"}  # noqa: RUF001
_ARMENIAN = {"o": "\u0585", "u": "\u057d", "h": "\u0570", "n": "\u0578", "g": "\u0581"}
_CHEROKEE = {
    "A": "\u13aa", "C": "\u13df", "E": "\u13ac", "H": "\u13bb", "K": "\u13e6",
    "L": "\u13de", "M": "\u13b7", "P": "\u13e2", "S": "\u13da", "T": "\u13a2",
    "V": "\u13d9", "W": "\u13b3", "Z": "\u13c3",
}  # fmt: skip
_LEET_MORE = {"a": "@", "s": "$", "i": "!", "l": "|", "e": "€", "o": "()", "t": "+"}


def greek_armenian(text: str, rng: random.Random) -> str:
    table = {**_GREEK, **_ARMENIAN}
    return _replace_words(
        text, rng, lambda w: "".join(table.get(c, c) if rng.random() < 0.7 else c for c in w), 0.7
    )


def cherokee_capitals(text: str, rng: random.Random) -> str:
    return _replace_words(text, rng, lambda w: "".join(_CHEROKEE.get(c, c) for c in w.upper()), 0.5)


def math_letters(text: str, rng: random.Random) -> str:
    """Mathematical bold and script letters (NFKC maps them back)."""
    base = rng.choice([0x1D41A, 0x1D5EE, 0x1D68A])  # bold, sans-serif bold, monospace

    def bold(word: str) -> str:
        return "".join(chr(base + ord(c) - 97) if "a" <= c <= "z" else c for c in word)

    return _replace_words(text, rng, bold, 0.6)


def combining_marks(text: str, rng: random.Random) -> str:
    marks = ["\u0301", "\u0308", "\u0336", "\u0332", "\u0307"]
    return _replace_words(text, rng, lambda w: "".join(c + rng.choice(marks) for c in w), 0.5)


def mixed_separators(text: str, rng: random.Random) -> str:
    def split(word: str) -> str:
        gaps = [" ", "*", "/", "~", "\u200d", "|"]
        return word[0] + "".join(rng.choice(gaps) + c for c in word[1:])

    return _replace_words(text, rng, split, 0.3)


def symbol_leet(text: str, rng: random.Random) -> str:
    def leet(word: str) -> str:
        return "".join(_LEET_MORE.get(c, c) if rng.random() < 0.6 else c for c in word)

    return _replace_words(text, rng, leet, 0.5)


FRESH_EVASIONS = [
    greek_armenian, cherokee_capitals, math_letters, combining_marks, mixed_separators, symbol_leet
]  # fmt: skip


def build(seeds: Path, out: Path, *, variant_every: int, label_of, fresh: bool = False) -> int:
    rng = random.Random(1706 if fresh else 17)
    tricks = FRESH_EVASIONS if fresh else EVASIONS
    rows, made = [], 0
    for group, prompts in yaml.safe_load(seeds.read_text()).items():
        for index, prompt in enumerate(prompts):
            split = "fresh" if fresh else "held_out" if index % 3 == 2 else "tune"
            base = {"label": label_of(group), "group": group, "split": split}
            rows.append({"prompt": prompt, **base, "evasion": "none"})
            if index % variant_every == 0:
                trick = tricks[made % len(tricks)]
                made += 1
                rows.append({"prompt": trick(prompt, rng), **base, "evasion": trick.__name__})
    out.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows))
    return len(rows)


def main() -> None:
    harmful = build(
        HERE / "harmful_seeds.yaml", HERE / "harmful.jsonl", variant_every=2, label_of=str
    )
    benign = build(
        HERE / "benign_seeds.yaml", HERE / "benign.jsonl", variant_every=5,
        label_of=lambda _: "benign",
    )  # fmt: skip
    print(f"harmful: {harmful} prompts, benign: {benign} prompts")
    fresh_harmful = build(
        HERE / "fresh_harmful_seeds.yaml", HERE / "fresh_harmful.jsonl", variant_every=2,
        label_of=str, fresh=True,
    )  # fmt: skip
    fresh_benign = build(
        HERE / "fresh_benign_seeds.yaml", HERE / "fresh_benign.jsonl", variant_every=5,
        label_of=lambda _: "benign", fresh=True,
    )  # fmt: skip
    print(f"fresh held-out: harmful {fresh_harmful} prompts, benign {fresh_benign} prompts")


if __name__ == "__main__":
    main()
