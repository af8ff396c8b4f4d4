"""The address a request comes from, as the rate limits and the login lockout count it.

X-Forwarded-For is written by whoever sends it, so it is believed only from a proxy the
operator named in MINTMARK_TRUSTED_PROXIES; otherwise any client could pick a fresh address for
every request and never be limited."""

import ipaddress
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

# One IPv6 host is usually given a whole /64, so a finer key would let it rotate addresses.
IPV6_PREFIX = 64


@cache
def proxy_networks(names: tuple[str, ...]) -> tuple:
    networks = []
    for name in names:
        try:
            networks.append(ipaddress.ip_network(name, strict=False))
        except ValueError:
            raise ImproperlyConfigured(
                f"MINTMARK_TRUSTED_PROXIES: {name!r} is not an IP address or network"
            ) from None
    return tuple(networks)


def _address(text: str):
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(address, networks) -> bool:
    return any(address in network for network in networks)


def _key(address) -> str:
    if address.version == 6:
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        network = ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False)
        return str(network.network_address)
    return str(address)


def client_ip(request) -> str:
    """The client's address (an IPv6 client's /64 network). Behind trusted proxies, the
    right-most X-Forwarded-For entry that is not one of them: each proxy appends the address it
    saw, so entries left of that one are the client's own claims. A client inside the proxies'
    own networks is the left-most of them."""
    remote = _address(request.META.get("REMOTE_ADDR", ""))
    if remote is None:
        # No socket address: a Unix socket behind a proxy that is not configured as trusted.
        return "0.0.0.0"  # noqa: S104 - a bucket key, not a bind address
    networks = proxy_networks(tuple(settings.TRUSTED_PROXIES))
    if not _trusted(remote, networks):
        return _key(remote)
    hops = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
    candidate = remote
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            # A trusted proxy appends only addresses; garbage here was sent by the client.
            break
        candidate = address
        if not _trusted(address, networks):
            break
    return _key(candidate)
