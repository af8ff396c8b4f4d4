"""API token secrets: random, shown once, stored only as SHA-256."""

import hashlib
import secrets

TOKEN_PREFIX = "mm_"  # noqa: S105 - a public prefix that lets scanners spot leaked tokens


def token_generate() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()
