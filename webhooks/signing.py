"""The signature on every webhook request (README "Webhooks"), without Django so a receiver can
copy it: `Mintmark-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, where each v1 is
HMAC-SHA256(secret, "<t>." + body) in lowercase hex. There are two v1 values only while a rotated
secret's overlap lasts; a receiver accepts the request if any one matches its secret and t is
within its replay window."""

import hashlib
import hmac
import time

HEADER = "Mintmark-Signature"
DEFAULT_TOLERANCE_S = 300


def signature(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: list[str], timestamp: int, body: bytes) -> str:
    return ",".join([f"t={timestamp}", *(f"v1={signature(s, timestamp, body)}" for s in secrets)])


def verify(
    header: str,
    body: bytes,
    secret: str,
    *,
    tolerance_s: int = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """What a receiver does: the header parses, its timestamp is within `tolerance_s` of now
    (an old request replayed later is refused), and one v1 matches, compared in constant time."""
    timestamp, candidates = None, []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = signature(secret, timestamp, body)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)
