"""Who signs content credentials: a small interface so the key can live in a file (the
default, ``keys.py``) or in a KMS/HSM reached through a callback.

c2pa-python hands the signer the bytes to sign (the COSE ``Sig_structure``) and takes the
signature back. For ES256/384/512 both encodings work: the raw ``r || s`` that COSE stores and
the DER that most KMS APIs and ``cryptography`` return (c2pa-rs converts DER in
``crypto/cose/sign.rs``). c2pa-rs verifies every signature it embeds before writing the file
(``verify.verify_after_sign``), so a signer that answers with the wrong key fails here instead
of shipping a file that will not validate.
"""

import base64
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import c2pa
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from provenance import keys

PASSPHRASE_INFO = b"mintmark signing key"


class SigningFailed(RuntimeError):
    """Content credentials could not be signed; nothing signed may be released."""


class ContentSigner(Protocol):
    """Signs C2PA claims. ``sign`` gets the bytes to sign and returns the signature: for ES*
    algorithms raw ``r || s`` or DER; any exception it raises becomes SigningFailed."""

    alg: c2pa.C2paSigningAlg
    certificate_chain_pem: bytes

    def sign(self, data: bytes) -> bytes: ...


def _check_chain(chain_pem: bytes) -> None:
    # Fail at construction, where the misconfiguration is, rather than at the first release.
    try:
        certs = x509.load_pem_x509_certificates(chain_pem)
    except ValueError as exc:
        raise ValueError(f"certificate chain is not PEM certificates: {exc}") from None
    if not certs:
        raise ValueError("certificate chain is empty")


@dataclass(frozen=True)
class CallbackSigner:
    """Signs through ``sign_fn`` (a KMS or HSM call): the private key never enters this process.
    ``certificate_chain_pem`` is the signing certificate followed by its issuers."""

    certificate_chain_pem: bytes
    sign_fn: Callable[[bytes], bytes] = field(repr=False)
    alg: c2pa.C2paSigningAlg = c2pa.C2paSigningAlg.ES256

    def __post_init__(self) -> None:
        _check_chain(self.certificate_chain_pem)

    def sign(self, data: bytes) -> bytes:
        return self.sign_fn(data)


class FileKeySigner:
    """Signs with an organization's key file from ``keys.py``, decrypted into memory only."""

    alg = c2pa.C2paSigningAlg.ES256

    def __init__(self, chain_pem: bytes, private_key: ec.EllipticCurvePrivateKey):
        if not isinstance(private_key, ec.EllipticCurvePrivateKey) or not isinstance(
            private_key.curve, ec.SECP256R1
        ):
            raise ValueError("ES256 needs a P-256 private key")
        _check_chain(chain_pem)
        self.certificate_chain_pem = chain_pem
        self._key = private_key

    @classmethod
    def for_org(cls, base: Path, slug: str, passphrase: bytes) -> "FileKeySigner":
        """The organization's current key; raises keys.KeyMissing (or its KeyLocked)."""
        return cls(*keys.org_signing_material(base, slug, passphrase))

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, ec.ECDSA(hashes.SHA256()))

    def __repr__(self) -> str:
        return f"FileKeySigner(alg={self.alg.name})"


class _Callback:
    """Keeps the signer's own exception: c2pa only learns "no signature" and would otherwise
    log the message itself."""

    def __init__(self, signer: ContentSigner):
        self.signer = signer
        self.error: BaseException | None = None

    def __call__(self, data: bytes) -> bytes:
        try:
            signature = self.signer.sign(data)
        except Exception as exc:  # noqa: BLE001 - any signer failure must fail the signing
            self.error = exc
            return b""
        if not isinstance(signature, bytes | bytearray) or not signature:
            self.error = SigningFailed("the signer returned no signature")
            return b""
        return bytes(signature)


@contextmanager
def to_c2pa_signer(signer: ContentSigner) -> Iterator[c2pa.Signer]:
    """A ``c2pa.Signer`` calling ``signer``, for use inside the ``with`` block only. Any c2pa
    error inside the block becomes SigningFailed, whose ``__cause__`` is the signer's own
    exception when the signer failed."""
    callback = _Callback(signer)
    try:
        native = c2pa.Signer.from_callback(
            callback, signer.alg, signer.certificate_chain_pem.decode("ascii")
        )
    except (c2pa.C2paError, UnicodeDecodeError) as exc:
        raise SigningFailed(f"c2pa refused the signer: {exc}") from exc
    try:
        yield native
    except c2pa.C2paError as exc:
        if callback.error is not None:
            raise SigningFailed(f"the signer failed: {callback.error}") from callback.error
        raise SigningFailed(f"c2pa could not sign: {exc}") from exc
    finally:
        native.close()


def signing_passphrase() -> bytes:
    """The passphrase that encrypts the key files: ``settings.SIGNING_KEY_PASSPHRASE``
    (MINTMARK_SIGNING_KEY_PASSPHRASE) when set, else derived from SECRET_KEY with HKDF-SHA256.
    Changing SECRET_KEY without setting the passphrase makes existing key files unreadable."""
    from django.conf import settings

    configured = getattr(settings, "SIGNING_KEY_PASSPHRASE", None)
    if configured:
        return configured.encode() if isinstance(configured, str) else bytes(configured)
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=PASSPHRASE_INFO).derive(
        settings.SECRET_KEY.encode()
    )
    # Text, so an operator can open a key file with openssl using the same value.
    return base64.urlsafe_b64encode(derived)
