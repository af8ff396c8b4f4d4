"""The model registry over the API: registration records the folder and the datasets and
answers `verifying`; a task then hashes the weights (test_model_verification.py); every member
sees the org's models with their licence posture and verification state."""

import json

import pytest

from generation.models import GenerativeModel
from generation.services import model_verify
from generation.tasks import verify_model
from generation.weights import weights_sha256
from tests.mm_api_support import (
    HEX64,
    assert_error,
    events,
    make_dataset,
    make_model,
    model_folder,
    row_counts,
)


@pytest.fixture
def admin(personas):
    return personas["admin"]


@pytest.fixture
def dataset(admin):
    return make_dataset(admin.org, name="Open photos", seeds=(1, 2))[0]


def _register(persona, **payload):
    return persona.client().post(
        "/api/models", data=json.dumps(payload), content_type="application/json"
    )


def _payload(folder, dataset=None, **change):
    return {
        "name": "acme-diffusion",
        "version": "1.0",
        "family": "sd15",
        "local_path": str(folder),
        "trained_on": [str(dataset.pk)] if dataset else [],
        "model_card": "Trained on our own photos.",
        **change,
    }


def test_register_records_datasets_answers_verifying_and_is_audited(
    admin, dataset, tmp_path, monkeypatch, django_capture_on_commit_callbacks
):
    folder = model_folder(tmp_path, "acme-diffusion", weights=b"\x00weights\x01" * 100)
    queued = []
    monkeypatch.setattr(verify_model, "delay", queued.append)
    with django_capture_on_commit_callbacks(execute=True):
        response = _register(admin, **_payload(folder, dataset))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "acme-diffusion" and body["version"] == "1.0"
    assert body["family"] == "sd15" and body["model_card"] == "Trained on our own photos."
    # Nothing was hashed in the request: a task does it, queued once the row is committed.
    assert body["state"] == "verifying" and body["weights_sha256"] == ""
    assert body["verification"] == {
        "bytes_done": 0,
        "bytes_total": None,
        "error": "",
        "verified_at": None,
    }
    assert queued == [body["id"]]
    assert body["trained_on"] == [str(dataset.pk)]
    posture = body["licence_posture"]
    assert posture["usable"] is True and posture["commercial"] is True
    assert posture["reasons"] == []
    assert posture["datasets"] == [
        {
            "id": str(dataset.pk),
            "name": "Open photos",
            "items": 2,
            "opted_out": 0,
            "licences": ["CC0-1.0"],
        }
    ]
    model = GenerativeModel.objects.get(pk=body["id"])
    assert model.org == admin.org
    assert model.local_path == str(folder.resolve())
    (event,) = events(admin.org, "model.registered")
    assert event.actor_id == admin.user.pk and event.subject_id == body["id"]
    assert event.data == {
        "name": "acme-diffusion",
        "version": "1.0",
        "family": "sd15",
        "local_path": str(folder.resolve()),
        "trained_on": [str(dataset.pk)],
    }

    model_verify(model_id=body["id"])
    ready = admin.client().get(f"/api/models/{body['id']}").json()
    assert ready["state"] == "ready"
    assert HEX64.match(ready["weights_sha256"])
    assert ready["weights_sha256"] == weights_sha256(folder)
    assert ready["verification"]["bytes_done"] == ready["verification"]["bytes_total"] == 900
    assert ready["verification"]["verified_at"] is not None
    (verified,) = events(admin.org, "model.verified")
    assert verified.actor_id is None and verified.subject_id == body["id"]
    assert verified.data == {"weights_sha256": ready["weights_sha256"], "bytes": 900}


def test_different_weights_give_a_different_digest(admin, dataset, tmp_path):
    one = _register(admin, **_payload(model_folder(tmp_path, "a", b"one"), dataset, version="1"))
    two = _register(admin, **_payload(model_folder(tmp_path, "b", b"two"), dataset, version="2"))
    digests = {model_verify(model_id=r.json()["id"]).weights_sha256 for r in (one, two)}
    assert len(digests) == 2


def test_folder_without_model_index_is_422(admin, dataset, tmp_path):
    folder = tmp_path / "not-a-pipeline"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"w")
    before = row_counts()
    body = assert_error(_register(admin, **_payload(folder, dataset)), 422, "invalid_model_folder")
    assert "no model_index.json" in body["detail"]
    assert row_counts() == before


def test_folder_without_weight_files_fails_verification_and_may_be_registered_again(
    admin, dataset, tmp_path
):
    folder = tmp_path / "empty-model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text("{}")
    (folder / "model_index.json").write_text("{}")
    response = _register(admin, **_payload(folder, dataset))
    assert response.status_code == 201, response.content
    model = model_verify(model_id=response.json()["id"])
    body = admin.client().get(f"/api/models/{model.pk}").json()
    assert body["state"] == "failed" and body["weights_sha256"] == ""
    assert "holds no weight files" in body["verification"]["error"]
    (failed,) = events(admin.org, "model.verification_failed")
    assert "holds no weight files" in failed.data["reason"]
    # The failed registration does not hold its name and version.
    (folder / "unet" / "diffusion_pytorch_model.safetensors").write_bytes(b"now weights")
    again = _register(admin, **_payload(folder, dataset))
    assert again.status_code == 201, again.content
    assert model_verify(model_id=again.json()["id"]).state == "ready"
    assert not GenerativeModel.objects.filter(pk=model.pk).exists()


def test_missing_folder_is_422(admin, dataset, tmp_path):
    before = row_counts()
    payload = _payload(tmp_path / "not-there", dataset)
    assert_error(_register(admin, **payload), 422, "invalid_model_folder")
    assert row_counts() == before


def test_same_name_and_version_is_409_but_a_new_version_is_fine(admin, dataset, tmp_path):
    folder = model_folder(tmp_path, "m")
    assert _register(admin, **_payload(folder, dataset)).status_code == 201
    assert_error(_register(admin, **_payload(folder, dataset)), 409, "model_exists")
    assert _register(admin, **_payload(folder, dataset, version="1.1")).status_code == 201
    assert len(events(admin.org, "model.registered")) == 2


def test_the_same_name_may_be_registered_in_another_org(admin, personas, tmp_path):
    assert _register(admin, **_payload(model_folder(tmp_path, "ours"))).status_code == 201
    theirs = _register(personas["outsider"], **_payload(model_folder(tmp_path, "theirs")))
    assert theirs.status_code == 201


def test_members_list_and_read_the_orgs_models(admin, personas, dataset, tmp_path):
    first = make_model(admin.org, tmp_path, name="first", datasets=[dataset])
    second = make_model(admin.org, tmp_path, name="second", datasets=[])
    foreign = make_model(personas["outsider"].org, tmp_path, name="theirs")
    for role in ("staff", "reviewer", "auditor", "admin"):
        client = personas[role].client()
        listed = client.get("/api/models").json()
        assert listed["count"] == 2
        assert [m["id"] for m in listed["items"]] == [str(second.pk), str(first.pk)]
        one = client.get(f"/api/models/{first.pk}").json()
        assert one["licence_posture"]["usable"] is True
        assert client.get(f"/api/models/{second.pk}").json()["licence_posture"]["usable"] is False
        assert_error(client.get(f"/api/models/{foreign.pk}"), 404, "not_found")


def test_model_without_datasets_registers_but_is_unusable(admin, tmp_path):
    response = _register(admin, **_payload(model_folder(tmp_path, "bare")))
    assert response.status_code == 201
    posture = response.json()["licence_posture"]
    assert posture["usable"] is False and posture["non_commercial"] is False
    assert any("no training datasets" in reason for reason in posture["reasons"])


def test_policy_allow_list_limits_which_models_are_usable(admin, personas, dataset, tmp_path):
    listed = make_model(admin.org, tmp_path, name="listed", datasets=[dataset])
    unlisted = make_model(admin.org, tmp_path, name="unlisted", datasets=[dataset])
    response = admin.client().post(
        "/api/policies",
        data=json.dumps({"rules": {"allowed_models": ["listed"]}}),
        content_type="application/json",
    )
    assert response.status_code == 201
    staff = personas["staff"].client()
    assert staff.get(f"/api/models/{listed.pk}").json()["licence_posture"]["usable"] is True
    posture = staff.get(f"/api/models/{unlisted.pk}").json()["licence_posture"]
    assert posture["usable"] is False
    assert any("policy does not list this model" in reason for reason in posture["reasons"])
