"""The staff pages through the Django test client: the generate form and every refusal it shows,
the job page with its live fragment and each image's outcome, cancelling, the job list, the
gallery and the released file (tests/browser/test_staff_browser.py drives them in Chromium)."""

import itertools
import json
import re

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile

from generation.models import Asset, GenerationJob
from generation.submission import JobRequest, job_submit
from generation.transitions import job_transition
from moderation import screening
from moderation.models import GateResult, Suspension
from moderation.prompt_classifier import ClassifierUnavailable
from policies.rules import default_rules
from policies.services import policy_create
from provenance.models import Stamp
from tests.mm_api_support import make_dataset, make_model, model_folder, png_bytes, register_at

State = GenerationJob.State
# Watermark payloads are unique across the installation.
PAYLOADS = itertools.count(0xABC0)
FORM = {
    "prompt": "a red cube on a table",
    "negative_prompt": "blur",
    "mode": "text-to-image",
    "width": "64",
    "height": "64",
    "steps": "4",
    "guidance_scale": "6.5",
    "scheduler": "euler",
    "seed": "42",
    "num_images": "2",
    "context": "",
    "strength": "",
}


@pytest.fixture
def model(personas, tmp_path):
    dataset, _ = make_dataset(personas["admin"].org, name="Shapes")
    return make_model(personas["admin"].org, tmp_path, datasets=[dataset])


@pytest.fixture
def org(personas):
    return personas["admin"].org


def post(persona, **fields):
    return persona.portal().post("/o/acme/generate/", {**FORM, "model": "tiny", **fields})


def submitted(persona, model, **fields) -> GenerationJob:
    params = {"prompt": "a red cube", "model": str(model), "width": 64, "height": 64, "steps": 4}
    return job_submit(membership=persona.membership, req=JobRequest(**{**params, **fields}))


def add_asset(job, index: int, state: str, **fields) -> Asset:
    return Asset.objects.create(
        job=job,
        index=index,
        seed=job.seeds[index],
        width=64,
        height=64,
        sha256=f"{index:064x}",
        phash="0" * 16,
        dhash="0" * 16,
        whash="0" * 16,
        state=state,
        **fields,
    )


def released(job, index: int = 0) -> Asset:
    key = storages["release"].save(f"released/{job.pk}/{index}.png", ContentFile(png_bytes(index)))
    asset = add_asset(job, index, Asset.State.RELEASED, release_key=key)
    Stamp.objects.create(
        asset=asset,
        payload=next(PAYLOADS),
        watermark_algorithm="dwtDctSvd",
        manifest_label="urn:c2pa:test",
        certificate_serial="5e41a1",
        sha256="f" * 64,
        released_at=job.created_at,
    )
    return asset


def html_of(response) -> str:
    return response.content.decode()


# The generate form


def test_the_form_shows_models_with_posture_policy_limits_and_defaults(personas, model, org):
    html = html_of(personas["staff"].portal().get("/o/acme/generate/"))
    for field in ("prompt", "negative_prompt", "model", "mode", "width", "height", "steps"):
        assert f'<label for="{field}"' in html, field
    for field in ("guidance_scale", "scheduler", "seed", "num_images", "context", "image", "mask"):
        assert f'<label for="{field}"' in html, field
    assert f'value="{model.pk}" selected>tiny:1 · commercial use' in html
    assert "Multiple of 8, 32 to 1024" in html and "1 to 50." in html and "1 to 4;" in html
    assert 'id="steps" name="steps"' in html and 'value="25"' in html
    assert 'value="dpmpp_2m" selected' in html
    assert "Every training licence allows this use" in html
    assert 'enctype="multipart/form-data"' in html


def test_a_model_the_policy_cannot_use_is_shown_with_why(personas, model, org, tmp_path):
    dataset, _ = make_dataset(org, name="NC photos", licence="CC-BY-NC-4.0")
    make_model(org, tmp_path, name="nc", datasets=[dataset])
    html = html_of(personas["staff"].portal().get("/o/acme/generate/"))
    assert re.search(r"disabled>nc:1 · not usable here</option>", html)
    assert "licence CC-BY-NC-4.0 does not allow commercial use" in html


def test_policy_limits_shape_defaults_and_hints(personas, model, org):
    rules = default_rules()
    rules.update(max_width=256, max_height=128, max_steps=10, max_images_per_job=2)
    policy_create(org=org, actor=None, rules=rules)
    html = html_of(personas["staff"].portal().get("/o/acme/generate/"))
    assert re.search(r'id="width"[^>]*max="256"[^>]*value="256"', html)
    assert re.search(r'id="height"[^>]*max="128"[^>]*value="128"', html)
    assert re.search(r'id="steps"[^>]*max="10" value="10"', html)
    assert "1 to 2;" in html


def test_the_form_offers_the_models_native_size_first_and_says_what_others_do(
    personas, model, org, tmp_path
):
    folder = model_folder(tmp_path, "small")
    (folder / "unet" / "config.json").write_text(json.dumps({"sample_size": 16}))
    (folder / "vae").mkdir()
    (folder / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8, 8, 8, 8]}))
    dataset, _ = make_dataset(org, name="Small", seeds=(4,))
    register_at(org, folder, name="small", datasets=[dataset])
    html = html_of(personas["staff"].portal().get("/o/acme/generate/"))
    suggestions = re.search(r'<datalist id="sizes"[^>]*>(.*?)</datalist>', html).group(1)
    sides = re.findall(r'value="(\d+)"', suggestions)
    assert sides == ["128", "256", "512", "768", "1024"]
    assert 'value="128" label="native size of small:1"' in suggestions
    assert re.search(r'id="width"[^>]*list="sizes"', html)
    hint = re.search(r'data-testid="size-hint">([^<]+)<', html).group(1)
    assert "repeats small shapes across a larger picture" in hint
    assert "Images under 256 px are released enlarged" in hint


def test_submitting_the_form_creates_the_job_and_goes_to_its_page(personas, model):
    response = post(personas["staff"])
    job = GenerationJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/o/acme/jobs/{job.pk}/"
    assert (job.prompt, job.negative_prompt, job.width, job.steps) == (
        "a red cube on a table",
        "blur",
        64,
        4,
    )
    assert (job.guidance_scale, job.scheduler, job.seeds, job.user) == (
        6.5,
        "euler",
        [42, 43],
        personas["staff"].user,
    )


def test_image_to_image_with_an_upload(personas, model):
    upload = SimpleUploadedFile("start.png", png_bytes(3, (64, 64)), content_type="image/png")
    response = post(
        personas["admin"], mode="image-to-image", width="", height="", image=upload, strength="0.5"
    )
    assert response.status_code == 302
    job = GenerationJob.objects.get()
    assert (job.mode, job.width, job.strength, job.user) == (
        "image-to-image",
        64,
        0.5,
        personas["admin"].user,
    )
    assert job.input_image_key


@pytest.mark.parametrize("role", ["reviewer", "auditor"])
def test_reviewers_and_auditors_get_403_on_the_form(personas, model, role):
    client = personas[role].portal()
    assert client.get("/o/acme/generate/").status_code == 403
    assert client.post("/o/acme/generate/", {**FORM, "model": "tiny"}).status_code == 403
    assert not GenerationJob.objects.exists()
    assert ">Generate<" not in html_of(client.get("/o/acme/"))


def test_another_orgs_member_gets_404(personas, model):
    assert personas["outsider"].portal().get("/o/acme/generate/").status_code == 404


def assert_refused(response, status: int, code: str) -> str:
    assert response.status_code == status, html_of(response)[:2000]
    html = html_of(response)
    assert f'role="alert" data-testid="form-error" data-code="{code}"' in html
    assert not GenerationJob.objects.exists()
    return html


@pytest.mark.parametrize(
    "fields, code, message, field",
    [
        ({"steps": "999"}, "invalid_steps", "steps must be 1 to 50.", "steps"),
        ({"width": "60"}, "invalid_size", "width must be a multiple of 8, at least 32.", "width"),
        ({"num_images": "9"}, "invalid_num_images", "num_images must be 1 to 4.", "num_images"),
        ({"guidance_scale": "31"}, "invalid_guidance", "between 0 and 30.", "guidance_scale"),
        ({"steps": "many"}, "invalid_request", "steps: Input should be a valid integer", None),
        ({"seed": "-1"}, "invalid_request", "seed: Input should be greater than", None),
        ({"mode": "image-to-image"}, "missing_image", "image-to-image needs an image", "image"),
    ],
)
def test_bad_values_are_422_with_the_reason_and_the_inputs_kept(
    personas, model, fields, code, message, field
):
    html = assert_refused(post(personas["staff"], **fields), 422, code)
    assert message in html
    assert ">a red cube on a table</textarea>" in html and ">blur</textarea>" in html
    assert 'value="euler" selected' in html
    if field is not None:
        assert re.search(rf'id="{field}"[^>]*generate-error"[^>]*aria-invalid="true"', html)


def test_a_blocked_prompt_says_which_category_blocked_it(personas, model):
    prompt = "a gory scene with a body torn apart and organs everywhere"
    html = assert_refused(post(personas["staff"], prompt=prompt), 422, "prompt_blocked")
    assert "Your prompt was blocked" in html
    assert "because it asks for graphic violence" in html
    assert 'data-testid="blocked-category">graphic violence<' in html
    assert f">{prompt}</textarea>" in html


def test_an_unlicensed_model_is_409_with_the_reasons(personas, model, org, tmp_path):
    dataset, _ = make_dataset(org, name="NC photos", licence="CC-BY-NC-4.0")
    make_model(org, tmp_path, name="nc", datasets=[dataset])
    html = assert_refused(post(personas["staff"], model="nc"), 409, "model_not_licensed")
    assert "This model may not be used" in html
    assert "<li>dataset &#x27;NC photos&#x27;: licence CC-BY-NC-4.0 does not allow" in html


def test_quota_exceeded_is_429_with_what_is_left(personas, model, org):
    rules = default_rules()
    rules["quota"]["user_monthly_images"] = 1
    policy_create(org=org, actor=None, rules=rules)
    html = assert_refused(post(personas["staff"]), 429, "quota_exceeded")
    assert "Not enough quota left" in html
    assert "This job needs 2 image(s); you have 1 left this month (limit 1)." in html


def test_a_suspended_user_is_told_so_at_the_form(personas, model, org):
    Suspension.objects.create(org=org, user=personas["staff"].user, reason="10 blocked prompts")
    html = assert_refused(post(personas["staff"]), 403, "user_suspended")
    assert "until an admin lifts your suspension: 10 blocked prompts." in html


def test_an_unavailable_prompt_gate_is_503_at_the_form(personas, model, monkeypatch):
    def unavailable(*args, **kwargs):
        raise ClassifierUnavailable("the sentence encoder could not be loaded")

    monkeypatch.setattr(screening, "prompt_check", unavailable)
    html = assert_refused(post(personas["staff"]), 503, "prompt_gate_unavailable")
    assert "try again later" in html and "sentence encoder could not be loaded" in html


# The job page


def test_job_page_shows_parameters_and_a_polling_fragment_until_the_job_ends(personas, model):
    job = submitted(personas["staff"], model, steps=8)
    client = personas["staff"].portal()
    html = html_of(client.get(f"/o/acme/jobs/{job.pk}/"))
    assert 'data-testid="job-prompt">a red cube<' in html
    assert "Waiting for a GPU worker" in html and 'hx-trigger="every 1s"' in html
    assert "Cancel job" in html
    live = f"/o/acme/jobs/{job.pk}/live/"
    seen = re.search(r"\?seen=([^\"]+)", html).group(1)
    assert client.get(live, {"seen": seen}).status_code == 204

    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="t")
    GenerationJob.objects.filter(pk=job.pk).update(progress_step=3, progress_total=8)
    fragment = html_of(client.get(live, {"seen": seen}, HTTP_HX_REQUEST="true"))
    assert 'data-testid="progress">Step 3 of 8<' in fragment and "every 1s" in fragment
    assert "<html" not in fragment

    GenerationJob.objects.filter(pk=job.pk).update(progress_step=8)
    job_transition(job_id=job.pk, to=State.GATING)
    add_asset(job, 0, Asset.State.QUARANTINED, quarantine_key="q")
    fragment = html_of(client.get(live, HTTP_HX_REQUEST="true"))
    assert "Checking safety" in fragment and 'data-state="GATING"' in fragment
    assert "every 1s" in fragment

    job_transition(job_id=job.pk, to=State.FAILED, reason="the GPU ran out of memory")
    fragment = html_of(client.get(live, HTTP_HX_REQUEST="true"))
    assert "hx-trigger" not in fragment and 'data-state="FAILED"' in fragment
    assert "the GPU ran out of memory" in fragment
    assert "Not released: the job ended before this image was cleared." in fragment
    # The cancel button goes away with the last poll.
    assert '<div id="job-cancel" hx-swap-oob="true"></div>' in fragment


def test_job_page_shows_the_generated_and_the_released_size(personas, model):
    small = submitted(personas["staff"], model, width=64, height=96)
    html = html_of(personas["staff"].portal().get(f"/o/acme/jobs/{small.pk}/"))
    assert 'data-testid="generated-size">64 \N{MULTIPLICATION SIGN} 96 px<' in html
    # Enlarged by a whole factor until the shorter side is at least 256 px, for the watermark.
    released_size = re.search(r'data-testid="released-size">([^<]+)<', html).group(1)
    assert released_size == "256 \N{MULTIPLICATION SIGN} 384 px "
    assert "enlarged so the invisible watermark survives" in html
    large = submitted(personas["staff"], model, width=256, height=256)
    html = html_of(personas["staff"].portal().get(f"/o/acme/jobs/{large.pk}/"))
    assert 'data-testid="released-size">256 \N{MULTIPLICATION SIGN} 256 px<' in html
    assert "enlarged" not in html


def test_each_images_outcome_in_plain_words(personas, model, org):
    job = submitted(personas["staff"], model, num_images=4)
    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="t")
    job_transition(job_id=job.pk, to=State.GATING)
    kept = released(job, 0)
    payload = f"{kept.stamp.payload:x}"
    blocked = add_asset(job, 1, Asset.State.BLOCKED, quarantine_key="q1")
    copied = org.datasets.get(name="Shapes").items.get()
    copied.caption, copied.creator = "a blue square", "Ann Artist"
    copied.save()
    GateResult.objects.create(
        job=job,
        asset=blocked,
        gate="memorization",
        gate_version="m1",
        verdict="block",
        reason=f"likely copy of training item {copied.pk} of dataset 'Shapes'",
        scores={"closest_distance": 2.0},
        details={"item": {"item": str(copied.pk), "dataset": "Shapes"}, "radius": 8},
    )
    unsafe = add_asset(job, 2, Asset.State.BLOCKED, quarantine_key="q2")
    GateResult.objects.create(
        job=job,
        asset=unsafe,
        gate="image_safety",
        gate_version="s1",
        verdict="block",
        reason="unsafe image: nudity 0.91 is at or over the policy's 0.50 (nudenet)",
    )
    add_asset(job, 3, Asset.State.IN_REVIEW, quarantine_key="q3")
    GenerationJob.objects.filter(pk=job.pk).update(state=State.IN_REVIEW)

    html = html_of(personas["staff"].portal().get(f"/o/acme/jobs/{job.pk}/"))
    file_url = f"/o/acme/assets/{kept.pk}/file/"
    assert f'<img src="{file_url}" alt="Image 1 for the prompt: a red cube"' in html
    assert f'href="{file_url}?download=1" download' in html
    assert f'<code class="breakable">{payload}</code>' in html
    assert "urn:c2pa:test" in html and "5e41a1" in html
    assert f'href="/o/acme/assets/{kept.pk}/provenance/"' in html
    assert "The training-data copy check:</strong> It is a likely copy of an image" in html
    assert f"item {copied.pk} of the dataset “Shapes”" in html
    assert "a blue square" in html and "Ann Artist" in html
    assert "2 of 64 hash bits differ (the policy blocks at 8 or fewer)" in html
    assert "The image safety check:</strong> It looks unsafe: nudity 0.91" in html
    assert "In review: it is released only if a reviewer approves it." in html
    assert 'data-state="IN_REVIEW"' in html
    # Only the released image is served; the others' files are never linked.
    assert set(re.findall(r"/assets/([0-9a-f-]+)/file/", html)) == {str(kept.pk)}


def test_a_copy_found_by_the_pixel_stage_says_both_rules(personas, model, org):
    job = submitted(personas["staff"], model, num_images=1)
    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="t")
    job_transition(job_id=job.pk, to=State.GATING)
    copied = org.datasets.get(name="Shapes").items.get()
    close = add_asset(job, 0, Asset.State.BLOCKED, quarantine_key="q4")
    GateResult.objects.create(
        job=job,
        asset=close,
        gate="memorization",
        gate_version="m3",
        verdict="block",
        reason=f"likely copy of training item {copied.pk} of dataset 'Shapes'",
        scores={"closest_distance": 12.0, "similarity": 0.953, "neighbour_ratio": 0.12},
        details={
            "item": {"item": str(copied.pk), "dataset": "Shapes"},
            "min_similarity": 0.94,
            "exact_similarity": 0.97,
            "max_neighbour_ratio": 0.2,
        },
    )
    html = html_of(personas["staff"].portal().get(f"/o/acme/jobs/{job.pk}/"))
    # The pixel stage says both of its rules and where this image stood.
    assert (
        "pixel similarity 0.953 (the policy blocks at 0.97 and over, or at 0.94 and over when "
        "its distance is at most 0.2 of the next candidates': here 0.120)"
    ) in html


def test_a_rejected_image_shows_the_reviewers_reason(personas, model):
    from moderation.models import Review

    job = submitted(personas["staff"], model)
    job_transition(job_id=job.pk, to=State.RUNNING, claimed_by="t")
    job_transition(job_id=job.pk, to=State.GATING)
    asset = add_asset(job, 0, Asset.State.REJECTED, quarantine_key="q")
    Review.objects.create(
        asset=asset, reviewer=personas["reviewer"].user, decision="reject", reason="off-brand"
    )
    GenerationJob.objects.filter(pk=job.pk).update(state=State.REJECTED)
    html = html_of(personas["staff"].portal().get(f"/o/acme/jobs/{job.pk}/"))
    assert "A reviewer rejected it: off-brand." in html


def test_cancel_a_running_job(personas, model):
    job = submitted(personas["staff"], model)
    client = personas["staff"].portal()
    response = client.post(f"/o/acme/jobs/{job.pk}/cancel/", follow=True)
    assert response.status_code == 200
    job.refresh_from_db()
    assert job.state == State.CANCELLED and job.quota_images == 0
    html = html_of(response)
    assert "Job cancelled." in html and "Cancelled by staff@acme.test" in html
    assert "Cancel job" not in html and "hx-trigger" not in html
    again = html_of(client.post(f"/o/acme/jobs/{job.pk}/cancel/", follow=True))
    assert "The job already ended CANCELLED." in again


def test_who_may_see_and_cancel_a_job(personas, model):
    job = submitted(personas["staff"], model)
    released(job)
    for role in ("reviewer", "auditor", "admin"):
        html = html_of(personas[role].portal().get(f"/o/acme/jobs/{job.pk}/"))
        assert "a red cube" in html, role
        assert ("Cancel job" in html) == (role == "admin"), role
        # The provenance page is for auditors, admins and the job's own staff member.
        assert ("Provenance record" in html) == (role != "reviewer"), role
    for role in ("reviewer", "auditor"):
        assert personas[role].portal().post(f"/o/acme/jobs/{job.pk}/cancel/").status_code == 403
    job.refresh_from_db()
    assert job.state == State.QUEUED


def test_another_orgs_member_gets_404_on_job_and_file_urls(personas, model):
    job = submitted(personas["staff"], model)
    asset = released(job)
    outsider = personas["outsider"].portal()
    for url in (
        f"/o/acme/jobs/{job.pk}/",
        f"/o/acme/jobs/{job.pk}/live/",
        f"/o/acme/assets/{asset.pk}/file/",
        "/o/acme/jobs/",
    ):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post(f"/o/acme/jobs/{job.pk}/cancel/").status_code == 404
    # Their own org's URLs do not reach this org's objects either.
    assert outsider.get(f"/o/globex/jobs/{job.pk}/").status_code == 404
    assert outsider.get(f"/o/globex/assets/{asset.pk}/file/").status_code == 404


def test_another_staff_members_job_is_404(personas, model, org):
    from tests.conftest import make_persona

    colleague = make_persona(org, "staff", "colleague@acme.test")
    job = submitted(personas["staff"], model)
    asset = released(job)
    client = colleague.portal()
    assert client.get(f"/o/acme/jobs/{job.pk}/").status_code == 404
    assert client.get(f"/o/acme/assets/{asset.pk}/file/").status_code == 404
    assert client.post(f"/o/acme/jobs/{job.pk}/cancel/").status_code == 404


# The released file


def test_the_released_file_is_served_and_downloadable(personas, model):
    job = submitted(personas["staff"], model)
    asset = released(job)
    client = personas["staff"].portal()
    shown = client.get(f"/o/acme/assets/{asset.pk}/file/")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert b"".join(shown.streaming_content) == png_bytes(0)
    assert shown["Content-Disposition"].startswith("inline")
    download = client.get(f"/o/acme/assets/{asset.pk}/file/", {"download": "1"})
    assert download["Content-Disposition"] == f'attachment; filename="{asset.pk}.png"'
    assert personas["auditor"].portal().get(f"/o/acme/assets/{asset.pk}/file/").status_code == 200


@pytest.mark.parametrize("state", ["QUARANTINED", "IN_REVIEW", "BLOCKED", "REJECTED"])
def test_a_file_that_is_not_released_is_404(personas, model, state):
    job = submitted(personas["staff"], model)
    key = storages["quarantine"].save("q/0.png", ContentFile(png_bytes(0)))
    asset = add_asset(job, 0, state, quarantine_key=key)
    for role in ("staff", "admin", "reviewer"):
        response = personas[role].portal().get(f"/o/acme/assets/{asset.pk}/file/")
        assert response.status_code == 404, role


# The job list and the gallery


def test_my_jobs_lists_own_jobs_with_state_badges_and_pages(personas, model, org):
    mine = [submitted(personas["staff"], model, prompt=f"job number {i}") for i in range(27)]
    submitted(personas["admin"], model, prompt="the admin's job")
    job_transition(job_id=mine[-1].pk, to=State.CANCELLED)
    client = personas["staff"].portal()
    first = html_of(client.get("/o/acme/jobs/"))
    assert "<h1>My jobs</h1>" in first and "27 jobs" in first
    assert first.count('data-testid="job-row"') == 25
    assert "the admin&#x27;s job" not in first
    assert '<span class="badge CANCELLED">cancelled</span>' in first
    assert "Page 1 of 2" in first and 'href="?page=2"' in first
    second = html_of(client.get("/o/acme/jobs/", {"page": 2}))
    assert second.count('data-testid="job-row"') == 2
    filtered = html_of(client.get("/o/acme/jobs/", {"state": "CANCELLED"}))
    assert filtered.count('data-testid="job-row"') == 1 and "job number 26" in filtered
    assert "My jobs" in first and ">Jobs<" in first


@pytest.mark.parametrize("role", ["reviewer", "auditor", "admin"])
def test_overseeing_roles_see_every_job_of_the_org(personas, model, role):
    submitted(personas["staff"], model, prompt="staff's job")
    submitted(personas["admin"], model, prompt="admin's job")
    html = html_of(personas[role].portal().get("/o/acme/jobs/"))
    assert "Jobs of Acme" in html and "2 jobs" in html
    assert "staff@acme.test" in html


def test_gallery_shows_only_my_released_images(personas, model):
    mine = submitted(personas["staff"], model, num_images=2)
    shown = released(mine, 0)
    add_asset(mine, 1, Asset.State.BLOCKED, quarantine_key="q")
    theirs = released(submitted(personas["admin"], model), 0)
    html = html_of(personas["staff"].portal().get("/o/acme/gallery/"))
    assert html.count('data-testid="gallery-item"') == 1
    assert f"/o/acme/assets/{shown.pk}/file/" in html and str(theirs.pk) not in html
    assert f'href="/o/acme/jobs/{mine.pk}/"' in html


@pytest.mark.parametrize("role", ["reviewer", "auditor"])
def test_gallery_is_for_submitters(personas, role):
    assert personas[role].portal().get("/o/acme/gallery/").status_code == 403


def test_staff_menu(personas):
    html = html_of(personas["staff"].portal().get("/o/acme/"))
    for label, url in (("Generate", "generate/"), ("Jobs", "jobs/"), ("Gallery", "gallery/")):
        assert f'<a href="/o/acme/{url}">{label}</a>' in html
