import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import RequestFactory

from throttle.client import client_ip
from throttle.limits import rates_check


def request(remote="127.0.0.1", forwarded=None):
    extra = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        extra["HTTP_X_FORWARDED_FOR"] = forwarded
    return RequestFactory().get("/", **extra)


def test_the_socket_address_counts_without_trusted_proxies(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("192.0.2.1", "203.0.113.5")) == "192.0.2.1"


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("203.0.113.5", "203.0.113.5"),
        # The client's own claims are left of what the proxies appended.
        ("1.1.1.1, 203.0.113.5", "203.0.113.5"),
        ("garbage, 203.0.113.5, 10.0.0.2", "203.0.113.5"),
        # Only proxies: the left-most, as the first proxy saw it.
        ("10.0.0.3, 10.0.0.2", "10.0.0.3"),
        # Nothing forwarded, or only garbage: the proxy itself.
        ("", "10.0.0.1"),
        ("not-an-ip", "10.0.0.1"),
    ],
)
def test_behind_trusted_proxies_the_right_most_untrusted_hop_counts(settings, forwarded, client):
    settings.TRUSTED_PROXIES = ["10.0.0.0/8"]
    assert client_ip(request("10.0.0.1", forwarded)) == client


def test_ipv6_clients_count_by_their_64_network(settings):
    settings.TRUSTED_PROXIES = []
    assert client_ip(request("2001:db8:1:2:aaaa::1")) == "2001:db8:1:2::"
    assert client_ip(request("::ffff:192.0.2.9")) == "192.0.2.9"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("RATE_VERIFY", "20"),
        ("RATE_LOGIN", "0/m"),
        ("RATE_PUBLIC", "10/0m"),
        ("RATE_BAD_TOKEN", "lots"),
        ("TRUSTED_PROXIES", ["10.0.0.0/33"]),
    ],
)
def test_bad_settings_stop_the_process(settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured):
        rates_check()


def test_off_and_multiples_are_accepted(settings):
    settings.RATE_VERIFY = "off"
    settings.RATE_BAD_TOKEN = "30/15m"
    rates_check()
