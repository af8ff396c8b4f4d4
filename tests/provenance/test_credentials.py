"""provenance.credentials and provenance.signing: manifests signed into images with c2pa-python
and read back as trusted / untrusted / invalid / none, edits keeping their input's manifest,
signers backed by key files or callbacks, and failures that must stop a release."""

import io
import time
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from PIL import Image

from provenance import credentials, keys
from provenance.credentials import CredentialsUnreadable, manifest_definition, sign_image
from provenance.signing import CallbackSigner, FileKeySigner, SigningFailed

PASS = b"credentials test passphrase"
MODEL = {"name": "mintmark-tiny", "version": "1.2", "family": "sd15"}
GENERATION = {
    "job": "6f1c",
    "policy_version": 3,
    "gates": {"prompt": "pass", "image_safety": "pass", "memorization": "pass"},
    "datasets": ["open-shapes"],
    "licences": [{"dataset": "open-shapes", "licence": "CC0-1.0"}],
}


@pytest.fixture(scope="module")
def installation(tmp_path_factory):
    base = tmp_path_factory.mktemp("keys")
    info = keys.org_key_ensure(base, "acme", "Acme", PASS)
    return base, info, keys.trust_anchors_pem(base)


@pytest.fixture
def signer(installation):
    base, _, _ = installation
    return FileKeySigner.for_org(base, "acme", PASS)


@pytest.fixture
def anchors(installation):
    return installation[2]


def png(seed: int, size: int = 96) -> bytes:
    rng = np.random.default_rng(seed)
    # Smooth gradients plus noise: compresses like a rendered image, not like pure noise.
    ramp = np.linspace(0, 200, size, dtype=np.float32)
    pixels = ramp[None, :, None] + ramp[:, None, None] * 0.2 + rng.normal(0, 12, (size, size, 3))
    buffer = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(buffer, "PNG")
    return buffer.getvalue()


def definition(**overrides) -> dict:
    args = {
        "title": "asset.png",
        "claim_generator": "Mintmark/0.1.0",
        "model": MODEL,
        "action": "created",
        "generation": GENERATION,
        "soft_binding": {"alg": "org.mintmark.watermark.1", "value": b"\x00\x12\xab\xff"},
        "training_mining": "notAllowed",
        "has_parent": False,
    } | overrides
    return manifest_definition(**args)


def read(data: bytes, anchors: bytes, mime: str = "image/png"):
    return credentials.read_credentials(data, mime, trust_anchors_pem=anchors)


def test_signed_image_is_trusted_and_carries_every_assertion(installation, signer):
    _, info, anchors = installation
    signed = sign_image(png(1), "image/png", definition(), signer)
    report = read(signed, anchors)
    assert report.state == "trusted", report.failures
    assert report.validation_state == "Trusted"
    assert "signingCredential.trusted" in report.codes
    assert report.signer_serial == info.cert.serial_hex
    assert report.signer_subject == {"O": "Acme", "CN": "Acme Mintmark content signing"}
    assert report.manifest_label and report.manifest_label.startswith("urn:c2pa:")
    assert report.manifest["claim_generator_info"][0]["name"] == "Mintmark"
    assert report.manifest["claim_generator_info"][0]["version"] == "0.1.0"
    assert report.manifest["thumbnail"]["format"].startswith("image/")

    (created,) = report.assertions["c2pa.actions.v2"]["actions"]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == credentials.TRAINED_ALGORITHMIC_MEDIA
    assert created["softwareAgent"] == {
        "name": "mintmark-tiny",
        "version": "1.2",
        "org.mintmark.family": "sd15",
    }
    assert report.assertions["org.mintmark.generation"] == GENERATION
    entries = report.assertions["cawg.training-mining"]["entries"]
    assert set(entries) == set(credentials.TRAINING_MINING_USES)
    assert {entry["use"] for entry in entries.values()} == {"notAllowed"}
    assert report.soft_bindings() == [("org.mintmark.watermark.1", b"\x00\x12\xab\xff")]


def test_constrained_training_policy_carries_its_terms(signer, anchors):
    manifest = definition(training_mining="constrained", training_constraint="licence required")
    report = read(sign_image(png(2), "image/png", manifest, signer), anchors)
    entry = report.assertions["cawg.training-mining"]["entries"]["cawg.ai_training"]
    assert entry == {"use": "constrained", "constraint_info": "licence required"}


def test_no_soft_binding_when_none_is_given(signer, anchors):
    report = read(sign_image(png(3), "image/png", definition(soft_binding=None), signer), anchors)
    assert report.state == "trusted"
    assert "c2pa.soft-binding" not in report.assertions
    assert report.soft_bindings() == []


def test_jpeg_is_signed_too(signer, anchors):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png(4))).save(buffer, "JPEG", quality=90)
    signed = sign_image(buffer.getvalue(), "image/jpeg", definition(), signer)
    assert read(signed, anchors, "image/jpeg").state == "trusted"


def test_signer_outside_the_trust_anchors_is_untrusted(tmp_path, signer):
    other = tmp_path / "other-installation"
    keys.ca_ensure(other, PASS)
    signed = sign_image(png(5), "image/png", definition(), signer)
    report = read(signed, keys.trust_anchors_pem(other))
    assert report.state == "untrusted"
    assert [f["code"] for f in report.failures] == ["signingCredential.untrusted"]
    # Intact, so everything it says is still readable.
    assert report.assertions["org.mintmark.generation"] == GENERATION
    assert read(signed, b"").state == "untrusted"


def test_image_signed_by_another_installation_is_untrusted(tmp_path, anchors):
    keys.org_key_ensure(tmp_path, "acme", "Acme", PASS)
    stranger = FileKeySigner.for_org(tmp_path, "acme", PASS)
    signed = sign_image(png(6), "image/png", definition(), stranger)
    assert read(signed, anchors).state == "untrusted"


def test_changed_pixels_are_invalid(signer, anchors):
    signed = sign_image(png(7), "image/png", definition(), signer)
    idat = signed.index(b"IDAT")
    tampered = bytearray(signed)
    tampered[idat + 40] ^= 0x01
    report = read(bytes(tampered), anchors)
    assert report.state == "invalid"
    assert "assertion.dataHash.mismatch" in [f["code"] for f in report.failures]


def test_changed_manifest_is_invalid(signer, anchors):
    signed = sign_image(png(8), "image/png", definition(), signer)
    # Rewrite the policy version inside the signed generation assertion, same length.
    position = signed.index(b"policy_version") + len(b"policy_version")
    tampered = bytearray(signed)
    assert tampered[position] == 0x03  # CBOR unsigned integer 3
    tampered[position] = 0x04
    report = read(bytes(tampered), anchors)
    assert report.state == "invalid"
    assert any("mismatch" in f["code"] for f in report.failures), report.failures


def test_stripped_metadata_reads_as_none(signer, anchors):
    signed = sign_image(png(9), "image/png", definition(), signer)
    buffer = io.BytesIO()
    Image.open(io.BytesIO(signed)).save(buffer, "PNG")
    report = read(buffer.getvalue(), anchors)
    assert report.state == "none"
    assert report.manifest is None and report.assertions == {}
    assert read(png(10), anchors).state == "none"


@pytest.mark.parametrize(
    "data",
    [b"", b"definitely not a png" * 10, b"\x89PNG\r\n\x1a\n" + b"\x00" * 50],
    ids=["empty", "garbage", "png-header-only"],
)
def test_unreadable_bytes_raise_credentials_unreadable(anchors, data):
    with pytest.raises(CredentialsUnreadable):
        read(data, anchors)


def test_truncated_signed_file_is_unreadable(signer, anchors):
    signed = sign_image(png(11), "image/png", definition(), signer)
    for cut in (len(signed) // 2, 200, 40):
        with pytest.raises(CredentialsUnreadable):
            read(signed[:cut], anchors)


def test_unsupported_type_is_refused_before_reading(anchors):
    with pytest.raises(ValueError, match="unsupported image type"):
        read(png(12), anchors, mime="application/pdf")


def _edit(signer, parent: bytes, anchors: bytes | None = None) -> bytes:
    manifest = definition(action="edited", has_parent=True)
    parent_arg = (parent, "image/png")
    return sign_image(
        png(20), "image/png", manifest, signer, parent=parent_arg, trust_anchors_pem=anchors
    )


def _codes(results: dict) -> set[str]:
    return {item["code"] for items in results.values() for item in items}


def test_edit_keeps_the_parent_manifest(signer, anchors):
    parent = sign_image(png(13), "image/png", definition(), signer)
    parent_label = read(parent, anchors).manifest_label
    report = read(_edit(signer, parent, anchors), anchors)
    assert report.state == "trusted", report.failures
    opened, edited = report.assertions["c2pa.actions.v2"]["actions"]
    assert opened["action"] == "c2pa.opened"
    assert opened["parameters"]["ingredients"][0]["url"].endswith("c2pa.ingredient.v3")
    assert edited["action"] == "c2pa.edited"
    assert edited["digitalSourceType"] == credentials.TRAINED_ALGORITHMIC_MEDIA
    assert edited["softwareAgent"]["name"] == "mintmark-tiny"
    (ingredient,) = report.ingredients
    assert ingredient["relationship"] == "parentOf"
    # The input's own manifest travels with the output and is validated as an ingredient.
    assert ingredient["active_manifest"] == parent_label
    # Judged when it was added (the anchors were given) and again when read.
    recorded = _codes(ingredient["validation_results"]["activeManifest"])
    assert "signingCredential.trusted" in recorded
    assert not ingredient["validation_results"]["activeManifest"].get("failure")
    (delta,) = report.ingredient_deltas
    assert "ingredient.manifest.validated" in _codes(delta["validationDeltas"])
    assert not delta["validationDeltas"].get("failure")


def test_edit_of_a_tampered_signed_input_records_its_failure(signer, anchors):
    parent = bytearray(sign_image(png(13), "image/png", definition(), signer))
    parent[parent.index(b"IDAT") + 40] ^= 0x01
    report = read(_edit(signer, bytes(parent), anchors), anchors)
    # The new image is intact and trusted; the input's alteration is on record in it.
    assert report.state == "trusted"
    (ingredient,) = report.ingredients
    failures = ingredient["validation_results"]["activeManifest"]["failure"]
    assert "assertion.dataHash.mismatch" in [f["code"] for f in failures]


def test_edit_of_a_plain_input_has_an_ingredient_without_manifest(signer, anchors):
    report = read(_edit(signer, png(14)), anchors)
    assert report.state == "trusted"
    (ingredient,) = report.ingredients
    assert ingredient["relationship"] == "parentOf"
    assert "active_manifest" not in ingredient
    assert "thumbnail" in ingredient


def test_parent_and_manifest_must_agree(signer):
    with pytest.raises(ValueError, match="parent"):
        sign_image(png(15), "image/png", definition(action="edited", has_parent=True), signer)
    with pytest.raises(ValueError, match="parent"):
        sign_image(png(15), "image/png", definition(), signer, parent=(png(16), "image/png"))
    with pytest.raises(ValueError, match="parent"):
        definition(action="created", has_parent=True)
    with pytest.raises(ValueError, match="parent"):
        definition(action="edited", has_parent=False)


@pytest.mark.parametrize(
    "overrides",
    [
        {"action": "deleted"},
        {"training_mining": "sometimes"},
        {"generation": {"when": datetime.now(UTC)}},
        {"generation": {"score": float("nan")}},
        {"soft_binding": {"alg": "x", "value": "not bytes"}},
        {"model": {"version": "1"}},
        {"claim_generator": "/1.0"},
    ],
)
def test_bad_definitions_are_refused(overrides):
    with pytest.raises(ValueError):
        definition(**overrides)


def test_given_thumbnail_is_embedded(signer, anchors):
    buffer = io.BytesIO()
    Image.open(io.BytesIO(png(17))).resize((32, 32)).save(buffer, "JPEG", quality=70)
    thumbnail = buffer.getvalue()
    signed = sign_image(
        png(17), "image/png", definition(), signer, thumbnail=(thumbnail, "image/jpeg")
    )
    report = read(signed, anchors)
    assert report.state == "trusted"
    assert report.manifest["thumbnail"]["format"] == "image/jpeg"
    assert thumbnail in signed


def test_rotation_keeps_old_images_verifying(tmp_path):
    keys.org_key_ensure(tmp_path, "acme", "Acme", PASS)
    old_signer = FileKeySigner.for_org(tmp_path, "acme", PASS)
    before = sign_image(png(18), "image/png", definition(), old_signer)
    keys.org_key_rotate(tmp_path, "acme", "Acme", PASS)
    after = sign_image(
        png(19), "image/png", definition(), FileKeySigner.for_org(tmp_path, "acme", PASS)
    )
    anchors = keys.trust_anchors_pem(tmp_path)
    old_report, new_report = read(before, anchors), read(after, anchors)
    assert (old_report.state, new_report.state) == ("trusted", "trusted")
    serials = [c.serial_hex for c in keys.org_certificates(tmp_path, "acme")]
    assert serials == [new_report.signer_serial, old_report.signer_serial]


def _memory_signer(installation, *, raw: bool) -> tuple[CallbackSigner, list[int]]:
    """A signer whose key exists only in memory, the way a KMS holds it."""
    base, _, _ = installation
    chain_pem, private_key = keys.org_signing_material(base, "acme", PASS)
    calls = []

    def sign(data: bytes) -> bytes:
        calls.append(len(data))
        der = private_key.sign(data, ec.ECDSA(hashes.SHA256()))
        if not raw:
            return der
        r, s = decode_dss_signature(der)
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    return CallbackSigner(chain_pem, sign), calls


@pytest.mark.parametrize("raw", [False, True], ids=["der", "raw-r-s"])
def test_callback_signer_signs_trusted_credentials(installation, anchors, raw):
    signer, calls = _memory_signer(installation, raw=raw)
    report = read(sign_image(png(21), "image/png", definition(), signer), anchors)
    assert report.state == "trusted"
    assert calls, "the callback was never asked to sign"


class KmsDown(Exception):
    pass


def test_failing_callback_raises_signing_failed(installation):
    chain_pem = installation[1].chain_path.read_bytes()

    def unavailable(data: bytes) -> bytes:
        raise KmsDown("kms timeout")

    with pytest.raises(SigningFailed, match="kms timeout") as excinfo:
        sign_image(png(22), "image/png", definition(), CallbackSigner(chain_pem, unavailable))
    assert isinstance(excinfo.value.__cause__, KmsDown)


@pytest.mark.parametrize(
    "answer",
    [
        lambda data: b"",
        lambda data: None,
        lambda data: b"\x01" * 64,
        lambda data: ec.generate_private_key(ec.SECP256R1()).sign(data, ec.ECDSA(hashes.SHA256())),
    ],
    ids=["empty", "none", "garbage", "wrong-key"],
)
def test_bad_signatures_are_caught_before_anything_is_written(installation, answer):
    chain_pem = installation[1].chain_path.read_bytes()
    with pytest.raises(SigningFailed):
        sign_image(png(23), "image/png", definition(), CallbackSigner(chain_pem, answer))


def test_callback_signer_needs_a_certificate_chain():
    with pytest.raises(ValueError, match="chain"):
        CallbackSigner(b"", lambda data: b"x")
    with pytest.raises(ValueError, match="chain"):
        CallbackSigner(b"-----BEGIN CERTIFICATE-----\nnope\n-----END CERTIFICATE-----\n", bytes)


def test_file_signer_needs_a_p256_key(installation):
    chain_pem = installation[1].chain_path.read_bytes()
    with pytest.raises(ValueError, match="P-256"):
        FileKeySigner(chain_pem, ec.generate_private_key(ec.SECP384R1()))


def test_expired_certificate_is_untrusted_not_altered(installation, anchors):
    base, _, _ = installation
    root = x509.load_pem_x509_certificate(anchors)
    root_key = serialization.load_pem_private_key((base / keys.ROOT_KEY).read_bytes(), PASS)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = keys.issue_signing_certificate(
        issuer_cert=root,
        issuer_key=root_key,
        subject=x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "short-lived")]),
        public_key=leaf_key.public_key(),
        # Valid for the next 1.5 s only: long enough to sign, short enough to wait out.
        not_before=datetime.now(UTC) - timedelta(seconds=5),
        validity=timedelta(seconds=6.5),
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + anchors
    signed = sign_image(png(24), "image/png", definition(), FileKeySigner(chain, leaf_key))
    assert read(signed, anchors).state == "trusted"
    time.sleep(max(0.0, (leaf.not_valid_after_utc - datetime.now(UTC)).total_seconds()) + 1.1)
    report = read(signed, anchors)
    # c2pa calls this Invalid; the pixels and manifest are intact, only the credential lapsed.
    assert report.validation_state == "Invalid"
    assert report.state == "untrusted"
    assert "signingCredential.expired" in [f["code"] for f in report.failures]


def test_c2pa_refuses_to_sign_with_an_expired_certificate(installation, anchors):
    base, _, _ = installation
    root = x509.load_pem_x509_certificate(anchors)
    root_key = serialization.load_pem_private_key((base / keys.ROOT_KEY).read_bytes(), PASS)
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = keys.issue_signing_certificate(
        issuer_cert=root,
        issuer_key=root_key,
        subject=x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, "expired")]),
        public_key=leaf_key.public_key(),
        not_before=datetime.now(UTC) - timedelta(days=10),
        validity=timedelta(days=1),
    )
    chain = leaf.public_bytes(serialization.Encoding.PEM) + anchors
    with pytest.raises(SigningFailed, match="not valid"):
        sign_image(png(25), "image/png", definition(), FileKeySigner(chain, leaf_key))
