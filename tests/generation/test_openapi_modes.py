"""The generation request's mode is an enum in the OpenAPI document (both request bodies), and a
mode outside it is refused by the submit service with its reason, not by a bare schema error."""

import json

import pytest

MODES = ["text-to-image", "image-to-image", "inpaint", "upscale"]


@pytest.mark.django_db
def test_the_schema_lists_every_mode_and_an_unknown_one_is_refused_with_a_reason(personas):
    client = personas["staff"].client()
    schema = client.get("/api/openapi.json").json()
    content = schema["paths"]["/api/generations"]["post"]["requestBody"]["content"]
    for media in ("application/json", "multipart/form-data"):
        assert content[media]["schema"]["properties"]["mode"]["enum"] == MODES, media
    response = client.post(
        "/api/generations",
        json.dumps({"prompt": "a red cube", "model": "tiny", "mode": "outpaint"}),
        content_type="application/json",
    )
    assert response.status_code == 422, response.content
    assert response.json()["detail"] == f"mode must be one of {', '.join(MODES)}."
