"""The org's webhook signing secret at rest. HMAC needs the secret itself on the sending side,
so it cannot be stored as a one-way hash like an API token: it is kept encrypted (Fernet:
AES-128-CBC with HMAC-SHA256) under MINTMARK_WEBHOOK_KEY(_FILE), else a key derived from
SECRET_KEY with HKDF-SHA256, so a copy of the database alone does not reveal it."""

import base64
import secrets

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

INFO = b"mintmark webhook secrets v1"
PREFIX = "whsec_"
# What the portal and API show of a stored secret after it was handed out once.
HINT_CHARS = len(PREFIX) + 4


class SecretUnreadable(Exception):
    pass


def _fernet() -> Fernet:
    material = (settings.WEBHOOK_KEY or settings.SECRET_KEY).encode()
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO).derive(material)
    return Fernet(base64.urlsafe_b64encode(key))


def secret_new() -> str:
    return PREFIX + secrets.token_urlsafe(32)


def secret_seal(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def secret_open(sealed: str) -> str:
    try:
        return _fernet().decrypt(sealed.encode()).decode()
    except InvalidToken:
        raise SecretUnreadable(
            "The webhook secret cannot be decrypted: MINTMARK_WEBHOOK_KEY or SECRET_KEY changed "
            "since it was made. An admin must rotate it."
        ) from None


def secret_hint(secret: str) -> str:
    return secret[:HINT_CHARS] + "…"
