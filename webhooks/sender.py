"""One webhook request, without Django: resolve and check the host now, connect to the checked
address (TLS still verifies the certificate against the host name), POST the body, and never
follow a redirect (a 3xx is a failed attempt: following it would leave the allow-list). The
whole attempt, every address of the name included, ends at `timeout`: a socket timeout alone
bounds each read, and a receiver sending a byte now and then would hold the worker for ever."""

import http.client
import socket
import ssl
import threading
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


class _Cutoff:
    """Shuts the connection's socket down once `seconds` have passed, which ends a read or
    write blocked on it in the worker's thread with an error."""

    def __init__(self, conn: http.client.HTTPConnection, seconds: float):
        self.fired = False
        self._conn = conn
        self._timer = threading.Timer(seconds, self._cut)
        self._timer.daemon = True
        self._timer.start()

    def _cut(self) -> None:
        self.fired = True
        sock = self._conn.sock
        if sock is not None:
            # The plain socket's shutdown: SSLSocket's own would drop its TLS state under the
            # reading thread.
            try:
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
            except OSError:
                pass

    def cancel(self) -> None:
        self._timer.cancel()


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
    deadline = started + timeout
    for address in addresses:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            errors.append(f"no connection within {timeout:g} s")
            break
        conn = _connection(target, address, remaining)
        cutoff = _Cutoff(conn, remaining)
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
            cutoff.cancel()
            conn.close()
            if cutoff.fired:
                errors.append(f"{address}: not sent within {timeout:g} s")
                break
            errors.append(f"{address}: {type(exc).__name__}: {exc}")
            continue
        try:
            response = conn.getresponse()
            response.read(MAX_RESPONSE_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            # Sent: another address would be a second delivery, so this attempt ends here.
            if cutoff.fired:
                return outcome(None, f"{address}: no complete answer within {timeout:g} s")
            return outcome(None, f"{address}: no answer: {type(exc).__name__}: {exc}")
        finally:
            cutoff.cancel()
            conn.close()
        if 300 <= response.status < 400:
            return outcome(response.status, "redirects are not followed")
        if not 200 <= response.status < 300:
            return outcome(response.status, f"answered {response.status} {response.reason}")
        return outcome(response.status)
    return outcome(None, "; ".join(errors) or "no address to connect to")
