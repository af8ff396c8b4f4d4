"""The governed half of serving, for bench/gpu_serving.py: what a `gates` worker does with one
quarantined image, in worker processes of their own, with the platform's plain code and no
Django (so no database rows, audit entries or storage writes, which are a few small queries and
one file write per image).

Per image, as moderation/gating.py, generation/release.py and provenance/release.py run it:
1. decode the quarantined PNG (mintmark.imageio.open_image);
2. the default policy's gates through moderation.gates.gates_run (all at once) and
   moderation.decision.decide, with the marking of step 3 (provenance.stamping.image_mark: the
   release canvas, the keyed watermark, PNG, thumbnail, fingerprint) beside them:
   `image_safety` (the default policy requires no classifier, so it passes without scoring)
   and `memorization` (pHash, dHash and wHash of the image and its mirror image, searched in a
   HashCatalog of random training hashes within the policy's radius, 8);
3. once approved: content credentials signed with an org key made by provenance.keys and
   embedded with the JPEG thumbnail (provenance.stamping.signed_png);
4. what provenance.release.image_stamp checks before the file may be released: the signed file
   read back and validated against the trust anchor, and its sha256.

Light imports only: the worker processes are started with `spawn` and import this module and
the bench script's own top level, never torch."""

import hashlib
import secrets
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from mintmark.imageio import open_image
from moderation.decision import APPROVE, decide
from moderation.gates import GateContext, gate_run, gates_run
from moderation.image_gate import ImageSafetyGate
from moderation.memorization import KINDS, HashCatalog, MemorizationGate
from policies.rules import PolicyRules
from provenance import credentials, keys, watermark
from provenance.signing import FileKeySigner
from provenance.stamping import MarkedImage, image_mark, signed_png

PASSPHRASE = b"serving bench"
ORG = "bench-org"
GATE_TIMEOUT_S = 60  # MINTMARK_GATE_TIMEOUT_S's default
_state: dict = {}
# The marking beside the gates, as generation/release.py runs it.
_MARKING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="mark")


def make_keys(folder: Path) -> Path:
    """A CA and an org signing key, as provenance_init makes them, for the worker processes."""
    keys.org_key_ensure(folder, ORG, "Bench Org", PASSPHRASE)
    return folder


def random_catalog(size: int, seed: int) -> HashCatalog:
    rng = np.random.default_rng(seed)
    values = {kind: rng.integers(0, 2**63, size, dtype=np.int64) for kind in KINDS}
    hexes = {kind: [f"{int(v):016x}" for v in values[kind]] for kind in KINDS}
    keys = [f"item-{i}" for i in range(size)]
    # Each item's "file" is its key: random_pixels draws its pixels from it.
    return HashCatalog(keys, hexes, ["bench-dataset"] * size, files=keys)


def random_pixels(key: str) -> np.ndarray:
    """A random item's canonical pixels, for the rare random hash that is a candidate."""
    rng = np.random.default_rng(int(key.removeprefix("item-")))
    return rng.random((64, 64, 3), dtype=np.float32)


def init(keys_dir: str, catalog_size: int) -> None:
    """Per worker process: the gates with their catalog loaded, the signer, the anchors."""
    rules = PolicyRules()
    _state.update(
        rules=rules,
        gates=[
            ImageSafetyGate([], {}),
            MemorizationGate(random_catalog(catalog_size, 7), random_pixels),
        ],
        signer=FileKeySigner.for_org(Path(keys_dir), ORG, PASSPHRASE),
        anchors=keys.trust_anchors_pem(Path(keys_dir)),
        watermark_key=secrets.token_bytes(32),
    )


def _manifest(index: int, marked: MarkedImage, verdicts: dict) -> dict:
    return credentials.manifest_definition(
        title=f"bench-{index}.png",
        claim_generator="Mintmark",
        model={"name": "bench-model", "version": "1", "family": "sd15"},
        action="created",
        generation={
            "job": f"bench-{index}",
            "org": ORG,
            "policy_version": 1,
            "mode": "text-to-image",
            "gates": verdicts,
            "review": None,
            "datasets": ["bench-dataset"],
            "generated_size": marked.generated_size,
            "released_size": marked.released_size,
        },
        soft_binding={
            "alg": watermark.ALGORITHM,
            "value": marked.payload.to_bytes((watermark.PAYLOAD_BITS + 7) // 8, "big"),
        },
        training_mining="notAllowed",
        has_parent=False,
    )


def govern(png: bytes, index: int, *, overlap: bool = True) -> dict:
    """Gates and stamps one image; returns the decision and where the time went (ms).
    `overlap` does it as the platform does (the gates at once, the marking beside them);
    without it, as the platform did before: each gate in turn, then all of the stamping."""
    started = time.perf_counter()
    image, _ = open_image(png)
    rules, gates = _state["rules"], _state["gates"]
    context = GateContext(job_id=f"bench-{index}", model_id="bench", dataset_ids=(), rules=rules)
    payload = secrets.randbelow(2**watermark.PAYLOAD_BITS)
    if overlap:
        marking = _MARKING.submit(image_mark, png, payload, _state["watermark_key"])
        runs = gates_run(gates, image, context, timeout_s=GATE_TIMEOUT_S)
    else:
        runs = [gate_run(gate, image, context, timeout_s=GATE_TIMEOUT_S) for gate in gates]
    decision = decide(runs, required=[gate.name for gate in gates])
    gated = time.perf_counter()
    result = {"decision": decision.action, "gates": {run.gate: run.verdict for run in runs}}
    if decision.action != APPROVE:
        return {**result, "gates_ms": 1000 * (gated - started), "stamp_ms": 0.0}
    marked = marking.result() if overlap else image_mark(png, payload, _state["watermark_key"])
    signed = signed_png(
        marked.png,
        marked.thumbnail,
        _manifest(index, marked, result["gates"]),
        _state["signer"],
        parent=None,
        trust_anchors=_state["anchors"],
    )
    report = credentials.read_credentials(signed, "image/png", trust_anchors_pem=_state["anchors"])
    if report.state != "trusted":
        raise RuntimeError(f"the signed file does not validate: {report.state} {report.codes}")
    hashlib.sha256(signed).hexdigest()
    done = time.perf_counter()
    return {
        **result,
        "gates_ms": 1000 * (gated - started),
        "stamp_ms": 1000 * (done - gated),
        "signed_bytes": len(signed),
    }


def keys_folder() -> Path:
    return make_keys(Path(tempfile.mkdtemp(prefix="serving-bench-keys-")))
