"""Licences, datasets and items over the API, and how their records decide whether a model
may be used (its licence posture)."""

import hashlib
import json
from datetime import timedelta

import pytest
from django.core.files.storage import storages
from django.utils import timezone

from licensing.models import ConsentRecord, DatasetItem
from tests.mm_api_support import (
    HEX16,
    HEX64,
    assert_error,
    events,
    make_dataset,
    make_model,
    png_bytes,
    png_upload,
)


def _json(client, path, body):
    return client.post(path, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def admin(personas):
    return personas["admin"]


def _posture(persona, model):
    response = persona.client().get(f"/api/models/{model.pk}")
    assert response.status_code == 200, response.content
    return response.json()["licence_posture"]


def _set_policy(persona, **rules):
    assert _json(persona.client(), "/api/policies", {"rules": rules}).status_code == 201


# ---------------------------------------------------------------------------------------------
# Licences


def test_standard_licences_are_there_from_the_start(admin, personas):
    keys = [lic["key"] for lic in personas["auditor"].client().get("/api/licences").json()["items"]]
    assert keys == ["CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-ND-4.0", "CC-BY-SA-4.0", "CC0-1.0"]


def test_create_licence_is_audited(admin):
    expires = (timezone.now() + timedelta(days=365)).replace(microsecond=0)
    payload = {
        "key": "acme-stock-2024",
        "name": "Acme stock photo agreement",
        "custom_text": "Acme may train on these until the end of the term.",
        "url": "https://acme.test/stock",
        "allows_training": True,
        "allows_commercial": True,
        "requires_attribution": False,
        "expires_at": expires.isoformat(),
    }
    response = _json(admin.client(), "/api/licences", payload)
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["key"] == "acme-stock-2024" and body["spdx_id"] == ""
    assert body["allows_commercial"] is True and body["requires_attribution"] is False
    assert body["expires_at"].startswith(expires.strftime("%Y-%m-%dT%H:%M:%S"))
    assert "custom_text" not in body
    (event,) = events(admin.org, "licence.created")[-1:]
    assert event.actor_id == admin.user.pk
    assert event.subject_id == body["id"]
    assert event.data["key"] == "acme-stock-2024" and event.data["allows_training"] is True
    keys = [lic["key"] for lic in admin.client().get("/api/licences").json()["items"]]
    assert "acme-stock-2024" in keys and len(keys) == 6


# ---------------------------------------------------------------------------------------------
# Datasets and items


def test_create_dataset_upload_and_list_items(admin, personas, isolated_storage):
    response = _json(admin.client(), "/api/datasets", {"name": "Product shots", "description": "d"})
    assert response.status_code == 201, response.content
    dataset = response.json()
    assert dataset["items"] == 0 and dataset["opted_out"] == 0
    (created,) = events(admin.org, "dataset.created")
    assert created.subject_id == dataset["id"] and created.data == {"name": "Product shots"}

    data = png_bytes(seed=7, size=(48, 40))
    upload = admin.client().post(
        f"/api/datasets/{dataset['id']}/items",
        data={
            "image": _named(data),
            "licence": "CC-BY-4.0",
            "source_url": "https://photos.test/7",
            "creator": "Jo Photographer",
            "caption": "a red chair",
        },
    )
    assert upload.status_code == 201, upload.content
    item = upload.json()
    assert item["sha256"] == hashlib.sha256(data).hexdigest()
    assert HEX64.match(item["sha256"])
    for name in ("phash", "dhash", "whash"):
        assert HEX16.match(item[name]), (name, item[name])
    assert (item["width"], item["height"]) == (48, 40)
    assert item["licence"] == "CC-BY-4.0"
    assert item["creator"] == "Jo Photographer" and item["caption"] == "a red chair"
    assert item["source_url"] == "https://photos.test/7"
    assert item["consent"] == "unknown"

    stored = DatasetItem.objects.get(pk=item["id"])
    assert storages["datasets"].open(stored.file_key).read() == data
    (added,) = events(admin.org, "dataset.item_added")
    assert added.actor_id == admin.user.pk and added.subject_id == item["id"]
    assert added.data == {
        "dataset": dataset["id"],
        "sha256": item["sha256"],
        "licence": "CC-BY-4.0",
    }

    second = admin.client().post(
        f"/api/datasets/{dataset['id']}/items",
        data={"image": png_upload(seed=8), "licence": "CC0-1.0"},
    )
    assert second.status_code == 201
    # The auditor reads what the admin wrote, newest first.
    auditor = personas["auditor"].client()
    listed = auditor.get(f"/api/datasets/{dataset['id']}/items").json()
    assert listed["count"] == 2
    assert [i["id"] for i in listed["items"]] == [second.json()["id"], item["id"]]
    assert auditor.get(f"/api/datasets/{dataset['id']}").json()["items"] == 2
    assert [d["name"] for d in auditor.get("/api/datasets").json()["items"]] == ["Product shots"]


def _named(data: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("chair.png", data, content_type="image/png")


def test_the_same_image_may_be_in_two_datasets(admin):
    make_dataset(admin.org, name="One", seeds=(3,))
    second, _ = make_dataset(admin.org, name="Two", seeds=())
    response = admin.client().post(
        f"/api/datasets/{second.pk}/items", data={"image": png_upload(seed=3), "licence": "CC0-1.0"}
    )
    assert response.status_code == 201
    assert_error(
        admin.client().post(
            f"/api/datasets/{second.pk}/items",
            data={"image": png_upload(seed=3), "licence": "CC0-1.0"},
        ),
        409,
        "duplicate_item",
    )


# ---------------------------------------------------------------------------------------------
# Opt-out and licence posture


def test_opt_out_sets_consent_and_flags_the_model(admin, personas, tmp_path):
    dataset, (item, _) = make_dataset(admin.org, name="Portraits", seeds=(11, 12))
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    assert _posture(personas["staff"], model)["usable"] is True

    response = _json(
        admin.client(),
        f"/api/datasets/{dataset.pk}/items/{item.pk}/opt-out",
        {"requested_by": "sitter@example.com", "reason": "withdrew consent"},
    )
    assert response.status_code == 201, response.content
    record = response.json()
    assert record["item"] == str(item.pk) and record["kind"] == "opt_out"
    assert record["requested_by"] == "sitter@example.com"
    item.refresh_from_db()
    assert item.consent == "opted_out"
    assert ConsentRecord.objects.get(pk=record["id"]).recorded_by == admin.user
    (event,) = events(admin.org, "dataset.item_opt_out")
    assert event.subject_id == str(item.pk) and event.actor_id == admin.user.pk
    assert event.data["models_flagged"] == [str(model)]
    assert event.data["requested_by"] == "sitter@example.com"

    listed = admin.client().get(f"/api/datasets/{dataset.pk}/items").json()["items"]
    assert {i["id"]: i["consent"] for i in listed}[str(item.pk)] == "opted_out"
    assert admin.client().get(f"/api/datasets/{dataset.pk}").json()["opted_out"] == 1

    posture = _posture(personas["staff"], model)
    assert posture["usable"] is False
    assert posture["commercial"] is False and posture["non_commercial"] is False
    assert any("Portraits" in r and "opted out" in r for r in posture["reasons"]), posture
    assert posture["datasets"][0]["opted_out"] == 1

    # A policy may knowingly accept models with opted-out items.
    _set_policy(admin, allow_opted_out_models=True)
    assert _posture(personas["staff"], model)["usable"] is True


def test_non_commercial_licence_limits_the_model_to_non_commercial_use(admin, personas, tmp_path):
    dataset, _ = make_dataset(admin.org, name="NC set", licence="CC-BY-NC-4.0", seeds=(21,))
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    posture = _posture(personas["staff"], model)
    assert posture["non_commercial"] is True
    assert posture["commercial"] is False
    # The default policy is for commercial use, so the model is not usable...
    assert posture["usable"] is False
    assert any(
        "NC set" in r and "CC-BY-NC-4.0" in r and "commercial" in r for r in posture["reasons"]
    )
    assert posture["datasets"][0]["licences"] == ["CC-BY-NC-4.0"]
    # ...until the active policy says outputs are not used commercially.
    _set_policy(admin, commercial_use=False)
    posture = _posture(personas["staff"], model)
    assert posture["usable"] is True
    assert posture["commercial"] is False and posture["non_commercial"] is True
    listed = personas["staff"].client().get("/api/models").json()["items"]
    assert next(m for m in listed if m["id"] == str(model.pk))["licence_posture"]["usable"] is True


def test_one_non_commercial_item_taints_a_mixed_dataset(admin, personas, tmp_path):
    dataset, _ = make_dataset(admin.org, name="Mixed", seeds=(31,))
    admin.client().post(
        f"/api/datasets/{dataset.pk}/items",
        data={"image": png_upload(seed=32), "licence": "CC-BY-NC-4.0"},
    )
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    posture = _posture(personas["staff"], model)
    assert posture["commercial"] is False and posture["usable"] is False
    assert posture["datasets"][0]["licences"] == ["CC-BY-NC-4.0", "CC0-1.0"]


@pytest.mark.parametrize("commercial_use", [True, False])
def test_expired_licence_blocks_the_model(admin, personas, tmp_path, commercial_use):
    past = timezone.now() - timedelta(days=1)
    payload = {
        "key": "old-deal",
        "name": "Old deal",
        "custom_text": "Ran out yesterday.",
        "allows_training": True,
        "allows_commercial": True,
        "requires_attribution": False,
        "expires_at": past.isoformat(),
    }
    assert _json(admin.client(), "/api/licences", payload).status_code == 201
    dataset, _ = make_dataset(admin.org, name="Archive", licence="old-deal", seeds=(41,))
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    _set_policy(admin, commercial_use=commercial_use)
    posture = _posture(personas["staff"], model)
    assert posture["usable"] is False
    assert posture["commercial"] is False and posture["non_commercial"] is False
    assert any("Archive" in r and "old-deal" in r and "expired" in r for r in posture["reasons"])


def test_licence_that_forbids_training_blocks_the_model(admin, personas, tmp_path):
    dataset, _ = make_dataset(admin.org, name="No derivatives", licence="CC-BY-ND-4.0", seeds=(51,))
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    _set_policy(admin, commercial_use=False)
    posture = _posture(personas["staff"], model)
    assert posture["usable"] is False
    assert any("does not allow training" in r for r in posture["reasons"])


def test_model_without_datasets_is_unusable(admin, personas, tmp_path):
    model = make_model(admin.org, tmp_path, datasets=[])
    posture = _posture(personas["staff"], model)
    assert posture["usable"] is False
    assert posture["datasets"] == []
    assert any("no training datasets" in r for r in posture["reasons"])


def test_model_trained_on_an_empty_dataset_is_unusable(admin, personas, tmp_path):
    dataset, _ = make_dataset(admin.org, name="Empty", seeds=())
    model = make_model(admin.org, tmp_path, datasets=[dataset])
    posture = _posture(personas["staff"], model)
    assert posture["usable"] is False
    assert any("Empty" in r and "no items" in r for r in posture["reasons"])
