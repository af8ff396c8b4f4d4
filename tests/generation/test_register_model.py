"""`manage.py register_model`: a local diffusers folder under a model root becomes a model of
the org with the digest of its weights (hashed there, with progress lines) and the datasets it
was trained on; refusals name what is wrong and write nothing. The folder rules are the API's
(test_model_folders.py): here, that the operator's command obeys them too."""

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


def register(folder, *args, org="acme", name="tiny", version="1", family="sd15", err=None) -> str:
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
        stderr=err or io.StringIO(),
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
    assert model.state == "ready" and model.verified_at is not None
    size = len(b"tiny weights")
    assert (model.verify_bytes_done, model.verify_bytes_total) == (size, size)
    event = AuditEvent.objects.for_org(acme).get(action="model.registered")
    assert event.actor_label == "system" and event.data["local_path"] == str(folder.resolve())
    assert sorted(event.data["trained_on"]) == sorted([str(photos.pk), str(art.pk)])
    verified = AuditEvent.objects.for_org(acme).get(action="model.verified")
    assert verified.data == {"weights_sha256": digest, "bytes": size}
    assert audit_verify(org=acme).ok


def test_hashing_prints_progress_lines(acme, tmp_path, monkeypatch):
    monkeypatch.setattr("generation.weights._CHUNK", 1024)
    folder = model_folder(tmp_path, weights=b"w" * 4096)
    err = io.StringIO()
    register(folder, err=err)
    lines = err.getvalue().splitlines()
    assert lines[0] == "hashing weights: 0 of 4096 bytes (0%)"
    assert lines[-1] == "hashing weights: 4096 of 4096 bytes (100%)"


def test_a_relative_folder_is_taken_from_the_current_folder(acme, folder, monkeypatch):
    monkeypatch.chdir(folder.parent)
    register(folder.name)
    assert GenerativeModel.objects.get(org=acme).local_path == str(folder.resolve())


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


def test_same_name_in_another_org(acme, globex, folder, tmp_path):
    register(folder)
    register(model_folder(tmp_path, "theirs"), org=globex.slug)
    assert GenerativeModel.objects.filter(name="tiny").count() == 2


def test_the_operator_cannot_hand_one_orgs_folder_to_another_unless_shared(
    acme, globex, folder, settings
):
    register(folder)
    message = refused(folder, org=globex.slug)
    assert "not under an allowed model root" in message
    assert message == refused(folder.parent / "nowhere", org=globex.slug)
    settings.SHARED_MODEL_ROOTS = (folder,)
    register(folder, org=globex.slug)
    assert GenerativeModel.objects.filter(local_path=str(folder.resolve())).count() == 2


def test_refusals(acme, globex, personas, folder, tmp_path):
    dataset_create(org=globex, actor=None, name="Theirs")
    assert "No dataset named 'Theirs' in acme" in refused(folder, "--dataset", "Theirs")
    assert "No dataset named 'Nope'" in refused(folder, "--dataset", "Nope")
    assert "'nope'" in refused(folder, org="nope")
    assert "not under an allowed model root" in refused(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    (empty / "unet").mkdir(parents=True)
    assert "has no model_index.json" in refused(empty)
    (empty / "model_index.json").write_text("{}")
    assert "holds no weight files" in refused(empty)
    assert "needs a name and a version" in refused(folder, name=" ")
    assert "Cannot read the model card" in refused(folder, "--card", str(tmp_path / "no.md"))
    outsider = personas["outsider"].user.username
    assert "not a member of acme" in refused(folder, "--actor", outsider)
    assert "needs admin" in refused(folder, "--actor", personas["staff"].user.username)
    with pytest.raises(CommandError, match="invalid choice"):
        register(folder, family="dalle")


@pytest.mark.parametrize("outside", ["/root", "/etc", "/etc/passwd", "/nonexistent/model"])
def test_folders_outside_the_roots_are_refused_alike(acme, folder, outside):
    assert refused(outside) == refused(folder.parent / "nowhere")


def test_a_folder_past_the_size_limit_is_refused(acme, folder, settings):
    settings.MODEL_MAX_BYTES = len(b"tiny weights") - 1
    assert "more than the limit of 11 bytes" in refused(folder)
    settings.MODEL_MAX_BYTES = len(b"tiny weights")
    register(folder)


def test_a_weight_file_linked_out_of_the_folder_is_refused(acme, folder, tmp_path_factory):
    outside = tmp_path_factory.mktemp("elsewhere") / "weights.safetensors"
    outside.write_bytes(b"not the registered weights")
    (folder / "vae").mkdir()
    (folder / "vae" / "diffusion_pytorch_model.safetensors").symlink_to(outside)
    assert "vae/diffusion_pytorch_model.safetensors links outside the model folder" in refused(
        folder
    )
