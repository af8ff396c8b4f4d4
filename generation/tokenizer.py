"""A CLIP BPE tokenizer built offline from the vocabulary that open-clip-torch ships (plain module,
no Django, no downloads).

`bpe_simple_vocab_16e6.txt.gz` holds a header line and then the BPE merges; CLIP uses the first
48 894 of them. Its vocabulary is the 256 byte-level symbols, the same symbols with `</w>`, the
joined merges, then `<|startoftext|>` and `<|endoftext|>`: 49 408 entries, the ids every released
CLIP text encoder was trained with. open_clip itself is never imported: its package imports
torchvision, which is not installed here; only the data file inside it is read."""

import functools
import gzip
import importlib.util
import json
import string
import tempfile
from pathlib import Path

from tokenizers import Tokenizer, decoders, pre_tokenizers, processors
from tokenizers.models import Unigram
from transformers import CLIPTokenizer, PreTrainedTokenizerFast

VOCAB_FILE_NAME = "bpe_simple_vocab_16e6.txt.gz"
VOCAB_SIZE = 49_408
_MERGES = VOCAB_SIZE - 256 * 2 - 2  # 48 894
BOS, EOS = "<|startoftext|>", "<|endoftext|>"


class TokenizerUnavailable(RuntimeError):
    pass


def _bytes_to_unicode() -> list[str]:
    # GPT-2 / CLIP byte-level alphabet: printable bytes map to themselves, the rest to code
    # points from 256 upwards, in byte order.
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    symbols = {byte: chr(byte) for byte in printable}
    extra = 0
    for byte in range(256):
        if byte not in symbols:
            symbols[byte] = chr(256 + extra)
            extra += 1
    # Ordered like CLIP's own table: printable bytes first, then the remapped ones.
    return [symbols[byte] for byte in printable] + [
        symbols[byte] for byte in range(256) if byte not in printable
    ]


def bpe_vocab_path() -> Path:
    """Where open-clip-torch keeps its BPE vocabulary, found without importing the package."""
    spec = importlib.util.find_spec("open_clip")
    if spec is None or not spec.submodule_search_locations:
        raise TokenizerUnavailable("open-clip-torch is not installed")
    for location in spec.submodule_search_locations:
        path = Path(location) / VOCAB_FILE_NAME
        if path.is_file():
            return path
    raise TokenizerUnavailable(f"open-clip-torch has no {VOCAB_FILE_NAME}")


@functools.cache
def _vocab_and_merges() -> tuple[dict[str, int], tuple[str, ...]]:
    with gzip.open(bpe_vocab_path(), "rt", encoding="utf-8") as handle:
        lines = handle.read().split("\n")
    merges = tuple(lines[1 : 1 + _MERGES])
    if len(merges) != _MERGES or any(len(merge.split()) != 2 for merge in merges):
        raise TokenizerUnavailable(f"{VOCAB_FILE_NAME} does not hold {_MERGES} merges")
    symbols = _bytes_to_unicode()
    tokens = [
        *symbols,
        *(symbol + "</w>" for symbol in symbols),
        *("".join(merge.split()) for merge in merges),
        BOS,
        EOS,
    ]
    return {token: index for index, token in enumerate(tokens)}, merges


def write_clip_vocab(folder: Path) -> Path:
    """Writes `vocab.json` and `merges.txt` into `folder`, the files `CLIPTokenizer` loads."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab, merges = _vocab_and_merges()
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    (folder / "merges.txt").write_text(
        "#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8"
    )
    return folder


def clip_tokenizer(max_length: int = 77) -> CLIPTokenizer:
    """CLIP's tokenizer, padded and truncated to `max_length` tokens. Memoized: treat the result
    as read-only (pipelines only read it, and `save_pretrained` copies it)."""
    if max_length < 3:
        raise ValueError("max_length must be at least 3")
    return _clip_tokenizer(max_length)


@functools.cache
def _clip_tokenizer(max_length: int) -> CLIPTokenizer:
    with tempfile.TemporaryDirectory(prefix="mintmark-clip-") as folder:
        write_clip_vocab(Path(folder))
        # model_max_length must be given: without it the tokenizer's maximum is "infinite" and
        # diffusers' padding to it fails with `OverflowError: int too big to convert`.
        return CLIPTokenizer.from_pretrained(folder, model_max_length=max_length)


# A tiny T5 (SentencePiece Unigram) vocabulary for tests and the dev demo: T5's fixed ids for
# <pad> (0), </s> (1) and <unk> (2), then each ASCII letter, digit and common punctuation mark,
# alone and word-initial ("▁a"), so every such text tokenizes without <unk>. A real SD3 or Flux
# folder ships its own T5 tokenizer (tokenizer_3/ or tokenizer_2/ with tokenizer.json), which is
# what is loaded from it; this one exists only because no T5 vocabulary is installed offline.
_T5_SPECIALS = ("<pad>", "</s>", "<unk>")
_T5_CHARACTERS = string.ascii_letters + string.digits + ".,!?'-:;()"


def _t5_vocab() -> list[tuple[str, float]]:
    pieces = [(token, 0.0) for token in _T5_SPECIALS]
    pieces.append(("▁", -2.0))
    # Word-initial pieces score higher, so "▁a" is preferred to "▁" + "a", as in T5's own model.
    pieces += [("▁" + char, -3.0) for char in _T5_CHARACTERS]
    pieces += [(char, -4.0) for char in _T5_CHARACTERS]
    return pieces


T5_VOCAB_SIZE = len(_T5_SPECIALS) + 1 + 2 * len(_T5_CHARACTERS)


def tiny_t5_tokenizer(max_length: int = 256) -> PreTrainedTokenizerFast:
    """A T5 tokenizer over the tiny vocabulary above, padded and truncated to `max_length`;
    `save_pretrained` writes it as tokenizer.json, which loads back offline. Built the way
    transformers builds T5's (Unigram, Metaspace, "</s>" appended) from the `tokenizers`
    library directly, which works with transformers 4 and 5 alike (the GPU machine's bench runs
    whichever it has)."""
    raw = Tokenizer(Unigram(_t5_vocab(), unk_id=2, byte_fallback=False))
    raw.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always", split=True),
        ]
    )
    raw.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always", split=True)
    raw.post_processor = processors.TemplateProcessing(
        single=["$A", "</s>"], pair=["$A", "</s>", "$B", "</s>"], special_tokens=[("</s>", 1)]
    )
    pad, eos_token, unk = _T5_SPECIALS
    return PreTrainedTokenizerFast(
        tokenizer_object=raw,
        eos_token=eos_token,
        unk_token=unk,
        pad_token=pad,
        model_max_length=max_length,
    )
