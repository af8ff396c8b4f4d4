"""Verify (API and command), the auditor's provenance record, and the signed export, on an
image released through the real release path."""

import io
import json
import struct
import zlib

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from PIL import Image, ImageDraw

from moderation import gating
from provenance import credentials, keys
from provenance.signing import FileKeySigner
from tests.gating_support import encoded, gated_job, keys_make, picture
from tests.mm_api_support import assert_error, make_dataset, make_model


@pytest.fixture
def released(personas, settings, tmp_path):
    keys_make(settings, tmp_path, personas["admin"].org)
    dataset, _ = make_dataset(personas["admin"].org)
    model = make_model(personas["admin"].org, tmp_path, datasets=[dataset])
    job = gated_job(personas["staff"], model, [picture(100)])
    gating.job_evaluate(job_id=job.pk)
    asset = job.assets.get()
    assert asset.state == "RELEASED"
    return asset, storages["release"].open(asset.release_key).read()


def verify(client, data: bytes, name="upload.png"):
    upload = SimpleUploadedFile(name, data, content_type="application/octet-stream")
    return client.post("/api/verify", {"image": upload})


def _chunks(png: bytes):
    position = 8
    while position < len(png):
        (length,) = struct.unpack(">I", png[position : position + 4])
        kind = png[position + 4 : position + 8]
        yield kind, png[position : position + 12 + length]
        position += 12 + length


def with_manifest_of(signed: bytes, image: Image.Image) -> bytes:
    """`image` as PNG carrying the manifest chunk of `signed`: edited pixels, kept credentials."""
    manifest = b"".join(chunk for kind, chunk in _chunks(signed) if kind == b"caBX")
    assert manifest
    fresh = encoded(image)
    out = [fresh[:8]]
    for kind, chunk in _chunks(fresh):
        out.append(chunk)
        if kind == b"IHDR":
            out.append(manifest)
    return b"".join(out)


def claiming(asset) -> dict:
    """A manifest that claims to be about one of our assets."""
    return credentials.manifest_definition(
        title="x.png",
        claim_generator="Mintmark",
        model={"name": "m", "version": "1", "family": "sd15"},
        action="created",
        generation={"asset": str(asset.pk)},
        soft_binding=None,
        training_mining="notAllowed",
        has_parent=False,
    )


def test_released_file_is_issued_here(anon, released):
    asset, data = released
    body = verify(anon, data).json()
    assert body["verdict"] == "issued_here", body
    assert body["c2pa"]["state"] == "trusted" and body["c2pa"]["claims_asset"] == str(asset.pk)
    assert body["watermark"]["found"] and body["watermark"]["registered"]
    assert body["fingerprint"]["found"] and body["fingerprint"]["distance"] < 0.01
    assert body["identified_by"] == ["c2pa", "watermark", "fingerprint"]
    assert body["explanation"] == (
        "Identified by its content credentials, its invisible watermark and its fingerprint."
    )
    # The default policy discloses org, model and time to the public, nothing more.
    assert set(body["asset"]) == {"id", "ai_generated", "org", "model", "created_at"}
    assert body["asset"]["id"] == str(asset.pk) and body["provenance"] is None


def test_changed_pixels_are_altered_but_still_named(anon, released):
    asset, data = released
    image = Image.open(io.BytesIO(data)).convert("RGB")
    ImageDraw.Draw(image).rectangle((10, 10, 40, 40), fill=(255, 0, 0))
    body = verify(anon, with_manifest_of(data, image)).json()
    assert body["c2pa"]["state"] == "invalid"
    assert body["verdict"] == "altered"
    # The watermark names it; the fingerprint requires every part of the image to agree, so a
    # painted-over square (the part that keeps look-alike outputs apart) is beyond it.
    assert body["watermark"]["registered"] and body["identified_by"] == ["watermark"]
    assert body["asset"]["id"] == str(asset.pk)


@pytest.mark.parametrize("fmt, options", [("PNG", {}), ("JPEG", {"quality": 85})])
def test_stripped_metadata_is_still_named_by_the_watermark(anon, released, fmt, options):
    asset, data = released
    stripped = encoded(Image.open(io.BytesIO(data)).convert("RGB"), fmt, **options)
    body = verify(anon, stripped).json()
    assert body["c2pa"]["state"] == "none"
    assert body["verdict"] == "altered"
    assert body["watermark"]["registered"] and body["asset"]["id"] == str(asset.pk)
    assert body["identified_by"] == ["watermark", "fingerprint"]
    assert body["explanation"] == (
        "Identified by its invisible watermark and its fingerprint. "
        "Its content credentials did not identify it."
    )


def test_signed_outside_the_trust_anchors_is_untrusted(anon, released, tmp_path):
    other = tmp_path / "another-installation"
    keys.org_key_ensure(other, "mallory", "Mallory", b"pass")
    signer = FileKeySigner.for_org(other, "mallory", b"pass")
    manifest = claiming(released[0])
    forged = credentials.sign_image(encoded(picture(5)), "image/png", manifest, signer)
    body = verify(anon, forged).json()
    assert body["c2pa"]["state"] == "untrusted"
    # A manifest from outside claiming one of our assets proves nothing.
    assert body["verdict"] == "unknown" and body["asset"] is None


def test_unrelated_image_is_unknown(anon, released):
    body = verify(anon, encoded(picture(7))).json()
    assert body["verdict"] == "unknown"
    assert body["watermark"]["found"] is False and body["fingerprint"]["found"] is False
    assert body["asset"] is None and body["evidence"] == [] and body["identified_by"] == []
    assert body["explanation"] == "No signal links this image to an image released here."


def _huge_png(side: int) -> bytes:
    def chunk(kind, payload):
        return (
            struct.pack(">I", len(payload))
            + kind
            + payload
            + struct.pack(">I", zlib.crc32(kind + payload))
        )

    header = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 64))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "data, status",
    [
        (b"this is not an image", 415),
        (encoded(picture(8))[:400], 415),
        (_huge_png(20_000), 413),
        (b"", 422),
    ],
    ids=["text", "truncated", "20000x20000", "empty"],
)
def test_bad_uploads_are_4xx(anon, released, data, status):
    assert_error(verify(anon, data), status)


def test_missing_field_is_422(anon, db):
    # db: the request is counted against the verify rate limit, in the database cache on the
    # embedded default.
    assert_error(anon.post("/api/verify", {}), 422)


def test_owning_orgs_auditor_gets_the_full_record(personas, released):
    asset, data = released
    body = verify(personas["auditor"].client(), data).json()
    assert body["provenance"]["asset"]["id"] == str(asset.pk)
    outsider = verify(personas["outsider"].client(), data).json()
    assert outsider["verdict"] == "issued_here" and outsider["provenance"] is None


def test_provenance_record(personas, released):
    asset, _ = released
    record = personas["auditor"].client().get(f"/api/assets/{asset.pk}/provenance").json()
    assert record["job"]["prompt"] == "a landscape with shapes"
    assert record["asset"]["seed"] == asset.seed
    assert record["model"]["datasets"][0]["licences"][0]["spdx_id"] == "CC0-1.0"
    assert record["policy"]["version"] == 1
    assert {r["gate"] for r in record["gates"]["image"]} == {"image_safety", "memorization"}
    assert record["gates"]["prompt"][0]["verdict"] == "pass"
    certificate = record["stamp"]["certificate"]
    assert certificate["subject"].startswith("CN=Acme") or "Acme" in certificate["subject"]
    actions = [event["action"] for event in record["audit_events"]]
    assert actions[0] == "generation.submitted" and "asset.released" in actions
    assert all(len(event["hash"]) == 64 for event in record["audit_events"])
    # The owner may read it; a reviewer may not; another staff member sees no such asset.
    assert personas["staff"].client().get(f"/api/assets/{asset.pk}/provenance").status_code == 200
    assert_error(personas["reviewer"].client().get(f"/api/assets/{asset.pk}/provenance"), 403)


def test_manifest_names_sizes_and_which_dataset_each_licence_covers(released):
    from provenance.release import trust_anchors

    _, data = released
    report = credentials.read_credentials(data, "image/png", trust_anchors_pem=trust_anchors())
    generation = report.assertions["org.mintmark.generation"]
    width, height = Image.open(io.BytesIO(data)).size
    assert generation["released_size"] == {"width": width, "height": height}
    assert generation["generated_size"] == {"width": 256, "height": 256}
    assert generation["licences"] == [{"dataset": generation["datasets"][0], "licence": "CC0-1.0"}]


def test_verify_command(released, tmp_path):
    asset, data = released
    path = tmp_path / "released.png"
    path.write_bytes(data)
    out = io.StringIO()
    call_command("verify", str(path), "--record", stdout=out)
    body = json.loads(out.getvalue())
    assert body["verdict"] == "issued_here" and body["asset"] == str(asset.pk)
    assert body["identified_by"] == ["c2pa", "watermark", "fingerprint"]
    assert body["provenance"]["stamp"]["released_sha256"]


def test_signed_export_checks_and_detects_tampering(personas, released, tmp_path):
    path = tmp_path / "export.jsonl"
    out = io.StringIO()
    call_command("provenance_export", "--org", "acme", "--output", str(path), stdout=out)
    assert "signed" in out.getvalue()
    lines = path.read_text().splitlines(keepends=True)
    trailer = json.loads(lines[-1])
    assert trailer["type"] == "trailer" and trailer["records"] == 1
    call_command("provenance_export", "--check", str(path), stdout=io.StringIO())
    tampered = tmp_path / "tampered.jsonl"
    forged = lines[1].replace('"action": "', '"action": "x', 1)
    assert forged != lines[1]
    tampered.write_text("".join([lines[0], forged, *lines[2:]]))
    with pytest.raises(Exception, match="does not match the signed digest"):
        call_command("provenance_export", "--check", str(tampered), stdout=io.StringIO())
    truncated = tmp_path / "truncated.jsonl"
    truncated.write_text("".join(lines[:-1]))
    with pytest.raises(Exception, match="truncated"):
        call_command("provenance_export", "--check", str(truncated), stdout=io.StringIO())
    api = personas["auditor"].client().get("/api/provenance/export")
    body = b"".join(api.streaming_content).decode().splitlines()
    assert json.loads(body[-1])["head_hash"] == trailer["head_hash"]
    assert len(body) == len(lines)


def _bumped(value):
    return value + 5 if isinstance(value, int) else ("0" if value[0] != "0" else "1") + value[1:]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(
            lambda t: {**t, "events": t["events"] + 5, "records": t["records"] + 5}, id="counts"
        ),
        *[
            pytest.param(lambda t, f=field: {**t, f: _bumped(t[f])}, id=field)
            for field in ("events", "records", "head_hash", "sha256", "signature")
        ],
        pytest.param(lambda t: {**t, "alg": "Ed25519"}, id="alg"),
        pytest.param(
            lambda t: {k: v for k, v in t.items() if k != "records"}, id="records-removed"
        ),
        pytest.param(lambda t: {**t, "certificate_chain": ""}, id="certificate_chain"),
    ],
)
def test_tampering_any_trailer_field_fails_the_check(personas, released, tmp_path, tamper):
    path = tmp_path / "export.jsonl"
    call_command("provenance_export", "--org", "acme", "--output", str(path), stdout=io.StringIO())
    lines = path.read_text().splitlines(keepends=True)
    tampered = json.dumps(tamper(json.loads(lines[-1])), sort_keys=True) + "\n"
    assert tampered != lines[-1]
    path.write_text("".join([*lines[:-1], tampered]))
    with pytest.raises(Exception, match="NOT valid"):
        call_command("provenance_export", "--check", str(path), stdout=io.StringIO())


def test_a_signature_over_the_digest_alone_no_longer_checks(personas, released, tmp_path):
    """The old trailer signed only the digest, so its counts could be edited freely."""
    import base64

    from provenance.export import export_check
    from provenance.release import org_signer, trust_anchors

    path = tmp_path / "export.jsonl"
    call_command("provenance_export", "--org", "acme", "--output", str(path), stdout=io.StringIO())
    lines = path.read_text().splitlines(keepends=True)
    trailer = json.loads(lines[-1])
    signature = org_signer(personas["admin"].org).sign(trailer["sha256"].encode("ascii"))
    old = {
        **trailer,
        "events": trailer["events"] + 5,
        "signature": base64.b64encode(signature).decode(),
    }
    result = export_check([*lines[:-1], json.dumps(old) + "\n"], trust_anchors_pem=trust_anchors())
    assert not result.ok and "signature does not verify" in result.reason


@pytest.mark.parametrize("fmt", ["GIF", "BMP", "WEBP"])
def test_formats_without_credentials_support_still_get_a_verdict(anon, released, fmt):
    asset, data = released
    # WebP losslessly: this is about formats that carry no credentials; what lossy coding does
    # to the mark (Pillow's WebP default is quality 80) depends on the payload each release
    # draws and is measured in bench/ (watermark_robustness.py), not asserted per payload here.
    options = {"lossless": True} if fmt == "WEBP" else {}
    converted = encoded(Image.open(io.BytesIO(data)).convert("RGB"), fmt, **options)
    body = verify(anon, converted).json()
    assert body["c2pa"]["state"] == "none"
    assert "fingerprint" in body["identified_by"] and "c2pa" not in body["identified_by"]
    if fmt != "GIF":  # GIF's 256-colour palette may destroy the mark; the fingerprint remains
        assert body["watermark"]["registered"]
    assert body["verdict"] == "altered" and body["asset"]["id"] == str(asset.pk)


@pytest.mark.parametrize(
    "identified_by, disagree, sentence",
    [
        (
            ["fingerprint"],
            False,
            "Identified by its fingerprint. Its content credentials did not identify it.",
        ),
        (["c2pa"], False, "Identified by its content credentials."),
        (
            ["c2pa", "watermark"],
            True,
            "Identified by its content credentials and its invisible watermark. "
            "Another signal names a different image released here.",
        ),
    ],
)
def test_the_explanation_names_the_signals_that_identified_the_image(
    identified_by, disagree, sentence
):
    from provenance.verify import _explanation

    assert _explanation(identified_by, disagree) == sentence


def test_another_installations_watermark_key_reads_nothing(anon, released, settings, tmp_path):
    from provenance import watermark
    from provenance.release import watermark_key

    _, data = released
    image = Image.open(io.BytesIO(data)).convert("RGB")
    assert watermark.decode(image, key=watermark_key()).payload is not None
    assert watermark.decode(image, key=b"another installation").payload is None


def test_a_forged_broken_manifest_naming_our_asset_proves_nothing(anon, released, tmp_path):
    other = tmp_path / "forger"
    keys.org_key_ensure(other, "mallory", "Mallory", b"pass")
    manifest = claiming(released[0])
    forged = credentials.sign_image(
        encoded(picture(6)), "image/png", manifest, FileKeySigner.for_org(other, "mallory", b"pass")
    )
    edited = picture(6)
    ImageDraw.Draw(edited).rectangle((0, 0, 20, 20), fill=(0, 0, 0))
    body = verify(anon, with_manifest_of(forged, edited)).json()
    assert body["c2pa"]["state"] in ("invalid", "untrusted")
    assert body["verdict"] == "unknown" and body["asset"] is None
    assert body["c2pa"]["signer"] is None


@pytest.mark.parametrize(
    "lines, reason",
    [
        (["[1, 2]\n"], "not a JSON object"),
        (['{"type": "header"}\n', "not json\n"], "not JSON"),
        (['{"type": "header"}\n'], "truncated"),
        (
            ['{"type": "trailer", "sha256": "x", "alg": "ES256", "certificate_chain": 5}\n'],
            "signed digest",
        ),
    ],
)
def test_export_check_answers_garbage_without_crashing(lines, reason):
    from provenance.export import export_check

    result = export_check(lines, trust_anchors_pem=None)
    assert not result.ok and reason in result.reason


def test_lines_after_the_trailer_are_refused(personas, released, tmp_path):
    from provenance.export import export_check
    from provenance.release import trust_anchors

    path = tmp_path / "export.jsonl"
    call_command("provenance_export", "--org", "acme", "--output", str(path), stdout=io.StringIO())
    lines = path.read_text().splitlines(keepends=True)
    assert export_check(lines, trust_anchors_pem=trust_anchors()).ok
    appended = [*lines, '{"type": "audit_event", "seq": 999}\n']
    result = export_check(appended, trust_anchors_pem=trust_anchors())
    assert not result.ok and "follows the signed trailer" in result.reason


def test_verify_page_says_which_signal_identified_the_image(released):
    from django.test import Client

    _, data = released
    stripped = encoded(Image.open(io.BytesIO(data)).convert("RGB"), "PNG")
    upload = {"image": SimpleUploadedFile("copy.png", stripped, content_type="image/png")}
    html = Client(HTTP_HOST="localhost").post("/verify/", upload).content.decode()
    assert 'data-verdict="altered"' in html
    assert (
        '<p data-testid="identified-by">Identified by its invisible watermark and its '
        "fingerprint. Its content credentials did not identify it.</p>"
    ) in html
