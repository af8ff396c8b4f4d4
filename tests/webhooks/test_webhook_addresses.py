"""Where callbacks may go and how they are signed, without Django or a database."""

import hashlib
import hmac

import pytest

from webhooks import signing
from webhooks.addresses import (
    Refused,
    Target,
    address_refusal,
    addresses_resolve,
    allow_entry_normalize,
    host_allowed,
    target_parse,
)


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("10.1.2.3", "private"),
        ("172.16.0.1", "private"),
        ("192.168.1.1", "private"),
        ("169.254.169.254", "link-local"),
        ("fe80::1", "link-local"),
        ("224.0.0.1", "multicast"),
        ("ff02::1", "multicast"),
        ("0.0.0.0", "unspecified"),  # noqa: S104 - an address checked, not bound
        ("240.0.0.1", "private"),
        ("100.64.0.1", "not globally routable"),
        ("::ffff:127.0.0.1", "loopback"),
        ("fc00::1", "private"),
        # 6to4 (2002::/16) carries an IPv4 address that a 6to4 relay or tunnel delivers to.
        ("2002:7f00:1::", "loopback"),
        ("2002:a9fe:a9fe::1", "link-local"),
        ("2002:a00:1::", "private"),
    ],
)
def test_internal_addresses_are_refused(address, kind):
    assert address_refusal(address) == f"{address} is a {kind} address"


@pytest.mark.parametrize("address", ["93.184.216.34", "8.8.8.8", "2606:4700::1111"])
def test_public_addresses_may_be_called(address):
    assert address_refusal(address) is None


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://hooks.example.com/x", "must be http or https, not 'ftp'"),
        ("file:///etc/passwd", "must be http or https"),
        ("hooks.example.com/x", "must be http or https, not 'none'"),
        ("http://user:pw@hooks.example.com/", "user name or password"),
        ("http:///x", "has no host"),
        ("http://hooks.example.com:99999/", "port"),
        ("http://hooks.example.com/a b", "spaces or control characters"),
        ("http://bad_host!.com/", "not a valid host name"),
        ("http://x.com/" + "a" * 2000, "over 2000 characters"),
        ("http://[::1/", "cannot be read"),
        ("http://x.com/bücher", "must be ASCII"),
    ],
)
def test_bad_urls_are_refused_with_the_reason(url, reason):
    with pytest.raises(Refused, match=reason.replace("?", r"\?")):
        target_parse(url)


def test_url_parts_are_normalized():
    assert target_parse("HTTPS://Hooks.Example.COM./in?a=1") == Target(
        "https", "hooks.example.com", 443, "/in?a=1"
    )
    assert target_parse("http://[::1]:8080") == Target("http", "::1", 8080, "/")
    assert target_parse("http://bücher.example/").host == "xn--bcher-kva.example"


def test_allow_list_entries_match_exact_hosts_and_wildcard_subdomains():
    allowed = [allow_entry_normalize(e) for e in ("Hooks.Example.com", "*.Corp.Example")]
    assert allowed == ["hooks.example.com", "*.corp.example"]
    assert host_allowed("hooks.example.com", allowed)
    assert host_allowed("a.b.corp.example", allowed)
    assert not host_allowed("corp.example", allowed)
    assert not host_allowed("evilcorp.example", allowed)
    assert not host_allowed("hooks.example.com.evil.net", allowed)
    with pytest.raises(Refused):
        allow_entry_normalize("exa mple.com")


def test_names_resolving_to_internal_addresses_are_refused_unless_allowed():
    target = target_parse("http://localhost:8080/hook")
    with pytest.raises(Refused, match=r"localhost resolves to .* loopback address"):
        addresses_resolve(target, allow_private=False)
    assert "127.0.0.1" in addresses_resolve(target, allow_private=True)
    with pytest.raises(Refused, match="does not resolve"):
        addresses_resolve(target_parse("http://no-such-host.invalid/"), allow_private=True)


def test_a_receiver_verifies_the_signature_as_documented():
    body = b'{"id":"e1","type":"job.released"}'
    header = signing.signature_header(["whsec_new", "whsec_old"], 1_700_000_000, body)
    timestamp, new, _old = header.split(",")
    assert timestamp == "t=1700000000"
    # The README's recipe, written out independently of the module.
    expected = hmac.new(b"whsec_new", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert new == f"v1={expected}"
    now = 1_700_000_100
    assert signing.verify(header, body, "whsec_new", now=now)
    assert signing.verify(header, body, "whsec_old", now=now)
    assert not signing.verify(header, body, "whsec_other", now=now)
    assert not signing.verify(header, body + b" ", "whsec_new", now=now)
    # Replayed after the window (5 minutes by default), or from the future.
    assert not signing.verify(header, body, "whsec_new", now=1_700_000_000 + 301)
    assert not signing.verify(header, body, "whsec_new", now=1_700_000_000 - 301)
    assert not signing.verify("v1=" + expected, body, "whsec_new", now=now)
    assert not signing.verify("t=1700000000", body, "whsec_new", now=now)
