"""LoRA adapters as models of their own: an admin registers an adapter folder for a base model
with its training datasets; a job names adapters with weights within the policy; the adapters'
datasets count in the licence posture, the input memorization check and the provenance
records; the worker applies them (verified by digest) and never batches jobs whose adapters
differ."""

import io

import numpy as np
import pytest
from django.core.files.storage import storages
from PIL import Image

from defaultmodel.memorized import MEMORIZED
from generation import worker
from generation.adapters import adapter_register
from generation.models import Asset, GenerationJob
from generation.provenance_record import provenance_record
from generation.release import generation_assertion
from generation.submission import JobRequest, job_submit
from generation.tiny import save_tiny_lora, save_tiny_pipeline
from licensing.services import dataset_create, dataset_item_add
from mintmark.errors import ApiError
from policies.services import policy_create
from tests.gating_support import encoded, picture
from tests.mm_api_support import assert_error, register_at

State = GenerationJob.State
POSTER = MEMORIZED[4]


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    # Adapters live in the org's own folder under a model root (pytest's base temp is one).
    org_folder = tmp_path_factory.getbasetemp() / "acme"
    return {
        "base": save_tiny_pipeline(tmp_path_factory.mktemp("lora-base") / "sd", "sd15"),
        "style": save_tiny_lora(org_folder / "lora-style", seed=1),
        "ink": save_tiny_lora(org_folder / "lora-ink", seed=2),
    }


def dataset(org, name, images, licence="CC0-1.0"):
    made = dataset_create(org=org, actor=None, name=name)
    for image in images:
        dataset_item_add(dataset=made, actor=None, data=encoded(image), licence_key=licence)
    return made


@pytest.fixture
def setup(personas, folders):
    org = personas["admin"].org
    base_data = dataset(org, "Shapes", [picture(1, 64)])
    model = register_at(org, folders["base"], name="tiny", datasets=[base_data])
    posters = dataset(org, "Posters", [POSTER.image()])
    style = adapter_register(
        org=org,
        actor=None,
        base_model=model,
        name="style",
        version="1",
        local_path=str(folders["style"]),
        dataset_ids=[posters.pk],
    )
    return {"org": org, "model": model, "style": style, "posters": posters}


@pytest.fixture(autouse=True)
def no_batch_window(settings):
    settings.GPU_BATCH_WINDOW_MS = 0


def submit(persona, **fields):
    params = {"prompt": "a red cube", "model": "tiny", "width": 32, "height": 32, "steps": 2}
    return job_submit(membership=persona.membership, req=JobRequest(**{**params, **fields}))


def pixels(asset: Asset) -> np.ndarray:
    with storages["quarantine"].open(asset.quarantine_key) as handle:
        return np.asarray(Image.open(io.BytesIO(handle.read())).convert("RGB"), dtype=np.int16)


def set_adapter_rules(org, **limits):
    rules = org.policies.order_by("-version").first().rules
    rules["adapters"].update(limits)
    policy_create(org=org, actor=None, rules=rules)


def test_an_admin_registers_an_adapter_through_the_api(personas, setup, folders):
    model, admin = setup["model"], personas["admin"]
    url = f"/api/models/{model.pk}/adapters"
    body = {"name": "ink", "version": "1", "local_path": str(folders["ink"]), "trained_on": []}
    assert_error(personas["staff"].client().post(url, body, content_type="application/json"), 403)
    assert_error(
        personas["outsider"].client().post(url, body, content_type="application/json"), 404
    )
    outside = {**body, "local_path": str(folders["base"])}  # not the org's folder, no LoRA file
    assert_error(
        admin.client().post(url, outside, content_type="application/json"),
        422,
        "invalid_adapter_folder",
    )
    response = admin.client().post(url, body, content_type="application/json")
    assert response.status_code == 201, response.content
    made = response.json()
    assert len(made["weights_sha256"]) == 64
    # No training data recorded for it: the model with this adapter may not be used.
    assert made["licence_posture"]["usable"] is False
    assert (
        "no training datasets are recorded for adapter ink:1" in made["licence_posture"]["reasons"]
    )
    listed = admin.client().get(url).json()
    assert {entry["name"] for entry in listed} == {"style", "ink"}
    style = next(entry for entry in listed if entry["name"] == "style")
    assert style["licence_posture"]["usable"] is True
    assert {d["name"] for d in style["licence_posture"]["datasets"]} == {"Shapes", "Posters"}


def test_the_policy_limits_which_adapters_how_many_and_how_strong(personas, setup, folders):
    org, staff = setup["org"], personas["staff"]
    adapter_register(
        org=org,
        actor=None,
        base_model=setup["model"],
        name="ink",
        version="1",
        local_path=str(folders["ink"]),
        dataset_ids=[setup["posters"].pk],
    )
    set_adapter_rules(org, max_per_job=1, max_weight=0.8, allowed=["style"])
    cases = [
        ([{"adapter": "style", "weight": 0.5}, {"adapter": "ink", "weight": 0.5}], "too_many"),
        ([{"adapter": "style", "weight": 0.9}], "invalid_adapter_weight"),
        ([{"adapter": "ink", "weight": 0.5}], "adapter_not_allowed"),
        ([{"adapter": "nope", "weight": 0.5}], "unknown_adapter"),
    ]
    for adapters, code in cases:
        with pytest.raises(ApiError) as refused:
            submit(staff, adapters=adapters)
        assert refused.value.status == 422 and refused.value.code.startswith(code)
    job = submit(staff, adapters=[{"adapter": "style:1", "weight": 0.8}])
    assert [(a["name"], a["weight"]) for a in job.adapters] == [("style", 0.8)]
    assert job.adapters[0]["sha256"] == setup["style"].weights_sha256
    # Over the API, with the reason in the body.
    response = staff.client().post(
        "/api/generations",
        {"prompt": "x", "model": "tiny", "adapters": [{"adapter": "style", "weight": 2}]},
        content_type="application/json",
    )
    assert_error(response, 422, "invalid_adapter_weight")
    # The portal's form sends the list as JSON text.
    form = {"prompt": "a red cube", "model": "tiny", "width": "32", "height": "32"}
    page = staff.portal().post(
        "/o/acme/generate/", {**form, "adapters": '[{"adapter": "ink", "weight": 0.5}]'}
    )
    assert page.status_code == 422 and 'data-code="adapter_not_allowed"' in page.content.decode()
    page = staff.portal().post("/o/acme/generate/", {**form, "adapters": "not json"})
    assert page.status_code == 422 and "adapters must be a JSON list" in page.content.decode()


def test_an_adapters_licence_counts_in_the_posture(personas, setup, folders):
    org = setup["org"]
    rights = dataset(org, "Licensed art", [picture(9, 64)], licence="CC-BY-NC-4.0")
    adapter_register(
        org=org,
        actor=None,
        base_model=setup["model"],
        name="nc",
        version="1",
        local_path=str(folders["ink"]),
        dataset_ids=[rights.pk],
    )
    submit(personas["staff"])  # the base model alone is usable commercially
    with pytest.raises(ApiError) as refused:
        submit(personas["staff"], adapters=[{"adapter": "nc", "weight": 1.0}])
    assert refused.value.status == 409 and refused.value.code == "model_not_licensed"
    assert "nc:1" in refused.value.detail and "Licensed art" in refused.value.detail


def test_an_adapters_training_items_count_in_the_input_check(personas, setup):
    poster = encoded(POSTER.image().convert("RGB").resize((64, 64)))
    edit = {"mode": "image-to-image", "image": poster, "width": None, "height": None}
    submit(personas["staff"], **edit)  # not in the base model's data
    with pytest.raises(ApiError) as refused:
        submit(personas["staff"], **edit, adapters=[{"adapter": "style", "weight": 1.0}])
    assert refused.value.code == "input_memorized" and "Posters" in refused.value.detail


def test_jobs_with_other_adapters_run_apart_and_look_different(personas, setup, settings):
    staff = personas["staff"]
    plain = submit(staff, seed=5)
    styled = submit(staff, seed=5, adapters=[{"adapter": "style", "weight": 1.0}])
    styled_too = submit(staff, seed=6, adapters=[{"adapter": "style", "weight": 1.0}])
    half = submit(staff, seed=5, adapters=[{"adapter": "style", "weight": 0.5}])
    worker.job_run(job_id=plain.pk, task_id="task-plain")
    for job in (plain, styled, styled_too, half):
        job.refresh_from_db()
    assert plain.state == State.GATING
    assert {styled.state, styled_too.state, half.state} == {State.QUEUED}
    worker.job_run(job_id=styled.pk, task_id="task-styled")
    for job in (styled, styled_too, half):
        job.refresh_from_db()
    # Equal adapters share a call; another weight is another batch.
    assert (styled.claimed_by, styled_too.claimed_by) == ("task-styled", "task-styled")
    assert half.state == State.QUEUED
    worker.job_run(job_id=half.pk, task_id="task-half")
    images = [pixels(job.assets.get()) for job in (plain, styled, half)]
    for first, second in ((0, 1), (0, 2), (1, 2)):
        assert np.abs(images[first] - images[second]).max() > 1

    # Records and content credentials name the adapter and count its datasets.
    asset = styled.assets.get()
    assertion = generation_assertion(asset, styled)
    assert assertion["datasets"] == ["Posters", "Shapes"]
    assert [a["name"] for a in assertion["adapters"]] == ["style"]
    record = provenance_record(asset)
    assert record["adapters"][0]["datasets"][0]["name"] == "Posters"
    assert generation_assertion(plain.assets.get(), plain)["adapters"] == []


def test_a_changed_adapter_fails_its_job_with_the_reason(personas, setup):
    style = setup["style"]
    style.weights_sha256 = "0" * 64
    style.save(update_fields=["weights_sha256"])
    job = submit(personas["staff"], adapters=[{"adapter": "style", "weight": 1.0}])
    worker.job_run(job_id=job.pk, task_id="task-1")
    job.refresh_from_db()
    assert job.state == State.FAILED and "adapter weights" in job.error
