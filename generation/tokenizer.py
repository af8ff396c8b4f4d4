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
import tempfile
from pathlib import Path

from transformers import CLIPTokenizer

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
