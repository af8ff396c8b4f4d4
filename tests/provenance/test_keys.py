"""provenance.keys: the local CA and the org signing certificates meet the C2PA signing-cert
profile, keys are encrypted and private, ensure is idempotent, rotation keeps old certificates;
provenance.signing.signing_passphrase."""

import base64
import stat
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from provenance import keys
from provenance.signing import FileKeySigner, signing_passphrase

PASS = b"test passphrase 0123456789abcdef"
DOCUMENT_SIGNING = x509.ObjectIdentifier("1.3.6.1.5.5.7.3.36")


@pytest.fixture
def base(tmp_path):
    return tmp_path / "keys"


def _cert(path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _ext(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind)


def test_root_is_a_ca_for_signing_certificates_only(base):
    root, created = keys.ca_ensure(base, PASS)
    assert created
    cert = _cert(base / keys.ROOT_CERT)
    constraints = _ext(cert, x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign
    assert not usage.value.digital_signature
    assert cert.subject == cert.issuer
    assert root.serial_hex == f"{cert.serial_number:x}"
    again, created_again = keys.ca_ensure(base, PASS)
    assert not created_again and again.serial_hex == root.serial_hex


def test_org_certificate_follows_the_c2pa_signing_profile(base):
    info = keys.org_key_ensure(base, "acme", "Acme Corp", PASS)
    assert info.created and info.slug == "acme"
    cert = _cert(info.cert.path)
    root = _cert(base / keys.ROOT_CERT)
    assert cert.version == x509.Version.v3
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey)
    assert isinstance(cert.public_key().curve, ec.SECP256R1)
    assert not _ext(cert, x509.BasicConstraints).value.ca
    usage = _ext(cert, x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and not usage.value.key_cert_sign
    ekus = list(_ext(cert, x509.ExtendedKeyUsage).value)
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in ekus and DOCUMENT_SIGNING in ekus
    assert ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE not in ekus
    aki = _ext(cert, x509.AuthorityKeyIdentifier).value.key_identifier
    assert aki == _ext(root, x509.SubjectKeyIdentifier).value.digest
    assert _ext(cert, x509.SubjectKeyIdentifier)
    assert cert.issuer == root.subject
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme Corp"
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "Acme Corp Mintmark content signing"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days in (5 * 365, 5 * 365 + 1)
    # The chain is the leaf, then the root: what c2pa embeds in the manifest.
    chain = x509.load_pem_x509_certificates(info.chain_path.read_bytes())
    assert chain == [cert, root]
    cert.verify_directly_issued_by(root)


def test_long_org_names_fit_the_x520_limits(base):
    info = keys.org_key_ensure(base, "long", "A" * 300, PASS)
    subject = _cert(info.cert.path).subject
    common_name = subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert len(common_name) <= 64 and common_name.endswith("Mintmark content signing")


def test_private_keys_are_encrypted_and_files_private(base):
    info = keys.org_key_ensure(base, "acme", "Acme", PASS)
    for path in (info.key_path, info.cert.path, info.chain_path, base / keys.ROOT_KEY):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    for folder in (base, base / "acme", base / "ca"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    for path in (info.key_path, base / keys.ROOT_KEY):
        pem = path.read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        with pytest.raises(TypeError):
            serialization.load_pem_private_key(pem, password=None)
        with pytest.raises(ValueError):
            serialization.load_pem_private_key(pem, password=b"wrong")
        assert serialization.load_pem_private_key(pem, password=PASS)
    # No temporary files are left behind by the atomic writes.
    assert sorted(p.name for p in (base / "acme").iterdir()) == sorted(
        [keys.CERT_FILE, keys.CHAIN_FILE, keys.KEY_FILE]
    )


def test_ensure_keeps_existing_keys(base):
    first = keys.org_key_ensure(base, "acme", "Acme", PASS)
    key_pem = first.key_path.read_bytes()
    second = keys.org_key_ensure(base, "acme", "Acme Renamed", PASS)
    assert not second.created
    assert second.cert.serial_hex == first.cert.serial_hex
    assert second.key_path.read_bytes() == key_pem


def test_wrong_passphrase_is_refused_and_nothing_replaced(base):
    first = keys.org_key_ensure(base, "acme", "Acme", PASS)
    key_pem = first.key_path.read_bytes()
    with pytest.raises(keys.KeyLocked, match="cannot decrypt"):
        keys.org_key_ensure(base, "acme", "Acme", b"another passphrase")
    with pytest.raises(keys.KeyLocked):
        keys.org_signing_material(base, "acme", b"another passphrase")
    assert first.key_path.read_bytes() == key_pem
    # A locked key is a missing key for whoever wanted to sign.
    assert issubclass(keys.KeyLocked, keys.KeyMissing)


def test_a_key_that_does_not_match_its_certificate_is_refused(base):
    keys.org_key_ensure(base, "acme", "Acme", PASS)
    keys.org_key_ensure(base, "other", "Other", PASS)
    (base / "acme" / keys.KEY_FILE).write_bytes((base / "other" / keys.KEY_FILE).read_bytes())
    with pytest.raises(keys.KeyLocked, match="does not belong"):
        keys.org_signing_material(base, "acme", PASS)


def test_missing_material_raises_key_missing(base):
    with pytest.raises(keys.KeyMissing):
        keys.trust_anchors_pem(base)
    with pytest.raises(keys.KeyMissing):
        keys.org_signing_material(base, "acme", PASS)
    keys.org_key_ensure(base, "acme", "Acme", PASS)
    (base / "acme" / keys.KEY_FILE).unlink()
    with pytest.raises(keys.KeyMissing, match="provenance_init"):
        keys.org_signing_material(base, "acme", PASS)
    with pytest.raises(keys.KeyMissing):
        FileKeySigner.for_org(base, "nobody", PASS)


def test_signing_material_is_the_key_of_the_current_certificate(base):
    info = keys.org_key_ensure(base, "acme", "Acme", PASS)
    chain_pem, private_key = keys.org_signing_material(base, "acme", PASS)
    assert chain_pem == info.chain_path.read_bytes()
    assert private_key.public_key() == _cert(info.cert.path).public_key()
    assert "PRIVATE" not in repr(FileKeySigner(chain_pem, private_key))


@pytest.mark.parametrize("slug", ["../evil", "a/b", "", ".hidden", "UPPER", "x" * 101])
def test_slugs_cannot_escape_the_key_folder(base, slug):
    with pytest.raises(ValueError, match="slug"):
        keys.org_key_ensure(base, slug, "Evil", PASS)
    assert not (base.parent / "evil").exists()


def test_an_org_slugged_ca_does_not_touch_the_root(base):
    keys.ca_ensure(base, PASS)
    root_pem = (base / keys.ROOT_CERT).read_bytes()
    keys.org_key_ensure(base, "ca", "CA Inc", PASS)
    keys.org_key_rotate(base, "ca", "CA Inc", PASS)
    assert (base / keys.ROOT_CERT).read_bytes() == root_pem
    assert keys.trust_anchors_pem(base) == root_pem


def test_rotation_retires_the_old_certificate_and_deletes_its_key(base):
    old = keys.org_key_ensure(base, "acme", "Acme", PASS)
    new = keys.org_key_rotate(base, "acme", "Acme", PASS)
    assert new.created and new.cert.serial_hex != old.cert.serial_hex
    retired = base / "acme" / keys.RETIRED_DIR / old.cert.serial_hex
    assert (retired / keys.CERT_FILE).read_bytes() == old.cert.pem
    assert (retired / keys.CHAIN_FILE).exists()
    assert not list(retired.glob("*key*"))
    assert stat.S_IMODE(retired.stat().st_mode) == 0o700
    _, private_key = keys.org_signing_material(base, "acme", PASS)
    assert private_key.public_key() == _cert(new.cert.path).public_key()
    newest = keys.org_key_rotate(base, "acme", "Acme", PASS)
    serials = [c.serial_hex for c in keys.org_certificates(base, "acme")]
    assert serials == [newest.cert.serial_hex, new.cert.serial_hex, old.cert.serial_hex]


def test_concurrent_ensures_make_one_key(base):
    results, errors = [], []

    def ensure():
        try:
            results.append(keys.org_key_ensure(base, "acme", "Acme", PASS))
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=ensure) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert sum(r.created for r in results) == 1
    assert len({r.cert.serial_hex for r in results}) == 1


def test_certificate_info_describes_the_leaf(base):
    info = keys.org_key_ensure(base, "acme", "Acme", PASS)
    leaf = keys.certificate_info(info.chain_path.read_bytes())
    assert (leaf.serial_hex, leaf.sha256) == (info.cert.serial_hex, info.cert.sha256)


def test_passphrase_from_setting_or_derived_from_secret_key(settings):
    settings.SIGNING_KEY_PASSPHRASE = "operator-chosen"
    assert signing_passphrase() == b"operator-chosen"
    settings.SIGNING_KEY_PASSPHRASE = None
    settings.SECRET_KEY = "secret one"
    derived = signing_passphrase()
    assert derived == signing_passphrase()
    assert len(base64.urlsafe_b64decode(derived)) == 32
    assert b"secret one" not in derived
    settings.SECRET_KEY = "secret two"
    assert signing_passphrase() != derived
