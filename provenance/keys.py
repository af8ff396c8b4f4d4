"""Signing keys for content credentials: one local CA per installation and one signing
certificate per organization, kept as files under a base folder (the platform passes
``DATA_DIR / "keys"``).

Layout::

    ca/root-cert.pem          the installation's root (the trust anchor verify uses)
    ca/root-key.pem           its private key, PKCS#8, encrypted
    <org-slug>/signing-cert.pem    the org's current ES256 signing certificate
    <org-slug>/signing-chain.pem   that certificate followed by the root (what C2PA embeds)
    <org-slug>/signing-key.pem     its private key, PKCS#8, encrypted
    <org-slug>/retired/<serial-hex>/signing-cert.pem, signing-chain.pem   after rotation

The org files never share a name with the CA's, so even an organization whose slug is ``ca``
cannot overwrite the root. Private keys only exist in clear inside this process, in memory, on
their way to a signer; files are written with mode 0600 in 0700 folders. Writers take an
exclusive lock on the folder and readers a shared one, so a worker never pairs a new key with
an old certificate while ``rotate`` runs.

The leaf follows the C2PA certificate profile as c2pa-rs checks it (``certificate_profile.rs``):
X.509 v3, not a CA, keyUsage critical with digitalSignature, extendedKeyUsage present (without
anyExtendedKeyUsage) naming id-kp-emailProtection and id-kp-documentSigning (both accepted
by default), an authority key identifier, and an ECDSA signature from the issuer.
"""

import fcntl
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

ROOT_CERT = "ca/root-cert.pem"
ROOT_KEY = "ca/root-key.pem"
CERT_FILE = "signing-cert.pem"
CHAIN_FILE = "signing-chain.pem"
KEY_FILE = "signing-key.pem"
RETIRED_DIR = "retired"
LOCK_FILE = ".lock"

ROOT_VALIDITY = timedelta(days=3650)
# No time-stamp authority is reachable offline, so c2pa checks the certificate against the
# time of reading: credentials stay trusted only while it is valid (README: "Provenance").
SIGNING_VALIDITY = timedelta(days=5 * 365)
# Clocks of the machines that validate drift; a certificate valid from "now" would be rejected
# as not yet valid by a verifier a few minutes behind.
BACKDATE = timedelta(minutes=5)
# X.520 upper bound for commonName and organizationName.
NAME_MAX = 64
CN_SUFFIX = " Mintmark content signing"

# Slugs become folder names: nothing that could climb out of the base folder or hide.
_SLUG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,99}$")


class KeyMissing(RuntimeError):
    """No usable signing key: a certificate or key file does not exist (provenance_init has
    not run), or see KeyLocked."""


class KeyLocked(KeyMissing):
    """A key file exists but cannot be used: wrong passphrase, damaged file, or a key that does
    not belong to its certificate. A subclass of KeyMissing because for a signer the outcome is
    the same: nothing can be signed."""


@dataclass(frozen=True)
class CertInfo:
    """The public facts of one certificate, as operators and auditors see them."""

    subject: str
    issuer: str
    serial_hex: str
    sha256: str
    not_before: datetime
    not_after: datetime
    path: Path
    pem: bytes

    @classmethod
    def from_pem(cls, pem: bytes, path: Path) -> "CertInfo":
        cert = x509.load_pem_x509_certificate(pem)
        return cls(
            subject=cert.subject.rfc4514_string(),
            issuer=cert.issuer.rfc4514_string(),
            serial_hex=serial_hex(cert.serial_number),
            sha256=hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest(),
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            path=path,
            pem=pem,
        )


@dataclass(frozen=True)
class KeyInfo:
    """An organization's current signing certificate and where its files are."""

    slug: str
    cert: CertInfo
    chain_path: Path
    key_path: Path
    created: bool


class SigningMaterial(NamedTuple):
    """What a signer needs: the chain to embed and the private key, decrypted in memory."""

    chain_pem: bytes
    private_key: ec.EllipticCurvePrivateKey


def certificate_info(pem: bytes) -> CertInfo:
    """The facts of the first certificate in ``pem`` (a signing chain's leaf), for records."""
    leaf = x509.load_pem_x509_certificates(pem)[0]
    return CertInfo.from_pem(leaf.public_bytes(serialization.Encoding.PEM), Path())


def serial_hex(serial: int) -> str:
    """The serial number as the lowercase hex that names retired folders and audit records."""
    return f"{serial:x}"


def _check_slug(slug: str) -> None:
    if not _SLUG.match(slug):
        raise ValueError(f"not a usable organization slug: {slug!r}")


@contextmanager
def _locked(base: Path, *, exclusive: bool) -> Iterator[None]:
    if exclusive:
        base.mkdir(mode=0o700, parents=True, exist_ok=True)
    elif not base.is_dir():
        raise KeyMissing(f"{base} does not exist (run manage.py provenance_init)")
    fd = os.open(base / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)


def _write_private(path: Path, data: bytes) -> None:
    """Writes a file readable by its owner only, atomically (a crash leaves the old file or
    the new one, never half of one)."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise KeyMissing(f"{path} does not exist (run manage.py provenance_init)") from None


def _encrypt(key: ec.EllipticCurvePrivateKey, passphrase: bytes) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )


def _decrypt(pem: bytes, passphrase: bytes, path: Path) -> ec.EllipticCurvePrivateKey:
    try:
        key = serialization.load_pem_private_key(pem, password=passphrase)
    except (ValueError, TypeError):
        # cryptography says "Bad decrypt. Incorrect password?" or that the data is damaged;
        # either way the message names no secret, but the path is what an operator needs.
        raise KeyLocked(f"{path}: cannot decrypt (wrong passphrase or damaged file)") from None
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise KeyLocked(f"{path}: not an EC private key")
    return key


def _check_pair(key: ec.EllipticCurvePrivateKey, cert: x509.Certificate, path: Path) -> None:
    if key.public_key() != cert.public_key():
        raise KeyLocked(f"{path}: the key does not belong to its certificate")


def _ski(key: ec.EllipticCurvePrivateKey) -> x509.SubjectKeyIdentifier:
    return x509.SubjectKeyIdentifier.from_public_key(key.public_key())


def _make_root(passphrase: bytes) -> tuple[bytes, bytes]:
    key = ec.generate_private_key(ec.SECP384R1())
    # A random suffix tells installations apart when an auditor compares anchors.
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Mintmark"),
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"Mintmark local root CA {secrets.token_hex(4)}"
            ),
        ]
    )
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(_ski(key), critical=False)
        .sign(key, hashes.SHA384())
    )
    return cert.public_bytes(serialization.Encoding.PEM), _encrypt(key, passphrase)


def _org_name(org_name: str) -> x509.Name:
    org = org_name.strip()[:NAME_MAX] or "Mintmark organization"
    common = org[: NAME_MAX - len(CN_SUFFIX)].rstrip() + CN_SUFFIX
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org),
            x509.NameAttribute(NameOID.COMMON_NAME, common),
        ]
    )


def issue_signing_certificate(
    *,
    issuer_cert: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    subject: x509.Name,
    public_key: ec.EllipticCurvePublicKey,
    validity: timedelta = SIGNING_VALIDITY,
    not_before: datetime | None = None,
) -> x509.Certificate:
    """A C2PA claim-signing end-entity certificate for ``public_key``, issued by the given CA."""
    start = not_before or datetime.now(UTC) - BACKDATE
    issuer_ski = issuer_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + validity)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.EMAIL_PROTECTION, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")]
            ),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(issuer_ski.value),
            critical=False,
        )
        .sign(issuer_key, hashes.SHA384())
    )


def _root(base: Path, passphrase: bytes) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate(_read(base / ROOT_CERT))
    key = _decrypt(_read(base / ROOT_KEY), passphrase, base / ROOT_KEY)
    _check_pair(key, cert, base / ROOT_KEY)
    return cert, key


def _ca_ensure_locked(base: Path, passphrase: bytes) -> tuple[CertInfo, bool]:
    cert_path, key_path = base / ROOT_CERT, base / ROOT_KEY
    created = False
    if not cert_path.exists() and not key_path.exists():
        cert_pem, key_pem = _make_root(passphrase)
        # Key first: a crash between the two writes leaves a key without a certificate, which
        # the next run refuses loudly instead of trusting a root nobody can sign with.
        _write_private(key_path, key_pem)
        _write_private(cert_path, cert_pem)
        created = True
    _root(base, passphrase)
    return CertInfo.from_pem(cert_path.read_bytes(), cert_path), created


def ca_ensure(base: Path, passphrase: bytes) -> tuple[CertInfo, bool]:
    """Creates the installation's root CA unless it exists; returns it and whether it was made
    now. An existing root must open with ``passphrase`` (else KeyLocked)."""
    with _locked(base, exclusive=True):
        return _ca_ensure_locked(base, passphrase)


def _org_dir(base: Path, slug: str) -> Path:
    _check_slug(slug)
    return base / slug


def _issue_org_files(base: Path, slug: str, org_name: str, passphrase: bytes) -> None:
    root_cert, root_key = _root(base, passphrase)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = issue_signing_certificate(
        issuer_cert=root_cert,
        issuer_key=root_key,
        subject=_org_name(org_name),
        public_key=key.public_key(),
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    folder = _org_dir(base, slug)
    _write_private(folder / KEY_FILE, _encrypt(key, passphrase))
    _write_private(folder / CERT_FILE, cert_pem)
    _write_private(
        folder / CHAIN_FILE, cert_pem + root_cert.public_bytes(serialization.Encoding.PEM)
    )


def _current(base: Path, slug: str, passphrase: bytes, *, created: bool) -> KeyInfo:
    folder = _org_dir(base, slug)
    cert_pem = _read(folder / CERT_FILE)
    key = _decrypt(_read(folder / KEY_FILE), passphrase, folder / KEY_FILE)
    _check_pair(key, x509.load_pem_x509_certificate(cert_pem), folder / KEY_FILE)
    _read(folder / CHAIN_FILE)
    return KeyInfo(
        slug=slug,
        cert=CertInfo.from_pem(cert_pem, folder / CERT_FILE),
        chain_path=folder / CHAIN_FILE,
        key_path=folder / KEY_FILE,
        created=created,
    )


def org_key_ensure(base: Path, slug: str, org_name: str, passphrase: bytes) -> KeyInfo:
    """Makes the CA (if needed) and the organization's signing key and certificate unless they
    exist. Existing files are kept and checked: they must open with ``passphrase``."""
    folder = _org_dir(base, slug)
    with _locked(base, exclusive=True):
        _ca_ensure_locked(base, passphrase)
        created = not (folder / CERT_FILE).exists() and not (folder / KEY_FILE).exists()
        if created:
            _issue_org_files(base, slug, org_name, passphrase)
        return _current(base, slug, passphrase, created=created)


def org_key_rotate(base: Path, slug: str, org_name: str, passphrase: bytes) -> KeyInfo:
    """Retires the organization's current certificate (kept under ``retired/<serial-hex>/`` so
    images it signed still verify) and issues a new key and certificate.

    The retired private key is deleted, not kept: it can never be needed to verify, and a key
    that no longer exists cannot sign anything after it was rotated out (the usual reason to
    rotate is that it may have leaked)."""
    folder = _org_dir(base, slug)
    with _locked(base, exclusive=True):
        _ca_ensure_locked(base, passphrase)
        if (folder / CERT_FILE).exists():
            old = CertInfo.from_pem((folder / CERT_FILE).read_bytes(), folder / CERT_FILE)
            retired = folder / RETIRED_DIR / old.serial_hex
            retired.mkdir(mode=0o700, parents=True, exist_ok=True)
            for name in (CHAIN_FILE, CERT_FILE):
                if (folder / name).exists():
                    os.replace(folder / name, retired / name)
            (folder / KEY_FILE).unlink(missing_ok=True)
        _issue_org_files(base, slug, org_name, passphrase)
        return _current(base, slug, passphrase, created=True)


def org_key_info(base: Path, slug: str, passphrase: bytes) -> KeyInfo:
    """The organization's current signing certificate, after checking its key opens."""
    with _locked(base, exclusive=False):
        return _current(base, slug, passphrase, created=False)


def org_signing_material(base: Path, slug: str, passphrase: bytes) -> SigningMaterial:
    """The chain and the decrypted private key for signing, read under a shared lock so that a
    concurrent rotation cannot hand out a key with another key's chain."""
    folder = _org_dir(base, slug)
    with _locked(base, exclusive=False):
        chain_pem = _read(folder / CHAIN_FILE)
        key = _decrypt(_read(folder / KEY_FILE), passphrase, folder / KEY_FILE)
        leaf = x509.load_pem_x509_certificates(chain_pem)[0]
        _check_pair(key, leaf, folder / KEY_FILE)
        return SigningMaterial(chain_pem, key)


def org_certificates(base: Path, slug: str) -> list[CertInfo]:
    """Every signing certificate the organization has had: the current one first, then the
    retired ones, newest first."""
    folder = _org_dir(base, slug)
    with _locked(base, exclusive=False):
        current = [folder / CERT_FILE] if (folder / CERT_FILE).exists() else []
        # X.509 times have whole seconds; the file's write time orders two rotations within one.
        retired = sorted(
            (folder / RETIRED_DIR).glob(f"*/{CERT_FILE}"),
            key=lambda p: p.stat().st_mtime_ns,
            reverse=True,
        )
        infos = [CertInfo.from_pem(p.read_bytes(), p) for p in current + retired]
    return infos[: len(current)] + sorted(
        infos[len(current) :], key=lambda c: c.not_before, reverse=True
    )


def trust_anchors_pem(base: Path) -> bytes:
    """The PEM of the installation's root CA, which content credentials verify against."""
    with _locked(base, exclusive=False):
        return _read(base / ROOT_CERT)
