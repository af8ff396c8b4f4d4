"""Where a callback may go, without Django: URL shape, the org's allowed hosts, and the
addresses a host name resolves to. A callback is checked when a job is submitted and again when
each request is sent, against the addresses resolved at that moment; the request then connects to
exactly the address that was checked (sender.py), so a name that re-resolves to an internal
address between the check and the connection (DNS rebinding) gains nothing."""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 2000


class Refused(Exception):
    """The callback may not be used; the message says why, for the 422 or the attempt record."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str  # lower case, IDNA-encoded, no trailing dot
    port: int
    path: str  # path and query, as sent in the request line


def target_parse(url: str) -> Target:
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"The callback URL is over {MAX_URL_LENGTH} characters.")
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise Refused("The callback URL contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        hostname = parts.hostname
    except ValueError as exc:  # e.g. an unclosed "[" of an IPv6 address
        raise Refused(f"The callback URL cannot be read: {exc}.") from None
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise Refused(f"The callback URL must be http or https, not {parts.scheme or 'none'!r}.")
    if parts.username is not None or parts.password is not None:
        raise Refused("The callback URL may not carry a user name or password.")
    if not hostname:
        raise Refused("The callback URL has no host.")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise Refused("The callback URL's port is not a number from 1 to 65535.") from None
    if port == 0:
        raise Refused("The callback URL's port is not a number from 1 to 65535.")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    if not path.isascii():
        raise Refused("The callback URL's path and query must be ASCII (percent-encode the rest).")
    return Target(scheme=scheme, host=host_normalize(hostname), port=port, path=path)


def host_normalize(host: str) -> str:
    """A host name as compared with the allow-list: lower case, IDNA, no trailing dot; an IP
    address in its canonical form."""
    host = host.strip().rstrip(".").lower()
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise Refused(f"{host!r} is not a valid host name.") from None
    labels = ascii_host.split(".")
    if not all(label and len(label) <= 63 for label in labels) or not all(
        ch.isalnum() or ch == "-" for label in labels for ch in label
    ):
        raise Refused(f"{host!r} is not a valid host name.")
    return ascii_host


def allow_entry_normalize(entry: str) -> str:
    """One allow-list entry: a host name, an IP address, or `*.domain` for every host under
    the domain (not the domain itself)."""
    entry = entry.strip()
    if entry.startswith("*."):
        return "*." + host_normalize(entry[2:])
    return host_normalize(entry)


def host_allowed(host: str, allowed: list[str]) -> bool:
    for entry in allowed:
        if entry == host or (entry.startswith("*.") and host.endswith(entry[1:])):
            return True
    return False


def address_refusal(address: str) -> str | None:
    """Why an address may not be called (None when it may): anything not on the public
    internet, so a callback cannot reach the platform's own services or its network."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        # IPv4-mapped and 6to4 addresses reach the IPv4 address they carry.
        ip = ip.ipv4_mapped or ip.sixtofour or ip
    for kind, test in (
        ("loopback", ip.is_loopback),
        ("unspecified", ip.is_unspecified),
        ("link-local", ip.is_link_local),
        ("multicast", ip.is_multicast),
        ("private", ip.is_private),
        ("reserved", ip.is_reserved),
        ("not globally routable", not ip.is_global),
    ):
        if test:
            return f"{address} is a {kind} address"
    return None


def addresses_resolve(target: Target, *, allow_private: bool) -> list[str]:
    """The addresses to connect to; refused if the name does not resolve or if any address it
    resolves to is internal (a name that mixes public and internal answers is not trusted)."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Refused(f"{target.host} does not resolve: {exc}.") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow_private:
        for address in addresses:
            reason = address_refusal(address)
            if reason is not None:
                raise Refused(f"{target.host} resolves to {reason}; callbacks go to public hosts.")
    return addresses
