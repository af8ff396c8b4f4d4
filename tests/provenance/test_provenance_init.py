"""`manage.py provenance_init`: the local CA and every org's signing key, idempotent, audited,
printing certificates and never keys; --org and --rotate."""

import io

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from audit.selectors import audit_verify
from orgs.services import org_create
from provenance import keys
from provenance.signing import signing_passphrase

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_dir(settings, tmp_path):
    settings.DATA_DIR = tmp_path
    settings.SIGNING_KEY_PASSPHRASE = "init-test-passphrase"
    return tmp_path / "keys"


def init(*args) -> str:
    out = io.StringIO()
    call_command("provenance_init", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def events(org, action):
    return list(AuditEvent.objects.for_org(org).filter(action=action).order_by("seq"))


def test_makes_the_ca_and_a_key_per_org(key_dir, personas):
    acme, globex = personas["admin"].org, personas["outsider"].org
    out = init()
    assert "Root CA created" in out
    for org in (acme, globex):
        info = keys.org_key_info(key_dir, org.slug, signing_passphrase())
        assert f"{org.slug}: signing key created: {info.cert.subject}" in out
        assert info.cert.serial_hex in out and info.cert.sha256 in out
        assert str(info.cert.path) in out and str(info.key_path) in out
        (event,) = events(org, "signing_key.created")
        assert event.data["serial"] == info.cert.serial_hex
        assert event.data["sha256"] == info.cert.sha256
        assert audit_verify(org=org).ok
    # What /api/health looks for.
    assert len(list(key_dir.glob("*/signing-cert.pem"))) == 2
    assert "PRIVATE KEY" not in out and "BEGIN" not in out


def test_second_run_keeps_everything(key_dir, acme):
    init()
    first = keys.org_key_info(key_dir, acme.slug, signing_passphrase())
    root = keys.trust_anchors_pem(key_dir)
    out = init()
    assert "Root CA kept" in out and f"{acme.slug}: signing key kept" in out
    again = keys.org_key_info(key_dir, acme.slug, signing_passphrase())
    assert again.cert.serial_hex == first.cert.serial_hex
    assert keys.trust_anchors_pem(key_dir) == root
    assert len(events(acme, "signing_key.created")) == 1


def test_one_org_only(key_dir, acme, globex):
    out = init("--org", globex.slug)
    assert globex.slug in out and f"{acme.slug}:" not in out
    assert (key_dir / globex.slug / keys.CERT_FILE).exists()
    assert not (key_dir / acme.slug).exists()


def test_unknown_org_is_refused(key_dir, acme):
    with pytest.raises(CommandError, match="No organization"):
        init("--org", "nope")
    assert not key_dir.exists()


def test_rotate_retires_the_old_certificate(key_dir, acme):
    init()
    old = keys.org_key_info(key_dir, acme.slug, signing_passphrase())
    out = init("--org", acme.slug, "--rotate")
    new = keys.org_key_info(key_dir, acme.slug, signing_passphrase())
    assert new.cert.serial_hex != old.cert.serial_hex
    assert f"{acme.slug}: signing key rotated" in out
    assert f"retired {old.cert.serial_hex}, kept for verification" in out
    serials = [c.serial_hex for c in keys.org_certificates(key_dir, acme.slug)]
    assert serials == [new.cert.serial_hex, old.cert.serial_hex]
    (event,) = events(acme, "signing_key.rotated")
    assert event.data["retired"] == old.cert.serial_hex
    assert event.data["serial"] == new.cert.serial_hex
    assert audit_verify(org=acme).ok


def test_changed_passphrase_is_reported_not_papered_over(key_dir, settings, acme):
    init()
    key_pem = (key_dir / acme.slug / keys.KEY_FILE).read_bytes()
    settings.SIGNING_KEY_PASSPHRASE = "someone changed it"
    with pytest.raises(CommandError, match="cannot decrypt"):
        init()
    assert (key_dir / acme.slug / keys.KEY_FILE).read_bytes() == key_pem


def test_new_org_gets_its_key_on_the_next_run(key_dir, acme):
    init()
    initech = org_create(name="Initech")
    out = init()
    assert f"{acme.slug}: signing key kept" in out
    assert f"{initech.slug}: signing key created" in out


def test_without_orgs_only_the_ca_is_made(key_dir):
    out = init()
    assert "Root CA created" in out and "No organizations yet" in out
    assert (key_dir / keys.ROOT_CERT).exists()
