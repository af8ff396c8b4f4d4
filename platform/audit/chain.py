"""The audit hash chain, without Django: hash = sha256(prev_hash ‖ canonical JSON of the event)."""

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

GENESIS_HASH = "0" * 64


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_json(payload: dict) -> bytes:
    # Sorted keys, no whitespace, UTF-8: the same event always hashes the same way on any
    # database and any Python.
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def event_hash(prev_hash: str, payload: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_json(payload)).hexdigest()


@dataclass(frozen=True)
class ChainLink:
    seq: int
    prev_hash: str
    hash: str
    payload: dict


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    first_bad_seq: int | None
    head_hash: str
    reason: str | None = None


def verify_chain(links: Iterable[ChainLink]) -> VerifyResult:
    """Walks the links in seq order and names the first one that breaks the chain."""
    expected_prev = GENESIS_HASH
    expected_seq = 1
    checked = 0
    for link in links:
        checked += 1
        if link.seq != expected_seq:
            return VerifyResult(
                False, checked, link.seq, expected_prev, f"seq {expected_seq} is missing"
            )
        if link.prev_hash != expected_prev:
            return VerifyResult(
                False,
                checked,
                link.seq,
                expected_prev,
                "prev_hash does not match the previous hash",
            )
        if event_hash(link.prev_hash, link.payload) != link.hash:
            return VerifyResult(
                False, checked, link.seq, expected_prev, "hash does not match the event's content"
            )
        expected_prev = link.hash
        expected_seq += 1
    return VerifyResult(True, checked, None, expected_prev)
