"""The release path in-process: gates, decision, stamping and release, and every fault that
must leave an asset quarantined (the Celery worker around it is tested in test_release_e2e)."""

import io
import time

import numpy as np
import pytest
from django.core.files.storage import storages
from PIL import Image

from generation.models import Asset, GenerationJob
from licensing.services import dataset_create, dataset_item_add
from moderation import gating
from moderation.gates import GateOutcome
from moderation.models import AbuseEvent, GateResult
from moderation.tasks import evaluate_job
from policies.services import policy_create
from provenance import credentials, watermark
from provenance.models import Stamp
from provenance.release import trust_anchors, watermark_key
from tests.gating_support import encoded, gated_job, keys_make, picture
from tests.mm_api_support import events, make_model

State = GenerationJob.State
AssetState = Asset.State


@pytest.fixture
def training(personas):
    org = personas["admin"].org
    dataset = dataset_create(org=org, actor=None, name="Scenes")
    items = [
        dataset_item_add(
            dataset=dataset, actor=None, data=encoded(picture(seed)), licence_key="CC0-1.0"
        )
        for seed in (1, 2, 3)
    ]
    return dataset, items


@pytest.fixture
def model(personas, training, tmp_path):
    return make_model(personas["admin"].org, tmp_path, datasets=[training[0]])


@pytest.fixture
def signing(settings, tmp_path, personas):
    keys_make(settings, tmp_path, personas["admin"].org)


def evaluate(job) -> GenerationJob:
    gating.job_evaluate(job_id=job.pk)
    return GenerationJob.objects.get(pk=job.pk)


def states(job) -> list[str]:
    return list(job.assets.order_by("index").values_list("state", flat=True))


def test_unrelated_image_is_released_watermarked_and_signed(personas, model, signing):
    job = evaluate(gated_job(personas["staff"], model, [picture(50)]))
    assert job.state == State.RELEASED
    asset = job.assets.get()
    assert asset.state == AssetState.RELEASED
    data = storages["release"].open(asset.release_key).read()
    report = credentials.read_credentials(data, "image/png", trust_anchors_pem=gating_anchors())
    assert report.state == "trusted"
    generation = report.assertions["org.mintmark.generation"]
    assert generation["asset"] == str(asset.pk) and generation["gates"] == {
        "image_safety": "pass",
        "memorization": "pass",
        "prompt": "pass",
    }
    assert generation["datasets"] == ["Scenes"]
    assert generation["licences"] == [{"dataset": "Scenes", "licence": "CC0-1.0"}]
    stamp = Stamp.objects.get(asset=asset)
    marked = Image.open(io.BytesIO(data))
    assert watermark.decode(marked, key=watermark_key()).payload == stamp.payload
    assert watermark.decode(marked).payload is None  # the installation's own key, not the default
    assert stamp.released_at is not None and len(stamp.phash) == 16
    assert [e.data["from"] for e in events(job.org, "asset.released")] == ["QUARANTINED"]


def gating_anchors():
    return trust_anchors()


def test_copy_of_training_item_is_blocked_naming_it(personas, model, signing, training):
    _, items = training
    copy = picture(2)
    # The same item after JPEG re-encoding and a slight resize.
    reencoded = Image.open(io.BytesIO(encoded(picture(3), "JPEG", quality=70)))
    resized = reencoded.resize((240, 240), Image.LANCZOS).resize((256, 256), Image.LANCZOS)
    job = evaluate(gated_job(personas["staff"], model, [copy, resized, picture(60)]))
    assert states(job) == [AssetState.BLOCKED, AssetState.BLOCKED, AssetState.RELEASED]
    assert job.state == State.RELEASED
    for index, item in ((0, items[1]), (1, items[2])):
        result = GateResult.objects.get(asset__job=job, asset__index=index, gate="memorization")
        assert result.verdict == "block"
        assert str(item.pk) in result.reason and "'Scenes'" in result.reason
        assert result.details["item"] == {"item": str(item.pk), "dataset": "Scenes"}
    assert AbuseEvent.objects.filter(user=personas["staff"].user, kind="image_blocked").count() == 2


def test_mirrored_copy_is_blocked(personas, model, signing, training):
    mirrored = picture(1).transpose(Image.FLIP_LEFT_RIGHT)
    job = evaluate(gated_job(personas["staff"], model, [mirrored]))
    assert job.state == State.BLOCKED
    result = GateResult.objects.get(asset__job=job, gate="memorization")
    assert result.details["matches"][0]["mirrored"] is True


def test_memorization_radius_comes_from_policy(personas, model, signing, training):
    rules = personas["admin"].org.policies.order_by("-version").first().rules
    rules["memorization"]["enabled"] = False
    policy_create(org=personas["admin"].org, actor=None, rules=rules)
    job = evaluate(gated_job(personas["staff"], model, [picture(1)]))
    assert job.state == State.RELEASED


class Faulty:
    """A gate that fails the way the issue lists: raises, hangs, or answers garbage."""

    version = "1"

    def __init__(self, name, mode):
        self.name, self.mode = name, mode

    def check(self, image, context):
        if self.mode == "raise":
            raise RuntimeError("classifier crashed")
        if self.mode == "hang":
            time.sleep(3)
            return GateOutcome("pass")
        return (
            {"verdict": "pass"}
            if self.mode == "garbage"
            else GateOutcome("pass", scores={"x": float("nan")})
        )


@pytest.mark.parametrize("gate_name", ["image_safety", "memorization"])
@pytest.mark.parametrize("mode", ["raise", "hang", "garbage", "nan"])
def test_a_faulted_gate_never_releases(
    personas, model, signing, monkeypatch, settings, gate_name, mode
):
    settings.GATE_TIMEOUT_S = 1
    real = gating.gates_for

    def faulted(rules, datasets):
        return [Faulty(g.name, mode) if g.name == gate_name else g for g in real(rules, datasets)]

    monkeypatch.setattr(gating, "gates_for", faulted)
    job = gated_job(personas["staff"], model, [picture(70)])
    with pytest.raises(gating.GatesIncomplete, match=gate_name):
        gating.job_evaluate(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == State.GATING and states(job) == [AssetState.QUARANTINED]
    result = GateResult.objects.get(asset__job=job, gate=gate_name)
    assert result.verdict == "error" and result.reason
    assert not Stamp.objects.filter(released_at__isnull=False).exists()


def test_the_task_retries_then_fails_the_job_keeping_assets_quarantined(
    personas, model, signing, monkeypatch, settings
):
    settings.GATE_RETRIES = 2
    monkeypatch.setattr(
        gating, "gates_for", lambda rules, datasets: [Faulty("image_safety", "raise")]
    )
    job = gated_job(personas["staff"], model, [picture(71)])
    retries = []

    def fake_retry(self, countdown, exc):
        retries.append(countdown)
        raise RuntimeError("retry scheduled")

    monkeypatch.setattr(evaluate_job, "retry", fake_retry.__get__(evaluate_job))
    for attempt in range(settings.GATE_RETRIES):
        evaluate_job.push_request(retries=attempt)
        with pytest.raises(RuntimeError, match="retry scheduled"):
            evaluate_job.run(str(job.pk))
        evaluate_job.pop_request()
    assert retries == [settings.GATE_RETRY_BASE_S, settings.GATE_RETRY_BASE_S * 2]
    evaluate_job.push_request(retries=settings.GATE_RETRIES)
    evaluate_job.run(str(job.pk))
    evaluate_job.pop_request()
    job.refresh_from_db()
    assert job.state == State.FAILED
    assert "classifier crashed" in job.error and "3 attempts" in job.error
    assert states(job) == [AssetState.QUARANTINED]
    assert job.quota_images == 0


def test_required_classifier_unavailable_holds_with_a_reason_for_admins(
    personas, model, signing, settings
):
    settings.CLIP_MODEL_DIR = None
    rules = personas["admin"].org.policies.order_by("-version").first().rules
    rules["image_safety"]["required_classifiers"] = ["clip_concepts"]
    policy_create(org=personas["admin"].org, actor=None, rules=rules)
    job = gated_job(personas["staff"], model, [picture(72)])
    with pytest.raises(gating.GatesIncomplete, match="clip_concepts"):
        gating.job_evaluate(job_id=job.pk)
    result = GateResult.objects.get(asset__job=job, gate="image_safety")
    assert "MINTMARK_CLIP_MODEL_DIR" in result.reason
    body = personas["admin"].client().get(f"/api/assets/{job.assets.get().pk}").json()
    image_safety = next(r for r in body["gate_results"] if r["gate"] == "image_safety")
    assert image_safety["verdict"] == "error" and "clip_concepts" in image_safety["reason"]


def released_files(isolated_storage) -> list:
    return [p for p in (isolated_storage / "release").rglob("*") if p.is_file()]


def test_missing_signing_key_releases_nothing(
    personas, model, settings, tmp_path, isolated_storage
):
    settings.DATA_DIR = tmp_path / "no-keys"
    job = gated_job(personas["staff"], model, [picture(73)])
    with pytest.raises(gating.GatesIncomplete, match="signing key"):
        gating.job_evaluate(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == State.GATING and states(job) == [AssetState.QUARANTINED]
    assert released_files(isolated_storage) == []


def failing_signer(org):
    from provenance.keys import org_signing_material
    from provenance.release import keys_dir
    from provenance.signing import CallbackSigner, signing_passphrase

    chain, _ = org_signing_material(keys_dir(), org.slug, signing_passphrase())

    def sign(data):
        raise ConnectionError("the HSM is unreachable")

    return CallbackSigner(chain, sign)


def test_failing_signer_releases_nothing(personas, model, signing, settings, isolated_storage):
    settings.SIGNER_FACTORY = "tests.moderation.test_gating_flow:failing_signer"
    job = gated_job(personas["staff"], model, [picture(74)])
    with pytest.raises(gating.GatesIncomplete, match="signing failed"):
        gating.job_evaluate(job_id=job.pk)
    job.refresh_from_db()
    assert states(job) == [AssetState.QUARANTINED]
    assert not Stamp.objects.filter(released_at__isnull=False).exists()
    assert released_files(isolated_storage) == []


def test_review_context_holds_then_reviewer_decides(personas, model, signing):
    job = evaluate(
        gated_job(personas["staff"], model, [picture(80), picture(81)], context="medical")
    )
    assert job.state == State.IN_REVIEW and states(job) == [AssetState.IN_REVIEW] * 2
    first, second = job.assets.order_by("index")
    reviewer = personas["reviewer"].client()
    queue = reviewer.get("/api/reviews").json()
    assert {item["asset"] for item in queue["items"]} == {str(first.pk), str(second.pk)}
    assert {item["context"] for item in queue["items"]} == {"medical"}
    response = reviewer.post(
        f"/api/reviews/{first.pk}",
        {"decision": "approve", "reason": "an anatomy diagram, fine"},
        content_type="application/json",
    )
    assert response.status_code == 200, response.content
    evaluate(job)  # the stamping task the approval queued
    response = reviewer.post(
        f"/api/reviews/{second.pk}",
        {"decision": "reject", "reason": "misleading"},
        content_type="application/json",
    )
    assert response.status_code == 200
    job.refresh_from_db()
    assert states(job) == [AssetState.RELEASED, AssetState.REJECTED]
    assert job.state == State.RELEASED
    staff = personas["staff"].client()
    assert staff.get(f"/api/assets/{first.pk}/file").status_code == 200
    assert staff.get(f"/api/assets/{second.pk}/file").status_code == 404
    # A client follows the URLs on the job's assets instead of building them.
    released, rejected = staff.get(f"/api/generations/{job.pk}").json()["assets"]
    assert released["file_url"] == f"/api/assets/{first.pk}/file"
    assert rejected["file_url"] is None
    assert staff.get(released["file_url"]).status_code == 200
    assert staff.get(released["provenance_url"]).status_code == 200
    assert [e.data["reason"] for e in events(job.org, "review.reject")] == ["misleading"]


def test_a_required_classifier_scores_every_image(personas, model, signing):
    rules = personas["admin"].org.policies.order_by("-version").first().rules
    rules["image_safety"]["required_classifiers"] = ["nudenet"]
    policy_create(org=personas["admin"].org, actor=None, rules=rules)
    job = evaluate(gated_job(personas["staff"], model, [picture(75)]))
    assert job.state == State.RELEASED
    result = GateResult.objects.get(asset__job=job, gate="image_safety")
    assert result.verdict == "pass" and result.gate_version.startswith("image-safety-v1:nudenet")
    assert 0.0 <= result.scores["nudenet.nudity"] < 0.5


def test_a_score_over_the_threshold_blocks(personas, model, signing, monkeypatch):
    from moderation import image_safety

    class Flagging:
        name, version = "nudenet", "test"

        def classify(self, images):
            return [
                image_safety.ClassifierScores("nudenet", "test", {"nudity": 0.93}, {})
                for _ in images
            ]

    monkeypatch.setattr(gating, "load_classifier", lambda name, clip_model_dir: Flagging())
    rules = personas["admin"].org.policies.order_by("-version").first().rules
    rules["image_safety"]["required_classifiers"] = ["nudenet"]
    policy_create(org=personas["admin"].org, actor=None, rules=rules)
    job = evaluate(gated_job(personas["staff"], model, [picture(76)]))
    assert job.state == State.BLOCKED
    result = GateResult.objects.get(asset__job=job, gate="image_safety")
    assert result.verdict == "block" and "nudity 0.93" in result.reason


def test_cancel_during_stamping_wins(personas, model, signing, monkeypatch):
    from generation import release
    from generation.submission import job_cancel

    real = release.image_stamp

    def cancel_meanwhile(subject, marked=None):
        out = real(subject, marked)
        job_cancel(job=GenerationJob.objects.get(assets=subject.asset_id), actor=None)
        return out

    monkeypatch.setattr(release, "image_stamp", cancel_meanwhile)
    job = evaluate(gated_job(personas["staff"], model, [picture(77)]))
    assert job.state == State.CANCELLED and states(job) == [AssetState.QUARANTINED]
    assert not Stamp.objects.filter(released_at__isnull=False).exists()


def test_a_redelivered_evaluation_counts_a_block_once(personas, model, signing, training):
    job = gated_job(personas["staff"], model, [picture(1)])
    stale = list(job.assets.all())
    gating.job_evaluate(job_id=job.pk)
    rules = gating.PolicyRules.model_validate(job.policy.rules)
    gates = gating.gates_for(rules, tuple(str(training[0].pk) for _ in (0,)))
    context = gating.GateContext("j", "m", (str(training[0].pk),), rules)
    assert gating._evaluate(job, stale[0], gates, context, rules, []) is None
    assert AbuseEvent.objects.count() == 1
    assert GateResult.objects.filter(asset=stale[0], gate="memorization").count() == 1


def test_release_refuses_an_asset_without_approval(personas, model, signing):
    from generation.release import asset_release
    from provenance.stamping import StampingError

    job = gated_job(personas["staff"], model, [picture(78)], context="political")
    gating.job_evaluate(job_id=job.pk)
    held = job.assets.get()
    assert held.state == AssetState.IN_REVIEW
    with pytest.raises(StampingError, match="not approved"):
        asset_release(asset_id=held.pk)


class SlowPass:
    """A gate that passes after a while, recording when it answered."""

    name, version = "slow", "1"

    def __init__(self, seconds):
        self.seconds, self.answered = seconds, None

    def check(self, image, context):
        time.sleep(self.seconds)
        self.answered = time.monotonic()
        return GateOutcome("pass")


def test_the_image_is_marked_while_its_gates_run_and_that_marking_is_released(
    personas, model, signing, monkeypatch
):
    from generation import release

    slow = SlowPass(2.0)
    real_gates = gating.gates_for
    monkeypatch.setattr(gating, "gates_for", lambda *args: [*real_gates(*args), slow])
    marks = []

    def recording_mark(image, payload, key):
        marks.append({"started": time.monotonic(), "payload": payload})
        return real_mark(image, payload, key)

    real_mark = release.image_mark
    monkeypatch.setattr(release, "image_mark", recording_mark)
    provenance_marks = []
    monkeypatch.setattr(
        "provenance.release.image_mark",
        lambda *args: provenance_marks.append(args) or real_mark(*args),
    )
    job = evaluate(gated_job(personas["staff"], model, [picture(61)]))
    assert job.state == State.RELEASED
    asset = job.assets.get()
    stamp = Stamp.objects.get(asset=asset)
    # Marked once, beside the gates (started before the slowest gate answered), with the
    # asset's payload; the release used it and did not mark again.
    assert len(marks) == 1 and marks[0]["payload"] == stamp.payload
    assert marks[0]["started"] < slow.answered
    assert provenance_marks == []
    data = storages["release"].open(asset.release_key).read()
    marked = Image.open(io.BytesIO(data))
    assert watermark.decode(marked, key=watermark_key()).payload == stamp.payload
    # Encoded at zlib's fastest level (RELEASE_PNG_LEVEL), which the zlib header names 0; the
    # default level (6) names 2.
    assert idat_zlib_level(data) == 0


def idat_zlib_level(png: bytes) -> int:
    """FLEVEL of the zlib stream in the PNG's first IDAT chunk."""
    at = 8
    while png[at + 4 : at + 8] != b"IDAT":
        at += 12 + int.from_bytes(png[at : at + 4], "big")
    return png[at + 9] >> 6


def test_a_blocked_asset_keeps_an_unused_payload_and_nothing_is_stored(
    personas, model, signing, training, isolated_storage
):
    job = evaluate(gated_job(personas["staff"], model, [picture(2)]))
    asset = job.assets.get()
    assert asset.state == AssetState.BLOCKED and job.state == State.BLOCKED
    # The payload reserved while the gates ran is never counted as issued.
    stamp = Stamp.objects.get(asset=asset)
    assert stamp.released_at is None and not stamp.sha256
    assert released_files(isolated_storage) == []


def test_a_marking_of_other_pixels_or_another_payload_is_not_used(personas, model, signing):
    from generation.release import asset_release
    from provenance.release import image_mark

    job = gated_job(personas["staff"], model, [picture(62)])
    asset = job.assets.get()
    # Gated without releasing: the policy's gates all pass, then release is called by hand.
    rules = gating.PolicyRules.model_validate(job.policy.rules)
    gates = gating.gates_for(rules, ())
    context = gating.GateContext(str(job.pk), str(job.model_id), (), rules)
    image = gating.open_image(storages["quarantine"].open(asset.quarantine_key).read())[0]
    runs = gating.gates_run(gates, image, context, timeout_s=30)
    gating._record(job, asset, runs, gating.decide(runs, required=[g.name for g in gates]))
    own = storages["quarantine"].open(asset.quarantine_key).read()
    stamp = gating.marking_start(asset, own).result()
    other = image_mark(encoded(picture(63)), stamp.payload, watermark_key())
    wrong_payload = image_mark(own, stamp.payload ^ 1, watermark_key())
    for marked in (other, wrong_payload):
        Asset.objects.filter(pk=asset.pk).update(state=AssetState.QUARANTINED)
        released = asset_release(asset_id=asset.pk, marked=marked)
        data = storages["release"].open(released.release_key).read()
        file = Image.open(io.BytesIO(data)).convert("RGB")
        assert watermark.decode(file, key=watermark_key()).payload == stamp.payload
        # The released pixels are this asset's, not the other image's.
        assert distance(file, picture(62)) < 3 < distance(file, picture(63))
        Asset.objects.filter(pk=asset.pk).update(state=AssetState.QUARANTINED, release_key="")
        GenerationJob.objects.filter(pk=job.pk).update(state=State.GATING)


def distance(image, other) -> float:
    """Mean absolute difference of two images' pixels, 0 to 255."""
    first = np.asarray(image.convert("RGB"), dtype=np.float32)
    second = np.asarray(other.convert("RGB").resize(image.size), dtype=np.float32)
    return float(np.abs(first - second).mean())
