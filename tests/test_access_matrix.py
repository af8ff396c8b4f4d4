"""The access matrix: every API operation, each role, own org, other org and an id that
exists nowhere, plus callers with no credentials or a bad token.

Operations are enumerated from the ninja API object and its OpenAPI schema, so an operation
added without an entry in MATRIX (who may call it, what success answers) fails here until
someone decides. The status each case expects is computed from MATRIX by `expected()` (API.md:
401 without valid credentials, 403 for a role that may not, before any lookup, 404 for another
org's object exactly as for a missing one), and every status met must be one the operation's
OpenAPI entry documents."""

import itertools
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import Client
from ninja import Router, Schema
from pydantic import BaseModel

from generation.models import Asset, GenerationJob
from generation.submission import JobRequest, job_submit
from generation.transitions import job_transition
from mintmark import health
from mintmark.api import MintmarkAPI, api
from moderation.models import Suspension
from orgs.services import member_add, token_create
from policies.models import Policy
from policies.services import policy_create
from tests.gating_support import keys_make
from tests.mm_api_support import (
    assert_error,
    make_dataset,
    make_model,
    model_folder,
    png_bytes,
    png_upload,
)
from webhooks.models import Delivery
from webhooks.services import allowed_hosts_set, secret_rotate

HTTP_METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"}
# The schema and the interactive docs are open to anyone and are checked separately.
EXCLUDED = {("GET", "/api/openapi.json"), ("GET", "/api/docs")}


def _normalise(path: str) -> str:
    return re.sub(r"\{\w+:(\w+)\}", r"{\1}", path)


def api_routes() -> set[tuple[str, str]]:
    """(METHOD, /api/path) of every operation the API serves, from its routers and its schema."""
    routes = set()
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            parts = [part.strip("/") for part in (prefix, path) if part.strip("/")]
            full = _normalise("/api/" + "/".join(parts))
            for operation in path_view.operations:
                routes.update((method.upper(), full) for method in operation.methods)
    for path, operations in api.get_openapi_schema()["paths"].items():
        routes.update(
            (method.upper(), _normalise(path))
            for method in operations
            if method.upper() in HTTP_METHODS
        )
    return routes - EXCLUDED


# ---------------------------------------------------------------------------------------------
# The world every matrix case runs in: acme and globex each with a spare member, a dataset with
# one item, and a model trained on it.


@dataclass
class OrgObjects:
    org: object
    victim: object  # a staff membership that PATCH/DELETE may act on
    dataset: object
    item: object
    model: object
    submitter: object  # the membership that owns the org's jobs
    asset: object  # a RELEASED asset of one of the submitter's jobs


def _job(membership, model, *, cancelled=False):
    job = job_submit(
        membership=membership,
        req=JobRequest(prompt="a red cube", model=str(model), width=64, height=64, steps=4),
    )
    if cancelled:
        job_transition(job_id=job.pk, to=GenerationJob.State.CANCELLED)
    return job


def _asset(job, state: str, **keys):
    return Asset.objects.create(
        job=job,
        index=0,
        seed=job.seeds[0],
        width=64,
        height=64,
        sha256="0" * 64,
        phash="0" * 16,
        dhash="0" * 16,
        whash="0" * 16,
        state=state,
        **keys,
    )


def _released_asset(job):
    key = storages["release"].save(f"released/{job.pk}/0.png", ContentFile(png_bytes(1)))
    return _asset(job, Asset.State.RELEASED, quarantine_key="", release_key=key)


class World:
    def __init__(self, personas, root):
        self.personas = personas
        self.root = root
        self.counter = itertools.count(1)
        self.orgs = {}
        for slug, persona in (("acme", personas["admin"]), ("globex", personas["outsider"])):
            org = persona.org
            victim = member_add(org=org, actor=None, email=f"victim@{slug}.test", role="staff")
            dataset, (item,) = make_dataset(org, name=f"{slug} photos", seeds=(hash(slug) % 997,))
            model = make_model(org, root, name=f"{slug}-model", datasets=[dataset])
            submitter = (personas["staff"] if slug == "acme" else persona).membership
            asset = _released_asset(_job(submitter, model))
            self.orgs[slug] = OrgObjects(org, victim, dataset, item, model, submitter, asset)


class Ctx:
    """What one request of a matrix case targets: objects of the caller's own org ('own'),
    of the other org ('other'), or ids that exist nowhere ('missing')."""

    def __init__(self, world: World, persona, caller_slug: str, mode: str):
        self.world = world
        self.persona = persona
        self.caller_slug = caller_slug
        self.mode = mode
        other_slug = "globex" if caller_slug == "acme" else "acme"
        self.target_slug = {"own": caller_slug, "other": other_slug, "missing": None}[mode]
        self.n = next(world.counter)

    @property
    def target(self) -> OrgObjects | None:
        return self.world.orgs.get(self.target_slug)

    def _id(self, attr: str):
        return uuid.uuid4() if self.target is None else getattr(self.target, attr).pk

    @property
    def member_id(self):
        return self._id("victim")

    @property
    def dataset_id(self):
        return self._id("dataset")

    @property
    def item_id(self):
        return self._id("item")

    @property
    def model_id(self):
        return self._id("model")

    @cached_property
    def token_id(self):
        if self.target is None:
            return uuid.uuid4()
        if self.mode == "own" and self.persona is not None:
            return token_create(membership=self.persona.membership, name="to revoke").token.pk
        # Someone else's token: the target org's spare member's.
        return token_create(membership=self.target.victim, name="not yours").token.pk

    @cached_property
    def policy_version(self) -> int:
        if self.target is None:
            return 10_000
        if self.mode == "own":
            return 1
        # A version that exists in the target org but not in the caller's.
        caller_org = self.world.orgs[self.caller_slug].org
        caller_top = Policy.objects.for_org(caller_org).count()
        while Policy.objects.for_org(self.target.org).count() <= caller_top:
            policy_create(org=self.target.org, actor=None, rules={}, note="matrix")
        return caller_top + 1

    @property
    def asset_id(self):
        return self._id("asset")

    def _job_for(self, *, cancelled: bool):
        if self.target is None:
            return uuid.uuid4()
        owner = self.target.submitter
        if self.mode == "own" and self.persona and self.persona.membership.role in SUBMITTERS:
            owner = self.persona.membership
        return _job(owner, self.target.model, cancelled=cancelled).pk

    @cached_property
    def job_id(self):
        return self._job_for(cancelled=False)

    @cached_property
    def ended_job_id(self):
        # The event stream of a finished job ends at once; a live one would stream for minutes.
        return self._job_for(cancelled=True)

    @cached_property
    def delivery_id(self):
        """A failed webhook delivery of a job the caller may see, in an org that allows its
        URL (so an admin may send it again)."""
        if self.target is None:
            return uuid.uuid4()
        job = GenerationJob.objects.get(pk=self.ended_job_id)
        org = self.target.org
        allowed_hosts_set(org=org, actor=None, hosts=["hooks.example.com"])
        secret_rotate(org=org, actor=None)
        return Delivery.objects.create(
            org=org,
            job=job,
            event_id=uuid.uuid4(),
            event_type="job.cancelled",
            url="https://hooks.example.com/in",
            body="{}",
            state=Delivery.State.FAILED,
        ).pk

    @cached_property
    def held_asset_id(self):
        """An asset IN_REVIEW of the target org, from a job the caller did not submit."""
        if self.target is None:
            return uuid.uuid4()
        job = _job(self.target.submitter, self.target.model)
        for state in ("RUNNING", "GATING", "IN_REVIEW"):
            job_transition(job_id=job.pk, to=state)
        key = storages["quarantine"].save(f"outputs/{job.pk}/0.png", ContentFile(png_bytes(2)))
        return _asset(job, Asset.State.IN_REVIEW, quarantine_key=key).pk

    @cached_property
    def suspension_id(self):
        if self.target is None:
            return uuid.uuid4()
        member = member_add(
            org=self.target.org, actor=None, email=f"abuser{self.n}@x.test", role="staff"
        )
        return Suspension.objects.create(
            org=self.target.org, user=member.user, reason="too many blocks"
        ).pk

    @property
    def own_model_name(self) -> str:
        return self.world.orgs[self.caller_slug].model.name

    @property
    def own_dataset_id(self):
        return self.world.orgs[self.caller_slug].dataset.pk


@dataclass
class Req:
    method: str
    path: str
    json: dict | None = None
    multipart: dict | None = None


def send(client: Client, req: Req):
    method = getattr(client, req.method.lower())
    if req.multipart is not None:
        return method(req.path, data=req.multipart)
    if req.json is not None:
        return method(req.path, data=json.dumps(req.json), content_type="application/json")
    return method(req.path)


# ---------------------------------------------------------------------------------------------
# Who may call what (API.md). `scoped`: the path names an object of an org, so the case is also
# run against the other org's object and against an id that exists nowhere.

ANYONE = frozenset({"anyone"})
MEMBERS = frozenset({"admin", "staff", "reviewer", "auditor"})
ADMIN = frozenset({"admin"})
ADMIN_AUDITOR = frozenset({"admin", "auditor"})
SUBMITTERS = frozenset({"admin", "staff"})
REVIEWER = frozenset({"reviewer"})
# The asset's owner (staff see only their own jobs) and the roles that oversee the org.
PROVENANCE_READERS = frozenset({"admin", "staff", "auditor"})


@dataclass(frozen=True)
class Rule:
    roles: frozenset
    ok: int
    build: Callable[[Ctx], Req]
    scoped: bool = False
    content_type: str = "application/json"


def _get(path: str) -> Callable[[Ctx], Req]:
    return lambda c: Req("GET", path)


def _licence_body(c: Ctx) -> dict:
    return {
        "key": f"custom-{c.n}",
        "name": "Custom licence",
        "custom_text": "You may train on it.",
        "allows_training": True,
        "allows_commercial": False,
        "requires_attribution": False,
    }


def _adapter_body(c: Ctx) -> dict:
    # Adapters live in the caller's own folder; registration only hashes the weights file.
    folder = c.world.root / c.caller_slug / f"adapter-{c.n}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "pytorch_lora_weights.safetensors").write_bytes(b"not really weights %d" % c.n)
    return {"name": f"adapter-{c.n}", "version": "1", "local_path": str(folder)}


def _controlnet_body(c: Ctx) -> dict:
    # A ControlNet folder in the caller's own folder: registration reads its config's class and
    # hashes its weights (the world's model folder has no UNet config to compare shapes with).
    folder = c.world.root / c.caller_slug / f"controlnet-{c.n}"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.json").write_text('{"_class_name": "ControlNetModel"}')
    (folder / "diffusion_pytorch_model.safetensors").write_bytes(b"not really weights %d" % c.n)
    return {"name": f"cn-{c.n}", "version": "1", "kind": "canny", "local_path": str(folder)}


def _model_body(c: Ctx) -> dict:
    return {
        "name": f"registered-{c.n}",
        "version": "1",
        "family": "sd15",
        "local_path": str(model_folder(c.world.root, f"registered-{c.n}")),
        "trained_on": [str(c.own_dataset_id)],
    }


MATRIX: dict[tuple[str, str], Rule] = {
    ("GET", "/api/health"): Rule(ANYONE, 200, _get("/api/health")),
    ("GET", "/api/me"): Rule(MEMBERS, 200, _get("/api/me")),
    # members: admin only
    ("GET", "/api/members"): Rule(ADMIN, 200, _get("/api/members")),
    ("POST", "/api/members"): Rule(
        ADMIN,
        201,
        lambda c: Req("POST", "/api/members", {"email": f"new{c.n}@x.test", "role": "staff"}),
    ),
    ("PATCH", "/api/members/{member_id}"): Rule(
        ADMIN,
        200,
        lambda c: Req("PATCH", f"/api/members/{c.member_id}", {"role": "reviewer"}),
        scoped=True,
    ),
    ("DELETE", "/api/members/{member_id}"): Rule(
        ADMIN, 204, lambda c: Req("DELETE", f"/api/members/{c.member_id}"), scoped=True
    ),
    # tokens: any member, own tokens only
    ("GET", "/api/tokens"): Rule(MEMBERS, 200, _get("/api/tokens")),
    ("POST", "/api/tokens"): Rule(
        MEMBERS, 201, lambda c: Req("POST", "/api/tokens", {"name": f"cli {c.n}"})
    ),
    ("DELETE", "/api/tokens/{token_id}"): Rule(
        MEMBERS, 204, lambda c: Req("DELETE", f"/api/tokens/{c.token_id}"), scoped=True
    ),
    # single sign-on settings: admins only
    ("GET", "/api/sso"): Rule(ADMIN, 200, _get("/api/sso")),
    ("PATCH", "/api/sso"): Rule(
        ADMIN, 200, lambda c: Req("PATCH", "/api/sso", {"groups_claim": "roles"})
    ),
    # policies: read all members, write admin
    ("GET", "/api/policies"): Rule(MEMBERS, 200, _get("/api/policies")),
    ("POST", "/api/policies"): Rule(
        ADMIN, 201, lambda c: Req("POST", "/api/policies", {"rules": {"max_steps": 30}})
    ),
    ("GET", "/api/policies/{version}"): Rule(
        MEMBERS, 200, lambda c: Req("GET", f"/api/policies/{c.policy_version}"), scoped=True
    ),
    # licences, datasets, items: read admin + auditor, write admin
    ("GET", "/api/licences"): Rule(ADMIN_AUDITOR, 200, _get("/api/licences")),
    ("POST", "/api/licences"): Rule(
        ADMIN, 201, lambda c: Req("POST", "/api/licences", _licence_body(c))
    ),
    ("GET", "/api/datasets"): Rule(ADMIN_AUDITOR, 200, _get("/api/datasets")),
    ("POST", "/api/datasets"): Rule(
        ADMIN, 201, lambda c: Req("POST", "/api/datasets", {"name": f"set {c.n}"})
    ),
    ("GET", "/api/datasets/{dataset_id}"): Rule(
        ADMIN_AUDITOR, 200, lambda c: Req("GET", f"/api/datasets/{c.dataset_id}"), scoped=True
    ),
    ("GET", "/api/datasets/{dataset_id}/items"): Rule(
        ADMIN_AUDITOR,
        200,
        lambda c: Req("GET", f"/api/datasets/{c.dataset_id}/items"),
        scoped=True,
    ),
    ("POST", "/api/datasets/{dataset_id}/items"): Rule(
        ADMIN,
        201,
        lambda c: Req(
            "POST",
            f"/api/datasets/{c.dataset_id}/items",
            multipart={"image": png_upload(seed=10_000 + c.n), "licence": "CC0-1.0"},
        ),
        scoped=True,
    ),
    ("POST", "/api/datasets/{dataset_id}/items/{item_id}/opt-out"): Rule(
        ADMIN,
        201,
        lambda c: Req(
            "POST",
            f"/api/datasets/{c.dataset_id}/items/{c.item_id}/opt-out",
            {"requested_by": "owner@example.com", "reason": "asked"},
        ),
        scoped=True,
    ),
    # models: read all members, register admin
    ("GET", "/api/models"): Rule(MEMBERS, 200, _get("/api/models")),
    ("POST", "/api/models"): Rule(ADMIN, 201, lambda c: Req("POST", "/api/models", _model_body(c))),
    ("GET", "/api/models/{model_id}"): Rule(
        MEMBERS, 200, lambda c: Req("GET", f"/api/models/{c.model_id}"), scoped=True
    ),
    ("GET", "/api/models/{model_id}/adapters"): Rule(
        MEMBERS, 200, lambda c: Req("GET", f"/api/models/{c.model_id}/adapters"), scoped=True
    ),
    ("POST", "/api/models/{model_id}/adapters"): Rule(
        ADMIN,
        201,
        lambda c: Req("POST", f"/api/models/{c.model_id}/adapters", _adapter_body(c)),
        scoped=True,
    ),
    ("GET", "/api/models/{model_id}/controlnets"): Rule(
        MEMBERS, 200, lambda c: Req("GET", f"/api/models/{c.model_id}/controlnets"), scoped=True
    ),
    ("POST", "/api/models/{model_id}/controlnets"): Rule(
        ADMIN,
        201,
        lambda c: Req("POST", f"/api/models/{c.model_id}/controlnets", _controlnet_body(c)),
        scoped=True,
    ),
    # generations: submit and cancel staff + admin; read every member (staff: their own jobs)
    ("POST", "/api/generations"): Rule(
        SUBMITTERS,
        202,
        lambda c: Req(
            "POST",
            "/api/generations",
            {"prompt": "a cube", "model": c.own_model_name, "width": 64, "height": 64},
        ),
    ),
    ("GET", "/api/generations"): Rule(MEMBERS, 200, _get("/api/generations")),
    ("GET", "/api/generations/{job_id}"): Rule(
        MEMBERS, 200, lambda c: Req("GET", f"/api/generations/{c.job_id}"), scoped=True
    ),
    ("GET", "/api/generations/{job_id}/events"): Rule(
        MEMBERS,
        200,
        lambda c: Req("GET", f"/api/generations/{c.ended_job_id}/events"),
        scoped=True,
        content_type="text/event-stream",
    ),
    ("POST", "/api/generations/{job_id}/cancel"): Rule(
        SUBMITTERS, 200, lambda c: Req("POST", f"/api/generations/{c.job_id}/cancel"), scoped=True
    ),
    ("GET", "/api/assets/{asset_id}"): Rule(
        MEMBERS, 200, lambda c: Req("GET", f"/api/assets/{c.asset_id}"), scoped=True
    ),
    ("GET", "/api/assets/{asset_id}/file"): Rule(
        MEMBERS,
        200,
        lambda c: Req("GET", f"/api/assets/{c.asset_id}/file"),
        scoped=True,
        content_type="image/png",
    ),
    ("GET", "/api/assets/{asset_id}/provenance"): Rule(
        PROVENANCE_READERS,
        200,
        lambda c: Req("GET", f"/api/assets/{c.asset_id}/provenance"),
        scoped=True,
    ),
    # review: reviewers only, never their own jobs
    ("GET", "/api/reviews"): Rule(REVIEWER, 200, _get("/api/reviews")),
    ("GET", "/api/reviews/{asset_id}/image"): Rule(
        REVIEWER,
        200,
        lambda c: Req("GET", f"/api/reviews/{c.held_asset_id}/image"),
        scoped=True,
        content_type="image/png",
    ),
    ("POST", "/api/reviews/{asset_id}"): Rule(
        REVIEWER,
        200,
        lambda c: Req(
            "POST", f"/api/reviews/{c.held_asset_id}", {"decision": "reject", "reason": "no"}
        ),
        scoped=True,
    ),
    # abuse alerts: admin
    ("GET", "/api/abuse/alerts"): Rule(ADMIN, 200, _get("/api/abuse/alerts")),
    ("POST", "/api/abuse/alerts/{suspension_id}/lift"): Rule(
        ADMIN,
        200,
        lambda c: Req(
            "POST", f"/api/abuse/alerts/{c.suspension_id}/lift", {"reason": "talked to them"}
        ),
        scoped=True,
    ),
    # provenance: verify is public; the signed export is for admins and auditors
    ("POST", "/api/verify"): Rule(
        ANYONE,
        200,
        lambda c: Req("POST", "/api/verify", multipart={"image": png_upload(seed=c.n)}),
    ),
    ("GET", "/api/provenance/export"): Rule(
        ADMIN_AUDITOR, 200, _get("/api/provenance/export"), content_type="application/x-ndjson"
    ),
    # webhooks: settings for admins; deliveries for whoever sees the job
    ("GET", "/api/webhooks/settings"): Rule(ADMIN, 200, _get("/api/webhooks/settings")),
    ("PUT", "/api/webhooks/allowed-hosts"): Rule(
        ADMIN,
        200,
        lambda c: Req("PUT", "/api/webhooks/allowed-hosts", {"hosts": ["hooks.example.com"]}),
    ),
    ("POST", "/api/webhooks/secret"): Rule(
        ADMIN, 201, lambda c: Req("POST", "/api/webhooks/secret")
    ),
    ("GET", "/api/webhooks/deliveries"): Rule(MEMBERS, 200, _get("/api/webhooks/deliveries")),
    ("GET", "/api/webhooks/deliveries/{delivery_id}"): Rule(
        MEMBERS,
        200,
        lambda c: Req("GET", f"/api/webhooks/deliveries/{c.delivery_id}"),
        scoped=True,
    ),
    ("POST", "/api/webhooks/deliveries/{delivery_id}/redeliver"): Rule(
        ADMIN,
        202,
        lambda c: Req("POST", f"/api/webhooks/deliveries/{c.delivery_id}/redeliver"),
        scoped=True,
    ),
    ("GET", "/api/generations/{job_id}/deliveries"): Rule(
        MEMBERS,
        200,
        lambda c: Req("GET", f"/api/generations/{c.job_id}/deliveries"),
        scoped=True,
    ),
    # audit: admin + auditor
    ("GET", "/api/audit/events"): Rule(ADMIN_AUDITOR, 200, _get("/api/audit/events")),
    ("GET", "/api/audit/verify"): Rule(ADMIN_AUDITOR, 200, _get("/api/audit/verify")),
}

# The four roles of acme (whose "other org" is globex), globex's admin (whose other org is
# acme), and two callers without valid credentials.
CALLERS = ("anonymous", "bad_token", "admin", "staff", "reviewer", "auditor", "outsider")
SCHEMA = api.get_openapi_schema()


def expected(rule: Rule, role: str | None, mode: str) -> tuple[int, str | None]:
    """The status (and error code) API.md promises `role` (None: no valid credentials) for an
    object of its own org, of the other org, or one that exists nowhere (`mode`)."""
    if rule.roles == ANYONE:
        # Public operations ignore credentials, valid or not.
        return rule.ok, None
    if role is None:
        return 401, "not_authenticated"
    if role not in rule.roles:
        # Refused before any lookup, so the same for every id: nothing is disclosed.
        return 403, "forbidden"
    if mode == "own":
        return rule.ok, None
    # Another org's object is exactly as unknown as one that does not exist.
    return 404, "not_found"


def _client(caller: str, world: World) -> Client:
    # Real clients: Django's test client skips CSRF checks unless told to make them.
    if caller == "anonymous":
        return Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    if caller == "bad_token":
        return Client(
            HTTP_HOST="localhost",
            enforce_csrf_checks=True,
            HTTP_AUTHORIZATION=f"Bearer mm_{uuid.uuid4().hex}",
        )
    return world.personas[caller].client()


def _documented(route: tuple[str, str], status: int) -> bool:
    method, path = route
    responses = SCHEMA["paths"][path][method.lower()]["responses"]
    return str(status) in {str(code) for code in responses}


@pytest.fixture
def world(personas, tmp_path, monkeypatch, settings) -> World:
    # Health pings Celery workers with a 2 s timeout; none run in tests, and the answer is
    # not what this module checks.
    monkeypatch.setattr(health, "_workers", lambda: "not checked here")
    keys_make(settings, tmp_path, personas["admin"].org, personas["outsider"].org)
    root = tmp_path / "models"
    root.mkdir()
    # A root of its own, so <root>/<org-slug>/ are the orgs' own folders (adapters need one).
    settings.MODEL_ROOTS = (root, *settings.MODEL_ROOTS)
    return World(personas, root)


def _assert_success(response, status: int, content_type: str) -> None:
    body = b"".join(response.streaming_content) if response.streaming else response.content
    assert response.status_code == status, (response.status_code, body[:500])
    if status != 204:
        assert response["Content-Type"].startswith(content_type)
        if content_type == "application/json":
            json.loads(body)


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("route", sorted(api_routes()), ids=lambda route: " ".join(route))
def test_access(route, caller, world):
    rule = MATRIX.get(route)
    assert rule is not None, (
        f"{route[0]} {route[1]} has no entry in the access matrix "
        "(tests/test_access_matrix.py MATRIX): decide who may call it and add one"
    )
    persona = world.personas.get(caller)
    client = _client(caller, world)
    caller_slug = "globex" if caller == "outsider" else "acme"
    role = None if persona is None else persona.membership.role

    modes = ("own", "other", "missing") if rule.scoped else ("own",)
    answers = {}
    for mode in modes:
        response = send(client, rule.build(Ctx(world, persona, caller_slug, mode)))
        status, code = expected(rule, role, mode)
        if code is None:
            _assert_success(response, status, rule.content_type)
        else:
            answers[mode] = assert_error(response, status, code)
        assert _documented(route, status), f"{route} answers {status}, not in its OpenAPI entry"
    if "other" in answers:
        assert answers["other"] == answers["missing"]


def test_matrix_has_no_stale_entries():
    stale = set(MATRIX) - api_routes()
    assert not stale, f"MATRIX names routes the API no longer serves: {sorted(stale)}"


def test_schema_and_docs_are_reachable(anon, db):
    # db: the schema is limited per address, counted in the database cache on SQLite.
    schema = anon.get("/api/openapi.json")
    assert schema.status_code == 200
    assert "/api/me" in schema.json()["paths"]
    docs = anon.get("/api/docs")
    assert docs.status_code == 200
    assert docs["Content-Type"].startswith("text/html")


def test_two_schemas_of_one_name_fail_schema_generation():
    # ninja would let the second overwrite the first, and one operation would document the
    # other's answer (as /api/verify once did with /api/audit/verify's VerifyOut).
    first, second = (
        type("VerifyOut", (Schema,), {"__annotations__": {name: str}}) for name in "ab"
    )
    router = Router()
    router.get("/a", response=first, auth=None)(lambda request: {"a": "x"})
    router.get("/b", response=second, auth=None)(lambda request: {"b": "x"})
    collide = MintmarkAPI(urls_namespace="collision")
    collide.add_router("/", router)
    with pytest.raises(ImproperlyConfigured, match="VerifyOut"):
        collide.get_openapi_schema(path_prefix="")


def _response_models():
    for prefix, router in api._routers:
        for path, path_view in router.path_operations.items():
            for operation in path_view.operations:
                for status, wrapper in operation.response_models.items():
                    if not isinstance(wrapper, type):
                        continue  # no declared model
                    model = wrapper.model_fields["response"].annotation
                    if isinstance(model, type) and issubclass(model, BaseModel):
                        yield f"{operation.methods} {prefix}{path} {status}", model


def test_every_response_component_is_its_own_model():
    components = SCHEMA["components"]["schemas"]
    for where, model in _response_models():
        fields = {field.alias or name for name, field in model.model_fields.items()}
        assert set(components[model.__name__]["properties"]) == fields, where


def test_every_operation_documents_its_error_answers():
    error = {"$ref": "#/components/schemas/ErrorOut"}
    for path, operations in SCHEMA["paths"].items():
        for method, operation in operations.items():
            responses = {int(status): answer for status, answer in operation["responses"].items()}
            where = f"{method.upper()} {path}"
            if operation.get("security"):
                assert {401, 403, 404} <= set(responses), where
            if "requestBody" in operation:
                assert {400, 413, 415, 422} <= set(responses), where
            if any(p["in"] in ("path", "query") for p in operation.get("parameters", [])):
                assert 422 in responses, where
            for status, answer in responses.items():
                if status >= 400 and (path, status) != ("/api/health", 503):
                    assert answer["content"]["application/json"]["schema"] == error, (where, status)
    assert {"error", "detail"} <= set(SCHEMA["components"]["schemas"]["ErrorOut"]["required"])


@pytest.mark.parametrize("role", ["admin", "staff", "reviewer", "auditor"])
def test_another_members_token_in_the_same_org_is_404(personas, role):
    caller = personas[role]
    others = [p for name, p in personas.items() if name not in (role, "outsider")]
    for other in others:
        token = other.membership.user.api_tokens.get()
        response = caller.client().delete(f"/api/tokens/{token.pk}")
        assert_error(response, 404, "not_found")
        token.refresh_from_db()
        assert token.revoked_at is None


def test_lists_never_show_another_orgs_objects(world):
    acme_admin = world.personas["admin"].client()
    globex = world.orgs["globex"]
    foreign = {
        "/api/members": str(globex.victim.pk),
        "/api/datasets": str(globex.dataset.pk),
        "/api/models": str(globex.model.pk),
        f"/api/datasets/{world.orgs['acme'].dataset.pk}/items": str(globex.item.pk),
    }
    for path, foreign_id in foreign.items():
        body = acme_admin.get(path).json()
        assert body["count"] >= 1
        assert foreign_id not in {item["id"] for item in body["items"]}, path
    policies = acme_admin.get("/api/policies").json()
    assert {p["id"] for p in policies["items"]}.isdisjoint(
        str(p.pk) for p in Policy.objects.for_org(globex.org)
    )
    licences = acme_admin.get("/api/licences").json()["items"]
    assert all(lic["id"] not in {str(x.pk) for x in globex.org.licences.all()} for lic in licences)
    audit = acme_admin.get("/api/audit/events?limit=200").json()
    assert audit["count"] >= 1
    assert {event["org"] for event in audit["items"]} == {str(world.orgs["acme"].org.pk)}


# ---------------------------------------------------------------------------------------------
# Session (cookie) auth, as the portal uses it.


@pytest.fixture
def session_client(personas) -> Client:
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    client.force_login(personas["admin"].user)
    return client


def test_session_auth_works_for_a_get(session_client):
    response = session_client.get("/api/me")
    assert response.status_code == 200
    assert response.json()["role"] == "admin"


def test_session_post_without_csrf_token_is_refused(session_client, personas):
    tokens_before = personas["admin"].user.api_tokens.count()
    response = session_client.post(
        "/api/tokens", data=json.dumps({"name": "x"}), content_type="application/json"
    )
    assert_error(response, 403, "csrf_failed")
    assert personas["admin"].user.api_tokens.count() == tokens_before


def test_session_post_with_csrf_token_is_accepted(session_client, personas):
    # The portal's login page hands out the CSRF cookie; scripts echo it in X-CSRFToken.
    session_client.get("/login/")
    csrf = session_client.cookies["csrftoken"].value
    response = session_client.post(
        "/api/tokens",
        data=json.dumps({"name": "from the portal"}),
        content_type="application/json",
        HTTP_X_CSRFTOKEN=csrf,
    )
    assert response.status_code == 201, response.content
