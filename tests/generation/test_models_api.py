"""The model registry over the API: registration hashes the weights and records the datasets;
every member sees the org's models with their licence posture."""

import json

import pytest

from generation.models import GenerativeModel
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


def test_register_hashes_weights_records_datasets_and_is_audited(admin, dataset, tmp_path):
    folder = model_folder(tmp_path, "acme-diffusion", weights=b"\x00weights\x01" * 100)
    response = _register(admin, **_payload(folder, dataset))
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["name"] == "acme-diffusion" and body["version"] == "1.0"
    assert body["family"] == "sd15" and body["model_card"] == "Trained on our own photos."
    assert HEX64.match(body["weights_sha256"])
    assert body["weights_sha256"] == weights_sha256(folder)
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
        "weights_sha256": body["weights_sha256"],
        "trained_on": [str(dataset.pk)],
    }


def test_different_weights_give_a_different_digest(admin, dataset, tmp_path):
    one = _register(admin, **_payload(model_folder(tmp_path, "a", b"one"), dataset, version="1"))
    two = _register(admin, **_payload(model_folder(tmp_path, "b", b"two"), dataset, version="2"))
    assert one.json()["weights_sha256"] != two.json()["weights_sha256"]


def test_folder_without_weight_files_is_422(admin, dataset, tmp_path):
    folder = tmp_path / "empty-model"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text("{}")
    (folder / "model_index.json").write_text("{}")
    before = row_counts()
    body = assert_error(_register(admin, **_payload(folder, dataset)), 422, "invalid_model_folder")
    assert "no weight files" in body["detail"]
    assert row_counts() == before


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
    folder = model_folder(tmp_path, "shared")
    assert _register(admin, **_payload(folder)).status_code == 201
    assert _register(personas["outsider"], **_payload(folder)).status_code == 201


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
