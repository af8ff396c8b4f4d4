"""`manage.py register_model`: a local diffusers folder becomes a model of the org with the
digest of its weights and the datasets it was trained on; refusals name what is wrong and
write nothing."""

import io
import re

import pytest
from django.core.management import CommandError, call_command

from audit.models import AuditEvent
from audit.selectors import audit_verify
from generation.models import GenerativeModel
from generation.weights import weights_sha256
from licensing.services import dataset_create
from tests.mm_api_support import HEX64, model_folder, row_counts

pytestmark = pytest.mark.django_db


def register(folder, *args, org="acme", name="tiny", version="1", family="sd15") -> str:
    out = io.StringIO()
    call_command(
        "register_model",
        str(folder),
        "--org",
        org,
        "--name",
        name,
        "--version",
        version,
        "--family",
        family,
        *args,
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


def refused(folder, *args, **kwargs) -> str:
    before = row_counts()
    with pytest.raises(CommandError) as excinfo:
        register(folder, *args, **kwargs)
    assert row_counts() == before
    return str(excinfo.value)


@pytest.fixture
def folder(tmp_path):
    return model_folder(tmp_path, weights=b"tiny weights")


def test_register_prints_id_and_digest(acme, folder, tmp_path):
    photos = dataset_create(org=acme, actor=None, name="Photos")
    art = dataset_create(org=acme, actor=None, name="Art")
    card = tmp_path / "card.md"
    card.write_text("# Tiny\n\nTrained on Photos and Art. é", encoding="utf-8")
    out = register(
        folder, "--dataset", "Photos", "--dataset", "Art", "--card", str(card), version="2024.1"
    )

    model = GenerativeModel.objects.get(org=acme, name="tiny", version="2024.1")
    digest = weights_sha256(folder)
    assert HEX64.match(digest)
    assert re.search(rf"^id: {model.pk}$", out, re.MULTILINE)
    assert re.search(rf"^weights sha256: {digest}$", out, re.MULTILINE)
    assert model.weights_sha256 == digest
    assert model.family == "sd15" and model.local_path == str(folder.resolve())
    assert model.model_card == card.read_text(encoding="utf-8")
    assert set(model.trained_on.all()) == {photos, art}
    event = AuditEvent.objects.for_org(acme).get(action="model.registered")
    assert event.data["weights_sha256"] == digest and event.actor_label == "system"
    assert sorted(event.data["trained_on"]) == sorted([str(photos.pk), str(art.pk)])
    assert audit_verify(org=acme).ok


def test_register_without_datasets_and_as_an_admin(acme, personas, folder):
    admin = personas["admin"].user
    register(folder, "--actor", admin.username, family="other")
    model = GenerativeModel.objects.get(org=acme)
    assert model.trained_on.count() == 0 and model.family == "other"
    event = AuditEvent.objects.for_org(acme).get(action="model.registered")
    assert (event.actor_id, event.actor_label) == (admin.pk, admin.username)


def test_version_flag_is_the_model_version_not_djangos(acme, folder):
    out = register(folder, version="3.1")
    assert "tiny:3.1" in out


def test_same_name_and_version_is_refused(acme, folder):
    register(folder)
    assert "tiny:1 is already registered" in refused(folder)
    # Another version, or the same name in another org, is fine.
    register(folder, version="2")


def test_same_name_in_another_org(acme, globex, folder):
    register(folder)
    register(folder, org=globex.slug)
    assert GenerativeModel.objects.filter(name="tiny").count() == 2


def test_refusals(acme, globex, personas, folder, tmp_path):
    dataset_create(org=globex, actor=None, name="Theirs")
    assert "No dataset named 'Theirs' in acme" in refused(folder, "--dataset", "Theirs")
    assert "No dataset named 'Nope'" in refused(folder, "--dataset", "Nope")
    assert "'nope'" in refused(folder, org="nope")
    assert "is not a folder" in refused(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    (empty / "unet").mkdir(parents=True)
    assert "holds no weight files" in refused(empty)
    assert "needs a name and a version" in refused(folder, name=" ")
    assert "Cannot read the model card" in refused(folder, "--card", str(tmp_path / "no.md"))
    outsider = personas["outsider"].user.username
    assert "not a member of acme" in refused(folder, "--actor", outsider)
    assert "needs admin" in refused(folder, "--actor", personas["staff"].user.username)
    with pytest.raises(CommandError, match="invalid choice"):
        register(folder, family="dalle")
