"""The hash chain without Django: how links are hashed and how verify_chain names the first
broken link."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

from audit.chain import (
    GENESIS_HASH,
    ChainLink,
    canonical_json,
    event_hash,
    format_time,
    verify_chain,
)


def build_chain(count: int) -> list[ChainLink]:
    links, prev = [], GENESIS_HASH
    for seq in range(1, count + 1):
        payload = {"seq": seq, "action": f"thing.{seq}", "data": {"n": seq, "tags": ["a", "é"]}}
        link = ChainLink(seq, prev, event_hash(prev, payload), payload)
        links.append(link)
        prev = link.hash
    return links


def test_canonical_json_is_independent_of_key_order_and_whitespace():
    expected = '{"a":{"x":"é","y":2},"b":1}'.encode()
    assert canonical_json({"b": 1, "a": {"y": 2, "x": "é"}}) == expected
    assert event_hash("0" * 64, {"a": 1, "b": 2}) == event_hash("0" * 64, {"b": 2, "a": 1})


def test_hash_covers_prev_hash_and_payload():
    base = event_hash(GENESIS_HASH, {"a": 1})
    assert len(base) == 64 and int(base, 16) >= 0
    assert event_hash("1" * 64, {"a": 1}) != base
    assert event_hash(GENESIS_HASH, {"a": 2}) != base


def test_format_time_is_utc_with_microseconds():
    local = datetime(2024, 5, 1, 14, 0, 0, 5, tzinfo=timezone(timedelta(hours=2)))
    assert format_time(local) == "2024-05-01T12:00:00.000005+00:00"
    assert format_time(local.astimezone(UTC)) == format_time(local)


def test_empty_chain_is_ok_at_genesis():
    result = verify_chain([])
    assert result.ok and result.checked == 0 and result.first_bad_seq is None
    assert result.head_hash == GENESIS_HASH


def test_intact_chain_is_ok_and_reports_its_head():
    links = build_chain(10)
    result = verify_chain(links)
    assert result.ok and result.checked == 10
    assert result.head_hash == links[-1].hash
    assert result.reason is None


def test_tampered_payload_is_named():
    links = build_chain(10)
    tampered = replace(links[5], payload={**links[5].payload, "action": "thing.forged"})
    links[5] = tampered
    result = verify_chain(links)
    assert not result.ok
    assert result.first_bad_seq == 6
    assert result.reason == "hash does not match the event's content"
    # The head reported is the last good link's hash.
    assert result.head_hash == links[4].hash


def test_tampered_nested_data_is_named():
    links = build_chain(5)
    links[2] = replace(links[2], payload={**links[2].payload, "data": {"n": 3, "tags": ["a"]}})
    result = verify_chain(links)
    assert (result.ok, result.first_bad_seq) == (False, 3)


def test_seq_gap_is_named():
    links = build_chain(10)
    del links[3]  # seq 4 removed
    result = verify_chain(links)
    assert not result.ok
    assert result.first_bad_seq == 5
    assert result.reason == "seq 4 is missing"


def test_chain_not_starting_at_one_is_named():
    links = build_chain(3)[1:]
    result = verify_chain(links)
    assert (result.ok, result.first_bad_seq, result.reason) == (False, 2, "seq 1 is missing")


def test_prev_hash_mismatch_is_named():
    links = build_chain(10)
    # A link re-hashed consistently with itself, but chained to the wrong predecessor.
    bogus_prev = "f" * 64
    links[7] = ChainLink(8, bogus_prev, event_hash(bogus_prev, links[7].payload), links[7].payload)
    result = verify_chain(links)
    assert not result.ok
    assert result.first_bad_seq == 8
    assert result.reason == "prev_hash does not match the previous hash"
    assert result.head_hash == links[6].hash


def test_rehashed_forgery_breaks_the_next_link():
    """A forger who recomputes the tampered link's hash is caught at the following link."""
    links = build_chain(6)
    payload = {**links[2].payload, "action": "thing.forged"}
    links[2] = ChainLink(3, links[2].prev_hash, event_hash(links[2].prev_hash, payload), payload)
    result = verify_chain(links)
    assert (result.ok, result.first_bad_seq) == (False, 4)
    assert result.reason == "prev_hash does not match the previous hash"


def test_first_break_wins():
    links = build_chain(10)
    links[8] = replace(links[8], payload={"forged": True})
    del links[2]
    result = verify_chain(links)
    assert (result.first_bad_seq, result.reason) == (4, "seq 3 is missing")


def test_verify_consumes_a_generator():
    links = build_chain(4)
    result = verify_chain(link for link in links)
    assert result.ok and result.checked == 4
