"""Bad input never writes anything and never answers 500: each refusal is a 4xx with the
contract's JSON error body, and the database holds exactly the rows it held before."""

import json
import re
import uuid

import pytest
from django.test import Client

from generation.models import GenerationJob, GenerativeModel
from mintmark.api import api
from mintmark.parsing import MAX_JSON_DEPTH, json_depth
from orgs.services import token_create
from tests.mm_api_support import (
    assert_error,
    make_dataset,
    make_model,
    model_folder,
    png_bytes,
    png_upload,
    row_counts,
)


@pytest.fixture
def setup(personas, tmp_path):
    """acme with a dataset of one item and a model; globex with a dataset of its own."""
    acme = personas["admin"].org
    dataset, (item,) = make_dataset(acme, seeds=(1,))
    model = make_model(acme, tmp_path, datasets=[dataset])
    foreign_dataset, _ = make_dataset(personas["outsider"].org, name="Theirs", seeds=(2,))
    return {
        "admin": personas["admin"].client(),
        "membership": personas["admin"].membership,
        "staff_membership": personas["staff"].membership,
        "dataset": dataset,
        "item": item,
        "model": model,
        "foreign_dataset": foreign_dataset,
        "root": tmp_path,
    }


SCHEMA = api.get_openapi_schema()


def _schema_path(path: str) -> str:
    """The schema's path template that a concrete /api/ path matches."""
    for template in SCHEMA["paths"]:
        if re.fullmatch(re.sub(r"\{\w+\}", "[^/]+", template), path):
            return template
    raise AssertionError(f"{path} matches no path of the schema")


def _operations(media_type: str, *, only: bool = False) -> list[tuple[str, str]]:
    """(method, path template) of every operation whose documented body takes `media_type`
    (`only`: and no other)."""
    found = []
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if media_type in content and (not only or len(content) == 1):
                found.append((method, path))
    return sorted(found)


def _concrete(template: str) -> str:
    """The template with ids that exist nowhere (a body is examined before any lookup)."""
    return re.sub(r"\{(\w+)\}", lambda m: "1" if m[1] == "version" else str(uuid.uuid4()), template)


def _post_json(client, path, body, method="post"):
    data = body if isinstance(body, str) else json.dumps(body)
    return getattr(client, method)(path, data=data, content_type="application/json")


def _refused(response, status, code=None, before=None):
    body = assert_error(response, status, code)
    if before is not None:
        assert row_counts() == before, "a refused request wrote rows"
    return body


# ---------------------------------------------------------------------------------------------
# Policies

POLICY_CASES = {
    "rules not an object": ({"rules": [1, 2]}, "invalid_request", None),
    "rules missing": ({"note": "no rules"}, "invalid_request", None),
    "wrong type for a number": ({"rules": {"max_steps": [30]}}, "invalid_policy", "max_steps"),
    "wrong type for a flag": ({"rules": {"commercial_use": "sometimes"}}, "invalid_policy", None),
    "wrong type for a section": ({"rules": {"quota": 5}}, "invalid_policy", "quota"),
    "unknown key": ({"rules": {"max_widht": 512}}, "invalid_policy", "max_widht"),
    "unknown nested key": (
        {"rules": {"quota": {"org_monthly": 5}}},
        "invalid_policy",
        "org_monthly",
    ),
    "sexual_minors removed": (
        {"rules": {"prompt": {"blocked_categories": ["sexual", "hate"]}}},
        "invalid_policy",
        "sexual_minors",
    ),
    "empty blocked categories": (
        {"rules": {"prompt": {"blocked_categories": []}}},
        "invalid_policy",
        "sexual_minors",
    ),
    "unknown category": (
        {"rules": {"prompt": {"blocked_categories": ["sexual_minors", "kittens"]}}},
        "invalid_policy",
        None,
    ),
    "user quota over org quota": (
        {"rules": {"quota": {"org_monthly_images": 10, "user_monthly_images": 11}}},
        "invalid_policy",
        "user_monthly_images",
    ),
    "negative quota": ({"rules": {"quota": {"org_monthly_images": -1}}}, "invalid_policy", None),
    "width not a multiple of 8": ({"rules": {"max_width": 1001}}, "invalid_policy", "max_width"),
    "height too small": ({"rules": {"max_height": 8}}, "invalid_policy", "max_height"),
    "threshold over 1": (
        {"rules": {"image_safety": {"thresholds": {"nudity": 1.5}}}},
        "invalid_policy",
        "nudity",
    ),
    "blank blocked term": (
        {"rules": {"prompt": {"blocked_terms": ["ok", "  "]}}},
        "invalid_policy",
        None,
    ),
    "unknown review context": (
        {"rules": {"review_contexts": ["astrology"]}},
        "invalid_policy",
        None,
    ),
    "note too long": ({"rules": {}, "note": "x" * 501}, "invalid_request", None),
}


@pytest.mark.parametrize("case", POLICY_CASES, ids=list(POLICY_CASES))
def test_malformed_policy_is_refused(setup, case):
    payload, code, named = POLICY_CASES[case]
    before = row_counts()
    body = _refused(_post_json(setup["admin"], "/api/policies", payload), 422, code, before)
    if named:
        assert named in body["detail"]


def test_policy_body_that_is_not_json_is_refused(setup):
    before = row_counts()
    response = _post_json(setup["admin"], "/api/policies", '{"rules": {"max_steps": 3')
    _refused(response, 400, before=before)


@pytest.mark.parametrize("body", ['["rules"]', "null", '"rules"', "42"])
def test_policy_body_that_is_not_an_object_is_refused(setup, body):
    before = row_counts()
    response = _post_json(setup["admin"], "/api/policies", body)
    assert 400 <= response.status_code < 500
    _refused(response, response.status_code, before=before)


# ---------------------------------------------------------------------------------------------
# Members

MEMBER_CASES = {
    "email of the wrong type": ({"email": 123, "role": "staff"}, 422, "invalid_request"),
    "role of the wrong type": ({"email": "a@x.test", "role": ["admin"]}, 422, "invalid_request"),
    "role missing": ({"email": "a@x.test"}, 422, "invalid_request"),
    "email missing": ({"role": "staff"}, 422, "invalid_request"),
    "not an email": ({"email": "nobody", "role": "staff"}, 422, "invalid_request"),
    "invalid role": ({"email": "a@x.test", "role": "owner"}, 422, "invalid_role"),
    "weak password": (
        {"email": "a@x.test", "role": "staff", "password": "password"},
        422,
        "weak_password",
    ),
    "password of the wrong type": (
        {"email": "a@x.test", "role": "staff", "password": 12345678},
        422,
        "invalid_request",
    ),
    "already a member": ({"email": "staff@acme.test", "role": "staff"}, 409, "already_member"),
    "already a member, other case": (
        {"email": "Staff@ACME.test", "role": "auditor"},
        409,
        "already_member",
    ),
}


@pytest.mark.parametrize("case", MEMBER_CASES, ids=list(MEMBER_CASES))
def test_bad_member_add_is_refused(setup, case):
    payload, status, code = MEMBER_CASES[case]
    before = row_counts()
    _refused(_post_json(setup["admin"], "/api/members", payload), status, code, before)


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"role": "owner"}, "invalid_role"),
        ({"role": 5}, "invalid_request"),
        ({}, "invalid_request"),
    ],
)
def test_bad_member_patch_is_refused(setup, payload, code):
    target = setup["staff_membership"]
    before = row_counts()
    path = f"/api/members/{target.pk}"
    _refused(_post_json(setup["admin"], path, payload, method="patch"), 422, code, before)
    target.refresh_from_db()
    assert target.role == "staff"


def test_demoting_the_last_admin_is_refused(setup):
    admin = setup["membership"]
    before = row_counts()
    response = _post_json(
        setup["admin"], f"/api/members/{admin.pk}", {"role": "auditor"}, method="patch"
    )
    _refused(response, 409, "last_admin", before)
    admin.refresh_from_db()
    assert admin.role == "admin"


def test_removing_the_last_admin_is_refused(setup):
    admin = setup["membership"]
    before = row_counts()
    _refused(setup["admin"].delete(f"/api/members/{admin.pk}"), 409, "last_admin", before)


# ---------------------------------------------------------------------------------------------
# Licences, datasets, items


def _upload(setup, dataset=None, **fields):
    dataset = dataset or setup["dataset"]
    data = {"licence": "CC0-1.0", **fields}
    return setup["admin"].post(f"/api/datasets/{dataset.pk}/items", data=data)


def test_item_with_unknown_licence_is_refused(setup):
    before = row_counts()
    response = _upload(setup, image=png_upload(seed=50), licence="WTFPL-9")
    _refused(response, 422, "unknown_licence", before)


def test_item_with_another_orgs_licence_key_is_refused(setup, personas):
    from licensing.services import licence_create

    licence_create(
        org=personas["outsider"].org,
        actor=None,
        key="globex-only",
        name="Globex only",
        custom_text="ours",
        allows_training=True,
        allows_commercial=True,
        requires_attribution=False,
    )
    before = row_counts()
    response = _upload(setup, image=png_upload(seed=51), licence="globex-only")
    _refused(response, 422, "unknown_licence", before)


def test_duplicate_item_is_refused(setup):
    # Seed 1 is the item the dataset already holds.
    before = row_counts()
    _refused(_upload(setup, image=png_upload(seed=1)), 409, "duplicate_item", before)


def test_non_image_upload_is_refused(setup):
    before = row_counts()
    fake = png_upload(seed=3)
    fake.file.seek(0)
    fake.file.truncate()
    fake.file.write(b"this is not a PNG, whatever its name says")
    fake.file.seek(0)
    fake.size = fake.file.getbuffer().nbytes
    body = _refused(_upload(setup, image=fake), 422, "invalid_image", before)
    # Says what is wrong, not where Pillow's buffer sat in the server's memory.
    assert "not an image format" in body["detail"] and "0x" not in body["detail"]


def test_truncated_image_is_refused(setup):
    from django.core.files.uploadedfile import SimpleUploadedFile

    data = png_bytes(seed=4)[:60]
    before = row_counts()
    image = SimpleUploadedFile("cut.png", data, content_type="image/png")
    _refused(_upload(setup, image=image), 422, "invalid_image", before)


def test_item_upload_without_image_is_refused(setup):
    before = row_counts()
    _refused(_upload(setup), 422, "invalid_request", before)


def test_item_upload_as_json_is_refused(setup):
    before = row_counts()
    path = f"/api/datasets/{setup['dataset'].pk}/items"
    response = _post_json(setup["admin"], path, {"image": "aGVsbG8=", "licence": "CC0-1.0"})
    assert 400 <= response.status_code < 500
    _refused(response, response.status_code, before=before)


def test_item_over_the_upload_cap_is_refused(setup, settings):
    settings.MAX_UPLOAD_BYTES = 1024
    image = png_upload(seed=5)
    assert image.size > 1024
    before = row_counts()
    _refused(_upload(setup, image=image), 413, "file_too_large", before)


def test_item_with_overlong_fields_is_refused(setup):
    before = row_counts()
    response = _upload(setup, image=png_upload(seed=6), creator="x" * 301)
    _refused(response, 422, "invalid_request", before)


def test_oversized_body_is_refused_before_it_is_read(setup, settings):
    limit = settings.MAX_UPLOAD_BYTES + settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    before = row_counts()
    response = setup["admin"].post(
        f"/api/datasets/{setup['dataset'].pk}/items",
        data=b"",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(limit + 1),
    )
    _refused(response, 413, "body_too_large", before)


def test_json_body_over_the_form_limit_is_refused(setup, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    before = row_counts()
    body = {"rules": {"prompt": {"blocked_terms": [f"term{i}" for i in range(1000)]}}}
    response = _post_json(setup["admin"], "/api/policies", body)
    _refused(response, 413, before=before)


LICENCE_OK = {
    "key": "stock-2024",
    "name": "Stock 2024",
    "custom_text": "Terms.",
    "allows_training": True,
    "allows_commercial": True,
    "requires_attribution": False,
}

LICENCE_CASES = {
    "neither SPDX id nor text": ({"custom_text": ""}, 422, "invalid_licence"),
    "key exists": ({"key": "CC0-1.0"}, 409, "licence_exists"),
    "flag of the wrong type": ({"allows_training": "maybe"}, 422, "invalid_request"),
    "flag missing": ({"allows_commercial": None}, 422, "invalid_request"),
    "key with spaces": ({"key": "my licence"}, 422, "invalid_request"),
    "expiry not a date": ({"expires_at": "next tuesday"}, 422, "invalid_request"),
}


@pytest.mark.parametrize("case", LICENCE_CASES, ids=list(LICENCE_CASES))
def test_bad_licence_is_refused(setup, case):
    change, status, code = LICENCE_CASES[case]
    payload = {k: v for k, v in {**LICENCE_OK, **change}.items() if v is not None}
    before = row_counts()
    _refused(_post_json(setup["admin"], "/api/licences", payload), status, code, before)


@pytest.mark.parametrize(
    ("payload", "status", "code"),
    [
        ({"name": "Photos"}, 409, "dataset_exists"),
        ({"name": ""}, 422, "invalid_request"),
        ({"name": "   "}, 422, "invalid_dataset"),
        ({"name": 7}, 422, "invalid_request"),
        ({}, 422, "invalid_request"),
    ],
)
def test_bad_dataset_is_refused(setup, payload, status, code):
    before = row_counts()
    _refused(_post_json(setup["admin"], "/api/datasets", payload), status, code, before)


def test_bad_opt_out_is_refused(setup):
    dataset, item = setup["dataset"], setup["item"]
    path = f"/api/datasets/{dataset.pk}/items/{item.pk}/opt-out"
    before = row_counts()
    _refused(_post_json(setup["admin"], path, {"requested_by": "  "}), 422, "invalid_request")
    _refused(_post_json(setup["admin"], path, {}), 422, "invalid_request", before)
    item.refresh_from_db()
    assert item.consent == "unknown"


def test_opt_out_through_the_wrong_dataset_is_404(setup):
    other, _ = make_dataset(setup["dataset"].org, name="Other", seeds=(9,))
    item = setup["item"]
    before = row_counts()
    path = f"/api/datasets/{other.pk}/items/{item.pk}/opt-out"
    _refused(_post_json(setup["admin"], path, {"requested_by": "o"}), 404, "not_found", before)


# ---------------------------------------------------------------------------------------------
# Models


def _model_payload(setup, **change):
    return {
        "name": "fresh",
        "version": "1",
        "family": "sd15",
        "local_path": str(model_folder(setup["root"], "fresh")),
        "trained_on": [str(setup["dataset"].pk)],
        **change,
    }


def test_model_with_unknown_dataset_is_refused(setup):
    before = row_counts()
    payload = _model_payload(setup, trained_on=[str(uuid.uuid4())])
    _refused(_post_json(setup["admin"], "/api/models", payload), 422, "unknown_dataset", before)


def test_model_with_another_orgs_dataset_is_refused_like_an_unknown_one(setup):
    before = row_counts()
    payload = _model_payload(setup, trained_on=[str(setup["foreign_dataset"].pk)])
    _refused(_post_json(setup["admin"], "/api/models", payload), 422, "unknown_dataset", before)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        ({"family": "dall-e"}, 422, "invalid_family"),
        ({"trained_on": ["not-a-uuid"]}, 422, "invalid_request"),
        ({"trained_on": "all of them"}, 422, "invalid_request"),
        ({"name": ""}, 422, "invalid_request"),
        ({"name": "  "}, 422, "invalid_model"),
        ({"local_path": "/nonexistent/model/folder"}, 422, "invalid_model_folder"),
        ({"name": "tiny"}, 409, "model_exists"),
    ],
)
def test_bad_model_registration_is_refused(setup, change, status, code):
    before = row_counts()
    payload = _model_payload(setup, **change)
    _refused(_post_json(setup["admin"], "/api/models", payload), status, code, before)


def test_model_folder_without_weights_is_refused(setup):
    folder = setup["root"] / "no-weights"
    (folder / "unet").mkdir(parents=True)
    (folder / "unet" / "config.json").write_text("{}")
    before = row_counts()
    payload = _model_payload(setup, local_path=str(folder))
    _refused(
        _post_json(setup["admin"], "/api/models", payload), 422, "invalid_model_folder", before
    )
    assert not GenerativeModel.objects.filter(name="fresh").exists()


# ---------------------------------------------------------------------------------------------
# Methods, path ids and query strings


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("put", "/api/members"),
        ("delete", "/api/policies"),
        ("post", "/api/me"),
        ("patch", "/api/datasets"),
        ("put", "/api/tokens/{uuid}"),
        ("get", "/api/datasets/{dataset}/items/{item}/opt-out"),
    ],
)
def test_wrong_method_is_405_json(setup, method, path):
    path = path.format(uuid=uuid.uuid4(), dataset=setup["dataset"].pk, item=setup["item"].pk)
    before = row_counts()
    response = getattr(setup["admin"], method)(path)
    _refused(response, 405, before=before)
    # The Allow header lists exactly the methods that path serves.
    allowed = {part.strip() for part in response["Allow"].split(",")}
    assert allowed == {m.upper() for m in SCHEMA["paths"][_schema_path(path)]}


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/datasets/not-a-uuid"),
        ("get", "/api/datasets/not-a-uuid/items"),
        ("post", "/api/datasets/not-a-uuid/items"),
        ("post", "/api/datasets/{dataset}/items/12345/opt-out"),
        ("get", "/api/models/../../etc"),
        ("get", "/api/models/1"),
        ("patch", "/api/members/0x1f"),
        ("delete", "/api/members/{uuid}x"),
        ("delete", "/api/tokens/%00"),
        ("get", "/api/policies/latest"),
        ("get", "/api/policies/1.5"),
        ("get", "/api/policies/-1"),
        ("get", "/api/policies/0"),
        ("get", "/api/policies/99999999999999999999999"),
        ("get", "/api/no-such-route"),
    ],
)
def test_malformed_path_id_is_4xx_json(setup, method, path):
    path = path.format(uuid=uuid.uuid4(), dataset=setup["dataset"].pk)
    before = row_counts()
    client = setup["admin"]
    kwargs = {}
    if method in ("post", "patch"):
        kwargs = {"data": json.dumps({"role": "staff"}), "content_type": "application/json"}
    response = getattr(client, method)(path, **kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.content[:300])
    _refused(response, response.status_code, before=before)


@pytest.mark.parametrize(
    "query",
    [
        "limit=0",
        "limit=201",
        "limit=ten",
        "offset=-1",
        "offset=99999999999999999999999999",
        "limit=1e3",
    ],
)
def test_bad_pagination_is_422(setup, query):
    _refused(setup["admin"].get(f"/api/datasets?{query}"), 422, "invalid_request")


@pytest.mark.parametrize(
    "query", ["since=yesterday", "format=xml", "until=2024-13-45", "action=" + "x" * 101]
)
def test_bad_audit_filters_are_422(setup, query):
    _refused(setup["admin"].get(f"/api/audit/events?{query}"), 422, "invalid_request")


@pytest.mark.parametrize(
    "header", ["Bearer", "Bearer ", "Bearer mm_nope", "Token abc", "Basic dXNlcjpwYXNz"]
)
def test_bad_credentials_are_401(db, header):
    client = Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=header)
    _refused(client.get("/api/me"), 401, "not_authenticated")


# ---------------------------------------------------------------------------------------------
# Text the database cannot hold, values it cannot represent, bodies that are not JSON

NUL_BODIES = {
    "member email": ("post", "/api/members", {"email": "a\x00b@x.test", "role": "staff"}),
    "member role": ("patch", "/api/members/{staff}", {"role": "st\x00aff"}),
    "token name": ("post", "/api/tokens", {"name": "cli\x00"}),
    "dataset name": ("post", "/api/datasets", {"name": "a\x00b"}),
    "policy note": ("post", "/api/policies", {"rules": {}, "note": "a\x00"}),
    "policy term": ("post", "/api/policies", {"rules": {"prompt": {"blocked_terms": ["a\x00"]}}}),
    "policy key": ("post", "/api/policies", {"rules": {"max_\x00": 1}}),
    "licence name": ("post", "/api/licences", {**LICENCE_OK, "name": "Stock\x00"}),
    "opt-out owner": (
        "post",
        "/api/datasets/{dataset}/items/{item}/opt-out",
        {"requested_by": "\x00"},
    ),
    "model path": (
        "post",
        "/api/models",
        {"name": "m", "version": "1", "family": "sd15", "local_path": "/tmp/a\x00b"},
    ),
}


@pytest.mark.parametrize("case", NUL_BODIES, ids=list(NUL_BODIES))
def test_nul_in_json_text_is_refused_on_every_database(setup, case):
    method, path, payload = NUL_BODIES[case]
    path = path.format(
        staff=setup["staff_membership"].pk, dataset=setup["dataset"].pk, item=setup["item"].pk
    )
    before = row_counts()
    _refused(
        _post_json(setup["admin"], path, payload, method=method), 422, "invalid_request", before
    )


@pytest.mark.parametrize(
    "fields", [{"source_url": "https://x.test/\x00"}, {"licence": "CC0\x00"}, {"caption": "\x00"}]
)
def test_nul_in_form_fields_is_refused(setup, fields):
    before = row_counts()
    response = _upload(setup, image=png_upload(seed=60), **fields)
    _refused(response, 422, "invalid_request", before)


@pytest.mark.parametrize("name", ["actor", "action", "subject_type", "subject_id"])
def test_nul_in_query_is_refused(setup, name):
    response = setup["admin"].get("/api/audit/events", {name: "x\x00"})
    _refused(response, 422, "invalid_request")


@pytest.mark.parametrize(
    "when", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00Z"]
)
def test_extreme_dates_are_answered_never_500(setup, when):
    for name in ("since", "until"):
        response = setup["admin"].get("/api/audit/events", {name: when})
        if response.status_code != 200:
            _refused(response, 422, "invalid_request")
    before = row_counts()
    payload = {**LICENCE_OK, "expires_at": when}
    response = _post_json(setup["admin"], "/api/licences", payload)
    if response.status_code == 201:
        assert row_counts()["Licence"] == before["Licence"] + 1
    else:
        _refused(response, 422, "invalid_request", before)


@pytest.mark.parametrize(
    "raw",
    [
        b'{"rules": {}, "note": "\xff\xfe"}',
        b"[" * 100_000 + b"]" * 100_000,
        b'{"rules": {"quota": ' + b"[" * 5_000 + b"]" * 5_000 + b"}}",
        b"",
    ],
    ids=["invalid utf-8", "deeply nested", "deeply nested rules", "empty"],
)
def test_unparseable_json_is_refused(setup, raw):
    before = row_counts()
    response = setup["admin"].post("/api/policies", data=raw, content_type="application/json")
    assert response.status_code in (400, 422)
    _refused(response, response.status_code, before=before)


# ---------------------------------------------------------------------------------------------
# The body guard (mintmark.parsing): every operation that takes a body, from the schema.

JSON_OPERATIONS = _operations("application/json")
FORM_ONLY_OPERATIONS = _operations("multipart/form-data", only=True)
GENERATION = {"prompt": "a red cube", "model": "tiny", "width": 64, "height": 64, "steps": 4}


def test_the_schema_lists_the_operations_that_take_bodies():
    assert ("post", "/api/generations") in JSON_OPERATIONS
    assert ("post", "/api/policies") in JSON_OPERATIONS
    assert FORM_ONLY_OPERATIONS == [
        ("post", "/api/datasets/{dataset_id}/items"),
        ("post", "/api/verify"),
    ]


@pytest.mark.parametrize(
    ("method", "path"), JSON_OPERATIONS, ids=[" ".join(o) for o in JSON_OPERATIONS]
)
def test_a_nesting_bomb_is_400_on_every_json_operation(setup, method, path):
    before = row_counts()
    raw = b"[" * 100_000 + b"]" * 100_000
    response = setup["admin"].generic(
        method.upper(), _concrete(path), raw, content_type="application/json"
    )
    body = _refused(response, 400, "invalid_json", before)
    assert "100000 levels deep" in body["detail"]


@pytest.mark.parametrize(
    ("method", "path"), JSON_OPERATIONS, ids=[" ".join(o) for o in JSON_OPERATIONS]
)
def test_json_sent_as_another_media_type_is_415_on_every_json_operation(setup, method, path):
    before = row_counts()
    for media_type in ("text/plain", "application/x-www-form-urlencoded", "application/jsonx"):
        response = setup["admin"].generic(
            method.upper(), _concrete(path), json.dumps({"rules": {}}), content_type=media_type
        )
        body = _refused(response, 415, "unsupported_media_type", before)
        assert "application/json" in body["detail"]


@pytest.mark.parametrize(
    ("path", "body"),
    [("/api/generations", GENERATION), ("/api/policies", {"rules": {"max_steps": 30}})],
)
def test_a_valid_body_as_text_plain_is_refused_not_taken(setup, path, body):
    before, jobs = row_counts(), GenerationJob.objects.count()
    response = setup["admin"].post(path, json.dumps(body), content_type="text/plain")
    _refused(response, 415, "unsupported_media_type", before)
    assert GenerationJob.objects.count() == jobs
    # The same body as JSON is taken, with or without a charset.
    taken = setup["admin"].post(
        path, json.dumps(body), content_type="application/json; charset=UTF-8"
    )
    assert taken.status_code in (201, 202), taken.content[:300]


def test_json_in_another_charset_is_415(setup):
    response = setup["admin"].post(
        "/api/policies", json.dumps({"rules": {}}), content_type="application/json; charset=latin-1"
    )
    _refused(response, 415, "unsupported_media_type")


@pytest.mark.parametrize(
    ("method", "path"), FORM_ONLY_OPERATIONS, ids=[" ".join(o) for o in FORM_ONLY_OPERATIONS]
)
def test_json_sent_to_a_form_operation_is_415(setup, method, path):
    path = path.format(dataset_id=setup["dataset"].pk)
    before = row_counts()
    response = _post_json(setup["admin"], path, {"image": "aGVsbG8=", "licence": "CC0-1.0"})
    _refused(response, 415, "unsupported_media_type", before)


@pytest.mark.parametrize(
    "path", ["/api/generations", "/api/verify", "/api/datasets/{dataset}/items"]
)
def test_a_broken_multipart_body_is_400(setup, path):
    path = path.format(dataset=setup["dataset"].pk)
    before = row_counts()
    for media_type in ("multipart/form-data", "multipart/form-data; boundary="):
        response = setup["admin"].post(path, b"--x\r\nnot a form", content_type=media_type)
        _refused(response, 400, "invalid_form", before)


def test_nul_in_a_generation_form_is_refused(setup):
    before, jobs = row_counts(), GenerationJob.objects.count()
    fields = {**GENERATION, "prompt": "a red\x00cube", "mode": "text-to-image"}
    _refused(setup["admin"].post("/api/generations", fields), 422, "invalid_request", before)
    assert GenerationJob.objects.count() == jobs


def test_a_json_body_over_the_limit_is_413_before_it_is_read(setup, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    before = row_counts()
    body = {**GENERATION, "prompt": "x" * 4096}
    response = _post_json(setup["admin"], "/api/generations", body)
    _refused(response, 413, "body_too_large", before)


@pytest.mark.parametrize(
    ("method", "path"),
    [("delete", "/api/tokens/{token}"), ("post", "/api/generations/{job}/cancel")],
)
def test_bodyless_operations_ignore_the_media_type(setup, personas, method, path):
    token = token_create(membership=personas["admin"].membership, name="spare").token
    job = _post_json(setup["admin"], "/api/generations", GENERATION).json()["id"]
    response = getattr(setup["admin"], method)(
        path.format(token=token.pk, job=job), "whatever", content_type="text/plain"
    )
    assert response.status_code in (200, 204), response.content[:300]


def test_json_depth_counts_structure_not_strings():
    assert json_depth("[]") == 1
    assert json_depth('{"a": "[[[[{{", "b": [1, {"c": "]]\\"[["}]}') == 3
    assert json_depth('"[[["') == 0
    assert json_depth("[" * 70 + "]" * 70) == 70


@pytest.mark.parametrize(("depth", "status"), [(MAX_JSON_DEPTH, 422), (MAX_JSON_DEPTH + 1, 400)])
def test_json_up_to_the_depth_limit_is_parsed(setup, depth, status):
    # The deepest accepted body reaches validation (rules is no object: 422); one more level
    # does not get past the guard.
    nested = "[" * (depth - 1) + "]" * (depth - 1)
    raw = '{"rules": ' + nested + "}" if depth > 1 else "{}"
    response = setup["admin"].post("/api/policies", raw, content_type="application/json")
    _refused(response, status)


# ---------------------------------------------------------------------------------------------
# Credentials: 401 without them on every method, CSRF only for portal sessions


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/policies"),
        ("post", "/api/generations"),
        ("patch", "/api/members/{uuid}"),
        ("delete", "/api/tokens/{uuid}"),
        ("post", "/api/tokens"),
    ],
)
@pytest.mark.parametrize("header", [None, "Bearer mm_nope", "Token abc"])
def test_writes_without_valid_credentials_are_401_not_a_csrf_403(db, method, path, header):
    # A real client: Django's test client skips CSRF unless told to enforce it.
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True, **extra)
    response = getattr(client, method)(
        path.format(uuid=uuid.uuid4()), json.dumps({"rules": {}}), content_type="application/json"
    )
    _refused(response, 401, "not_authenticated")


def test_a_bad_token_beside_a_session_is_401(personas):
    client = personas["admin"].portal()
    client.defaults["HTTP_AUTHORIZATION"] = "Bearer mm_nope"
    _refused(client.get("/api/me"), 401, "not_authenticated")


def test_bearer_requests_are_never_csrf_checked(personas):
    client = Client(
        HTTP_HOST="localhost",
        enforce_csrf_checks=True,
        HTTP_AUTHORIZATION=f"Bearer {personas['admin'].token}",
    )
    response = _post_json(client, "/api/tokens", {"name": "cli"})
    assert response.status_code == 201, response.content[:300]


def test_a_session_write_needs_the_csrf_token(personas):
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    client.force_login(personas["admin"].user)
    before = row_counts()
    _refused(_post_json(client, "/api/tokens", {"name": "portal"}), 403, "csrf_failed", before)
    # A read needs none; a write with the token from the cookie goes through.
    assert client.get("/api/me").status_code == 200
    csrf = "k" * 32  # a CSRF secret as the cookie holds it; the header must repeat it
    client.cookies["csrftoken"] = csrf
    response = client.post(
        "/api/tokens",
        json.dumps({"name": "portal"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201, response.content[:300]


# ---------------------------------------------------------------------------------------------
# Found by tests/test_schemathesis.py


def test_export_before_provenance_init_is_a_documented_409(setup, settings, tmp_path):
    # The org has no signing key yet: the export cannot be signed. A data folder of its own, so
    # a key another test left in the run's folder for the same org slug does not count.
    settings.DATA_DIR = tmp_path / "data"
    response = setup["admin"].get("/api/provenance/export")
    _refused(response, 409, "no_signing_key")
    assert "409" in {str(s) for s in SCHEMA["paths"]["/api/provenance/export"]["get"]["responses"]}


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_audit_exports_answer_a_documented_media_type(setup, fmt):
    response = setup["admin"].get(f"/api/audit/events?format={fmt}")
    assert response.status_code == 200
    media_type = response["Content-Type"].split(";")[0]
    assert media_type in SCHEMA["paths"]["/api/audit/events"]["get"]["responses"][200]["content"]


def test_a_time_offset_postgresql_cannot_store_is_taken_in_utc(setup):
    # ISO 8601 allows -22:33; PostgreSQL stores offsets up to ±15:59 and answered a 500.
    payload = {**LICENCE_OK, "key": "far-offset", "expires_at": "1024-09-16T04:23:10-22:33"}
    response = _post_json(setup["admin"], "/api/licences", payload)
    assert response.status_code == 201, response.content[:300]
    assert response.json()["expires_at"].startswith("1024-09-17T02:56:10")
    for name in ("since", "until"):
        events = setup["admin"].get("/api/audit/events", {name: "2024-01-01T00:00:00+23:59"})
        assert events.status_code == 200, events.content[:300]


def test_the_event_stream_documents_its_media_type_and_its_cap():
    answers = SCHEMA["paths"]["/api/generations/{job_id}/events"]["get"]["responses"]
    assert "text/event-stream" in answers[200]["content"]
    assert 429 in answers  # too_many_streams past the per-user cap
