"""One webhook request, without Django: resolve and check the host now, connect to the checked
address (TLS still verifies the certificate against the host name), POST the body, and never
follow a redirect (a 3xx is a failed attempt: following it would leave the allow-list)."""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass

from webhooks.addresses import Refused, Target, addresses_resolve

# Read at most this much of an answer; receivers are meant to answer quickly and briefly.
MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "Mintmark-Webhooks/1"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str
    duration_ms: float

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def _connection(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        conn = http.client.HTTPSConnection(
            target.host, target.port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(target.host, target.port, timeout=timeout)

    # http.client connects to (host, port) through this hook and afterwards uses `host` for the
    # Host header and the TLS server name, so pinning the address here changes nothing else.
    def connect_checked(_address, timeout=timeout, source_address=None):
        return socket.create_connection((address, target.port), timeout, source_address)

    conn._create_connection = connect_checked
    return conn


def post(
    target: Target, body: bytes, headers: dict[str, str], *, allow_private: bool, timeout: float
) -> Outcome:
    started = time.monotonic()

    def outcome(status_code: int | None, error: str = "") -> Outcome:
        return Outcome(status_code, error, (time.monotonic() - started) * 1000)

    try:
        addresses = addresses_resolve(target, allow_private=allow_private)
    except Refused as exc:
        return outcome(None, str(exc))
    errors = []
    for address in addresses:
        conn = _connection(target, address, timeout)
        try:
            conn.request(
                "POST",
                target.path,
                body=body,
                headers={
                    "Content-Type": "application/json",
                    "User-Agent": USER_AGENT,
                    **headers,
                },
            )
        except (OSError, http.client.HTTPException) as exc:
            # Not connected or not sent: the next address of the name may answer.
            errors.append(f"{address}: {type(exc).__name__}: {exc}")
            conn.close()
            continue
        try:
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            # Sent: another address would be a second delivery, so this attempt ends here.
            return outcome(None, f"{address}: no answer: {type(exc).__name__}: {exc}")
        finally:
            conn.close()
        if 300 <= response.status < 400:
            return outcome(response.status, "redirects are not followed")
        if not 200 <= response.status < 300:
            return outcome(response.status, f"answered {response.status} {response.reason}")
        return outcome(response.status)
    return outcome(None, "; ".join(errors) or "no address to connect to")
