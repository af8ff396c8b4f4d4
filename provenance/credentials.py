"""C2PA content credentials for released images: what the manifest says, signing it into the
file, and reading it back as one of four states.

What c2pa-python 0.38.1 (c2pa-rs 0.91.3) was checked to do, and this module relies on:

- ``c2pa.actions.v2`` with ``c2pa.created`` and an IPTC ``digitalSourceType``; for edits,
  ``c2pa.opened`` naming the parent ingredient by label (``parameters.ingredientIds``) then
  ``c2pa.edited``. A parent that carries its own manifest keeps it: it is copied into the new
  file's manifest store and validated there as an ingredient.
- ``cawg.training-mining`` (the CAWG assertion that replaced C2PA 1.x's
  ``c2pa.training-mining``; both are accepted) with ``cawg.*`` entries.
- ``c2pa.soft-binding`` with ``alg`` and ``blocks[].value``. The specification types the value
  as a byte string; from a JSON definition c2pa-rs stores a list of byte values as a CBOR array,
  which its ``SoftBinding`` type decodes back to those bytes, so the value is given that way.
  Readers render it as base64. The algorithm name is this platform's own, not an entry of the
  C2PA soft-binding algorithm list.
- A claim thumbnail is made by c2pa itself (256 px here) unless the caller passes one.
- Reading with ``verify_trust`` and the platform's root as the only trust anchor gives
  ``Trusted``; a chain to another root gives ``Valid`` with ``signingCredential.untrusted``;
  changed image bytes give ``Invalid`` (``assertion.dataHash.mismatch``); no manifest raises
  ``ManifestNotFound``; bytes that are not the stated format raise ``C2paError.Other``/``Io``.
- Without a time-stamp authority, validation checks the signing certificate against the
  current time: once it expires, c2pa reports ``Invalid`` with ``signingCredential.expired``.
  That says nothing about the pixels, so this module reports it as ``untrusted`` with the code.
"""

import base64
import binascii
import io
import json
from dataclasses import dataclass, field
from typing import Any, Literal

import c2pa

from provenance.signing import ContentSigner, SigningFailed, to_c2pa_signer

TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ACTIONS_LABEL = "c2pa.actions.v2"
GENERATION_LABEL = "org.mintmark.generation"
SOFT_BINDING_LABEL = "c2pa.soft-binding"
TRAINING_MINING_LABEL = "cawg.training-mining"
# The uses an organization's training-and-mining policy speaks for. AI inference (using the
# image as a model's input) is a different question the policy does not answer.
TRAINING_MINING_USES = ("cawg.data_mining", "cawg.ai_training", "cawg.ai_generative_training")
PARENT_LABEL = "parent"
# How a parent ingredient that is an asset released here names it (an upscale's parent).
PARENT_ASSET_URN = "urn:mintmark:asset:"
PARENT_ASSET_KEY = "org.mintmark.asset"
THUMBNAIL_ID = "thumbnail"
THUMBNAIL_LONG_EDGE = 256
IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/webp"})

State = Literal["trusted", "untrusted", "invalid", "none"]

_SIGN_SETTINGS = {
    # Explicit, not inherited from c2pa's defaults: a signature that does not verify (a KMS
    # answering with another key) must fail here, before anything is released.
    "verify": {"verify_after_sign": True, "remote_manifest_fetch": False, "ocsp_fetch": False},
    # c2pa's default thumbnail is 1024 px on the long edge: for a 512 px image that is a second
    # full-size copy, 60 KiB and about 150 ms of the signing time (bench/c2pa_signing.py).
    "builder": {"thumbnail": {"enabled": True, "long_edge": THUMBNAIL_LONG_EDGE}},
    "core": {"allowed_network_hosts": []},
}


class CredentialsUnreadable(ValueError):
    """The bytes are not a readable file of the stated kind (garbage, truncated, unsupported
    format), so whether it carries credentials cannot be said."""


@dataclass(frozen=True)
class CredentialReport:
    """What an image's content credentials say and whether they hold.

    ``state``: ``trusted`` (intact, signed by a chain under the given anchors), ``untrusted``
    (intact, but the signer is not under the anchors or its certificate is expired, revoked or
    malformed), ``invalid`` (the manifest or the bytes it binds were changed), ``none`` (no
    embedded manifest). The state is the active manifest's: an edited image's input is judged
    in ``ingredients`` (recorded at signing) and ``ingredient_deltas`` (found now).
    ``assertions`` maps each label of the active manifest to its data;
    ``signer_subject``/``signer_issuer`` are the certificate's name attributes (``{"O": …,
    "CN": …}``) and ``signer_serial`` its serial in lowercase hex, as ``keys`` writes it."""

    state: State
    manifest: dict | None = None
    assertions: dict[str, Any] = field(default_factory=dict)
    failures: list[dict] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)
    validation_state: str | None = None
    manifest_label: str | None = None
    signer_subject: dict[str, str] = field(default_factory=dict)
    signer_issuer: dict[str, str] = field(default_factory=dict)
    signer_serial: str | None = None
    ingredients: list[dict] = field(default_factory=list)
    ingredient_deltas: list[dict] = field(default_factory=list)
    # The parentOf ingredient (an edit's input), as `_parent` reads it; None without one.
    parent: dict | None = None

    def soft_bindings(self) -> list[tuple[str, bytes]]:
        """(algorithm, value) of each soft-binding block, values decoded to bytes."""
        data = self.assertions.get(SOFT_BINDING_LABEL) or {}
        found = []
        for block in data.get("blocks", []):
            found.append((data.get("alg", ""), _binding_bytes(block.get("value"))))
        return found


def _binding_bytes(value: Any) -> bytes:
    if isinstance(value, list):
        return bytes(value)
    if isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except binascii.Error:
            return value.encode()
    return b""


def _generator_info(claim_generator: str) -> dict:
    name, _, version = claim_generator.partition("/")
    if not name.strip():
        raise ValueError("claim_generator needs a name, e.g. 'Mintmark/0.1.0'")
    return {"name": name.strip(), **({"version": version.strip()} if version.strip() else {})}


def _software_agent(model: dict) -> dict:
    if not model.get("name"):
        raise ValueError("model needs a name")
    agent = {"name": str(model["name"])}
    if model.get("version"):
        agent["version"] = str(model["version"])
    if model.get("family"):
        agent["org.mintmark.family"] = str(model["family"])
    return agent


def _actions(action: str, agent: dict, source_type: str, has_parent: bool) -> list[dict]:
    if action == "created":
        if has_parent:
            raise ValueError("a created image has no parent; use action='edited'")
        return [
            {"action": "c2pa.created", "digitalSourceType": source_type, "softwareAgent": agent}
        ]
    if action == "edited":
        if not has_parent:
            raise ValueError("an edited image needs its input as parent (has_parent=True)")
        return [
            {"action": "c2pa.opened", "parameters": {"ingredientIds": [PARENT_LABEL]}},
            {"action": "c2pa.edited", "digitalSourceType": source_type, "softwareAgent": agent},
        ]
    raise ValueError(f"action must be 'created' or 'edited', not {action!r}")


def _training_mining(use: str, constraint_info: str | None) -> dict:
    if use not in ("allowed", "notAllowed", "constrained"):
        raise ValueError(f"training_mining must be allowed/notAllowed/constrained, not {use!r}")
    entry = {"use": use}
    if use == "constrained" and constraint_info:
        entry["constraint_info"] = constraint_info
    return {"entries": {name: dict(entry) for name in TRAINING_MINING_USES}}


def _soft_binding(soft_binding: dict) -> dict:
    alg, value = soft_binding.get("alg"), soft_binding.get("value")
    if not alg or not isinstance(value, bytes | bytearray) or not value:
        raise ValueError("soft_binding needs 'alg' (str) and 'value' (non-empty bytes)")
    return {"alg": alg, "blocks": [{"scope": {}, "value": list(value)}]}


def manifest_definition(
    *,
    title: str,
    claim_generator: str,
    model: dict,
    action: Literal["created", "edited"],
    generation: dict,
    soft_binding: dict | None,
    training_mining: Literal["allowed", "notAllowed", "constrained"],
    has_parent: bool,
    digital_source_type: str = TRAINED_ALGORITHMIC_MEDIA,
    training_constraint: str | None = None,
) -> dict:
    """The c2pa Builder definition of a released image's manifest.

    ``claim_generator`` is ``"name/version"``; ``model`` has ``name``, ``version``, ``family``
    and becomes the actions' software agent; ``generation`` (job id, policy version, gate
    verdicts, datasets and licences) is stored as the ``org.mintmark.generation`` assertion and
    must be JSON; ``soft_binding`` is ``{"alg": str, "value": bytes}`` naming the watermark;
    ``training_mining`` is the organization's policy for the CAWG training-and-data-mining
    entries. ``digital_source_type`` stays IPTC trainedAlgorithmicMedia unless the output only
    partly comes from the model (inpainting may say compositeWithTrainedAlgorithmicMedia)."""
    try:
        generation_data = json.loads(json.dumps(generation, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValueError(f"generation must be plain JSON: {exc}") from None
    assertions = [
        {
            "label": ACTIONS_LABEL,
            "data": {
                "actions": _actions(action, _software_agent(model), digital_source_type, has_parent)
            },
        },
        {"label": GENERATION_LABEL, "data": generation_data},
        {
            "label": TRAINING_MINING_LABEL,
            "data": _training_mining(training_mining, training_constraint),
        },
    ]
    if soft_binding is not None:
        assertions.append({"label": SOFT_BINDING_LABEL, "data": _soft_binding(soft_binding)})
    return {
        "claim_generator_info": [_generator_info(claim_generator)],
        "title": title,
        "assertions": assertions,
    }


def _references_parent(manifest: dict) -> bool:
    for assertion in manifest.get("assertions", []):
        if assertion.get("label") == ACTIONS_LABEL:
            for act in assertion.get("data", {}).get("actions", []):
                if PARENT_LABEL in act.get("parameters", {}).get("ingredientIds", []):
                    return True
    return False


def _parent_ingredient(parent_asset: str | None) -> dict:
    ingredient = {"title": "input", "relationship": "parentOf", "label": PARENT_LABEL}
    if parent_asset is None:
        return ingredient
    return ingredient | {
        "title": f"{parent_asset}.png",
        "instance_id": PARENT_ASSET_URN + parent_asset,
        "metadata": {PARENT_ASSET_KEY: parent_asset},
    }


def _check_mime(mime: str) -> None:
    if mime not in IMAGE_TYPES:
        raise ValueError(f"unsupported image type {mime!r}; use one of {sorted(IMAGE_TYPES)}")


def sign_image(
    data: bytes,
    mime: str,
    manifest: dict,
    signer: ContentSigner,
    *,
    parent: tuple[bytes, str] | None = None,
    parent_asset: str | None = None,
    thumbnail: tuple[bytes, str] | None = None,
    trust_anchors_pem: bytes | None = None,
) -> bytes:
    """The image with ``manifest`` signed by ``signer`` and embedded. ``parent`` is the input
    image of an edit (bytes, mime), added as the ``parentOf`` ingredient the manifest's
    ``c2pa.opened`` action names; ``parent_asset`` is the id of the released asset whose signed
    file ``parent`` is (an upscale), which the ingredient then names (title, instance id and
    metadata); ``thumbnail`` (bytes, mime) replaces the one c2pa would make.
    The parent's own manifest is validated as it is added and the result is signed into the
    new manifest: pass ``trust_anchors_pem`` so a parent signed here is recorded as trusted.

    Raises ValueError for inconsistent arguments (checked before anything is signed) and
    SigningFailed when c2pa or the signer fails."""
    _check_mime(mime)
    if _references_parent(manifest) != (parent is not None):
        raise ValueError("the manifest's actions and the parent argument disagree")
    definition = dict(manifest)
    if thumbnail is not None:
        _check_mime(thumbnail[1])
        definition["thumbnail"] = {"format": thumbnail[1], "identifier": THUMBNAIL_ID}
    if parent is not None:
        _check_mime(parent[1])
    elif parent_asset is not None:
        raise ValueError("parent_asset names the parent ingredient; give the parent too")
    out = io.BytesIO()
    settings = _SIGN_SETTINGS
    if trust_anchors_pem and trust_anchors_pem.strip():
        settings = _SIGN_SETTINGS | {
            "verify": _SIGN_SETTINGS["verify"] | {"verify_trust": True},
            "trust": {"trust_anchors": trust_anchors_pem.decode("ascii")},
        }
    with to_c2pa_signer(signer) as native:
        context = c2pa.Context.from_dict(settings)
        try:
            builder = c2pa.Builder(definition, context=context)
            if thumbnail is not None:
                builder.add_resource(THUMBNAIL_ID, io.BytesIO(thumbnail[0]))
            if parent is not None:
                builder.add_ingredient(
                    _parent_ingredient(parent_asset), parent[1], io.BytesIO(parent[0])
                )
            builder.sign(native, mime, io.BytesIO(data), out)
        finally:
            context.close()
    signed = out.getvalue()
    if not signed:
        raise SigningFailed("c2pa wrote no output")
    return signed


def _reader_settings(trust_anchors_pem: bytes | None) -> dict:
    settings = {
        "verify": {
            "verify_trust": True,
            "verify_after_reading": True,
            # Uploaded files are untrusted: they must not make the server fetch anything.
            "remote_manifest_fetch": False,
            "ocsp_fetch": False,
        },
        "core": {"allowed_network_hosts": []},
    }
    # c2pa refuses an empty anchor list; without anchors (before provenance_init) nothing can
    # be "trusted".
    if trust_anchors_pem and trust_anchors_pem.strip():
        settings["trust"] = {"trust_anchors": trust_anchors_pem.decode("ascii")}
    return settings


def _state(validation_state: str | None, failures: list[dict]) -> State:
    codes = [f.get("code", "") for f in failures]
    # Failures about the signing credential alone (untrusted, expired, revoked, malformed
    # certificate) leave the signed bytes intact; anything else means they were changed.
    if any(not code.startswith("signingCredential.") for code in codes):
        return "invalid"
    if codes:
        return "untrusted"
    if validation_state == "Trusted":
        return "trusted"
    if validation_state == "Invalid":
        return "invalid"
    return "untrusted"


def _serial(hex_text: Any) -> str | None:
    # The same spelling as keys.serial_hex (no leading zeros), so records compare equal.
    try:
        return f"{int(hex_text, 16):x}"
    except (TypeError, ValueError):
        return None


def _certificate_info(reader: c2pa.Reader, label: str | None) -> dict:
    # crJSON is the reader's only output naming the signing certificate's full subject and
    # issuer; the plain JSON has just its organization and common name.
    for manifest in json.loads(reader.crjson()).get("manifests", []):
        if manifest.get("label") == label:
            return (manifest.get("signature") or {}).get("certificateInfo") or {}
    return {}


def _ingredient_state(ingredient: dict) -> State:
    """How the ingredient's own manifest validated when it was added (c2pa records it in the
    ingredient): the same four states as an image's."""
    if not ingredient.get("active_manifest"):
        return "none"
    results = (ingredient.get("validation_results") or {}).get("activeManifest") or {}
    failures = results.get("failure") or []
    if failures:
        return _state(None, failures)
    passed = {item.get("code") for item in results.get("success") or []}
    return "trusted" if "signingCredential.trusted" in passed else "untrusted"


def _parent(reader: c2pa.Reader, manifest: dict) -> dict | None:
    """The parentOf ingredient: its title, its state, and which asset it is. An upscale of an
    asset released here names it twice: in the ingredient's metadata (signed with the new
    manifest) and in the parent's own manifest (signed when the parent was released), which
    wins when both are there."""
    for ingredient in manifest.get("ingredients", []):
        if ingredient.get("relationship") != "parentOf":
            continue
        label = ingredient.get("active_manifest")
        claimed = None
        if label:
            store = json.loads(reader.json()).get("manifests", {})
            for assertion in (store.get(label) or {}).get("assertions", []):
                if assertion.get("label") == GENERATION_LABEL:
                    claimed = (assertion.get("data") or {}).get("asset")
        named = (ingredient.get("metadata") or {}).get(PARENT_ASSET_KEY)
        return {
            "title": ingredient.get("title"),
            "state": _ingredient_state(ingredient),
            "manifest_label": label,
            "asset": claimed or named,
        }
    return None


def _report(reader: c2pa.Reader) -> CredentialReport:
    manifest = reader.get_active_manifest() or {}
    results = reader.get_validation_results() or {}
    active = results.get("activeManifest", {})
    failures = active.get("failure", [])
    codes = [
        item.get("code", "")
        for kind in ("success", "informational", "failure")
        for item in active.get(kind, [])
    ]
    state = reader.get_validation_state()
    certificate = _certificate_info(reader, manifest.get("label"))
    return CredentialReport(
        state=_state(state, failures),
        manifest=manifest or None,
        assertions={a["label"]: a.get("data") for a in manifest.get("assertions", [])},
        failures=failures,
        codes=codes,
        validation_state=state,
        manifest_label=manifest.get("label"),
        signer_subject=certificate.get("subject") or {},
        signer_issuer=certificate.get("issuer") or {},
        signer_serial=_serial(certificate.get("serialNumber")),
        ingredients=manifest.get("ingredients", []),
        ingredient_deltas=results.get("ingredientDeltas", []),
        parent=_parent(reader, manifest),
    )


def read_credentials(
    data: bytes, mime: str, *, trust_anchors_pem: bytes | None
) -> CredentialReport:
    """Reads and validates the manifest embedded in ``data`` against ``trust_anchors_pem``.

    Returns state ``none`` when the file has no embedded manifest. Raises
    CredentialsUnreadable when the bytes are not a readable image of a supported type (garbage,
    truncated, empty): a caller answering an upload turns that into a 4xx. A manifest that is
    present but damaged is ``invalid``, not unreadable."""
    _check_mime(mime)
    if not data:
        raise CredentialsUnreadable("empty file")
    context = c2pa.Context.from_dict(_reader_settings(trust_anchors_pem))
    try:
        with c2pa.Reader(mime, io.BytesIO(data), context=context) as reader:
            return _report(reader)
    except c2pa.C2paError.ManifestNotFound:
        return CredentialReport(state="none")
    except c2pa.C2paError.RemoteManifest:
        # Only a link to a manifest elsewhere, which is deliberately not fetched.
        return CredentialReport(state="none", codes=["manifest.remote.notFetched"])
    except (c2pa.C2paError.Other, c2pa.C2paError.Io, c2pa.C2paError.NotSupported) as exc:
        raise CredentialsUnreadable(f"not a readable {mime} file: {exc}") from None
    except c2pa.C2paError as exc:
        failure = {"code": "manifest.unreadable", "explanation": str(exc)[:300]}
        return CredentialReport(state="invalid", failures=[failure], codes=[failure["code"]])
    finally:
        context.close()
