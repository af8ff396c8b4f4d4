"""Every portal page, for every role that may open it, at desktop and phone width, with demo data
on it (a released job, an image held for review, a blocked copy of a training item, an imported
dataset with an opt-out, a policy with every rules card filled in, a suspension): each page is
screenshotted and fails on an element whose content spills out of it (without scrolling), a
word the browser broke between two lines, or a time on two lines. The shots are kept under
<pytest's base temp>/screenshots/every_page/<width>/<role>/, with problems.txt beside them.

Pages are enumerated from the portal's URL patterns, so a page added without an entry in PAGES
(or in NOT_PAGES, with why it is no page to look at) fails here until someone lists it. A text
that may break anywhere (a hash or an id nobody reads whole) carries the class `breakable`."""

import csv
import json
import re
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.db import transaction
from django.urls import URLPattern
from django.utils import timezone

from generation.models import Asset
from licensing.services import dataset_create, dataset_import, item_consent_record
from moderation import gating
from moderation.abuse import abuse_record
from orgs.services import member_add
from policies.rules import PolicyRules, default_rules
from policies.services import policy_create
from portal import urls as portal_urls
from tests.browser.conftest import log_in
from tests.gating_support import encoded, gated_job, keys_make, picture
from tests.mm_api_support import make_dataset, make_model, model_folder, register_at
from webhooks.events import event_body
from webhooks.models import Delivery, DeliveryAttempt

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}
ROLES = ("admin", "staff", "reviewer", "auditor")

# Routes that are not pages a person reads: what each is instead.
NOT_PAGES = {
    "home": "redirects to the member's first organization",
    "logout": "POST only",
    "token_revoke": "POST only",
    "manage_member_role": "POST only",
    "manage_suspension_lift": "POST only",
    "review_decide": "POST only (its result is seen on the review queue)",
    "audit_verify": "POST only (its result is checked on the audit log below)",
    "job_cancel": "POST only",
    "job_live": "the job page's live fragment (part of the job page)",
    "manage_item_image": "an image file",
    "review_image": "an image file",
    "asset_file": "an image file",
    "export_provenance": "a download",
    "export_audit": "a download",
    "manage_webhooks_hosts": "POST only",
    "manage_webhooks_secret": "POST only (answers the webhooks page with the new secret)",
    "webhook_redeliver": "POST only",
    "asset_upscale": "POST only (redirects to the new job's page)",
}

# The check run in the page: elements whose content is wider than their box where nothing
# scrolls, and words or times (2025-03-01 12:00:03 UTC) drawn on two lines. Form controls,
# replaced elements and clipped (visually hidden) elements draw their content themselves or on
# purpose.
LAYOUT_PROBLEMS = r"""
() => {
  const SKIP = new Set(['INPUT', 'SELECT', 'TEXTAREA', 'OPTION', 'IMG', 'SVG', 'VIDEO', 'CANVAS',
                        'PROGRESS', 'METER', 'IFRAME', 'SCRIPT', 'STYLE', 'NOSCRIPT', 'TEMPLATE']);
  const TIME = /\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}(?::\d{2})?)?(?: UTC)?/g;
  const problems = [];
  const name = (el) => {
    let text = el.tagName.toLowerCase();
    if (el.id) text += '#' + el.id;
    if (el.classList.length) text += '.' + [...el.classList].join('.');
    const testid = el.closest('[data-testid]');
    if (testid) text += ` in [data-testid=${testid.dataset.testid}]`;
    return text;
  };
  const hidden = new Set();
  for (const el of document.body.querySelectorAll('*')) {
    const style = getComputedStyle(el);
    if (hidden.has(el.parentElement) || style.clip !== 'auto' || style.clipPath !== 'none') {
      hidden.add(el);
      continue;
    }
    if (SKIP.has(el.tagName) || el.closest('svg')) continue;
    if (style.display === 'none' || style.display === 'inline') continue;
    const scrolls = ['auto', 'scroll'].includes(style.overflowX);
    if (!scrolls && el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
      problems.push(`overflow: ${name(el)} is ${el.clientWidth} px wide, its content ` +
                    `${el.scrollWidth} px: "${el.innerText.trim().slice(0, 80)}"`);
    }
  }
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest('.breakable, .visually-hidden, select, textarea, script')) {
      continue;
    }
    const onTwoLines = (start, end) => {
      range.setStart(node, start);
      range.setEnd(node, end);
      const rects = [...range.getClientRects()].filter((r) => r.width > 0 && r.height > 0);
      if (rects.length < 2) return false;
      const tops = rects.map((r) => r.top);
      return Math.max(...tops) - Math.min(...tops) > Math.min(...rects.map((r) => r.height)) / 2;
    };
    for (const match of node.data.matchAll(/[\p{L}\p{N}_]{2,}/gu)) {
      if (onTwoLines(match.index, match.index + match[0].length)) {
        problems.push(`word broken: "${match[0]}" in ${name(parent)}`);
      }
    }
    for (const match of node.data.matchAll(TIME)) {
      if (onTwoLines(match.index, match.index + match[0].length)) {
        problems.push(`time on two lines: "${match[0]}" in ${name(parent)}`);
      }
    }
  }
  return problems;
}
"""


@dataclass
class Demo:
    """Ids of the demo objects the page paths name."""

    released: Asset
    held: Asset
    dataset: object
    item: object
    member: object
    delivery: object


def _webhook_delivery(job) -> Delivery:
    """A delivery that timed out once, then got its 200, on a long callback URL."""
    job.refresh_from_db()
    event_id, body = event_body(job=job, previous="GATING", reason="")
    now = timezone.now()
    delivery = Delivery.objects.create(
        org=job.org,
        job=job,
        event_id=event_id,
        event_type="job.released",
        url="https://hooks.acme.example/mintmark/events/released?source=mintmark-production",
        body=body,
        state=Delivery.State.DELIVERED,
        attempts=2,
        finished_at=now,
    )
    DeliveryAttempt.objects.create(
        delivery=delivery,
        number=1,
        started_at=now - timedelta(seconds=40),
        duration_ms=10_004.2,
        error="203.0.113.7: no answer: TimeoutError: timed out",
        next_attempt_at=now - timedelta(seconds=1),
    )
    DeliveryAttempt.objects.create(
        delivery=delivery, number=2, started_at=now, duration_ms=48.5, status_code=200
    )
    return delivery


def _import_dataset(org, folder: Path, seeds) -> object:
    folder.mkdir()
    rows = []
    for seed in seeds:
        (folder / f"scene-{seed}.png").write_bytes(encoded(picture(seed, 64)))
        rows.append(
            {
                "file": f"scene-{seed}.png",
                "licence": "CC-BY-4.0",
                "creator": f"Studio photographer number {seed}",
                "caption": f"A studio scene with shapes, take {seed}",
                "source_url": f"https://photos.example.org/archive/studio/scene-{seed}.png",
            }
        )
    manifest = folder / "studio-photos-manifest.csv"
    with manifest.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    dataset = dataset_create(org=org, actor=None, name="Studio photos")
    dataset_import(dataset=dataset, actor=None, folder=folder, manifest=manifest)
    return dataset


def _demo(personas, settings, tmp_path) -> Demo:
    org = personas["admin"].org
    admin = personas["admin"].user
    keys_make(settings, tmp_path, org)
    rules = default_rules()
    rules["prompt"]["blocked_terms"] = ["counterfeit banknote", "knock-off logo"]
    rules["prompt"]["protected_names"] = ["Jane Q. Public", "John Doe-Example"]
    rules["provenance"]["public_disclosure"] = ["org", "model", "created_at", "policy_version"]
    rules["abuse"]["max_blocked"] = 1
    policy_create(org=org, actor=admin, rules=rules, note="every card filled in for the tour")

    dataset = _import_dataset(org, tmp_path / "import", seeds=(31, 32, 33))
    model = make_model(org, tmp_path, name="studio", datasets=[dataset])
    item = dataset.items.order_by("created_at").first()

    staff = personas["staff"]
    released = gated_job(staff, model, [picture(50, 64)], prompt="a red cube on a blue floor")
    gating.job_evaluate(job_id=released.pk)
    held = gated_job(staff, model, [picture(51, 64)], prompt="a contract", context="legal")
    gating.job_evaluate(job_id=held.pk)
    # A copy of a training item: blocked, with the item it copies.
    copied = gated_job(staff, model, [picture(31, 64)], prompt="a studio scene")
    gating.job_evaluate(job_id=copied.pk)
    item_consent_record(
        item=item, actor=admin, kind="opt_out", requested_by="the photographer", reason="asked"
    )
    # The opt-out makes "studio" unusable; "shapes", trained elsewhere at 64 px, stays usable.
    shapes = model_folder(tmp_path, "shapes")
    (shapes / "unet" / "config.json").write_text(json.dumps({"sample_size": 8}))
    (shapes / "vae").mkdir()
    (shapes / "vae" / "config.json").write_text(json.dumps({"block_out_channels": [8] * 4}))
    clean, _ = make_dataset(org, name="Licensed shapes", seeds=(7, 8))
    register_at(org, shapes, name="shapes", datasets=[clean])
    member = member_add(org=org, actor=admin, email="temp.contractor@acme.test", role="staff")
    with transaction.atomic():
        abuse_record(
            org=org,
            user=member.user,
            kind="prompt_blocked",
            category="graphic_violence",
            rules=PolicyRules.model_validate(rules),
        )
    demo = Demo(
        released=released.assets.get(),
        held=held.assets.get(),
        dataset=dataset,
        item=item,
        member=member,
        delivery=_webhook_delivery(released),
    )
    assert demo.released.state == Asset.State.RELEASED, demo.released.state
    assert demo.held.state == Asset.State.IN_REVIEW, demo.held.state
    return demo


# name -> the path of the page with the demo data on it (under /o/acme/ where it has `org`).
PAGES = {
    "login": lambda d: "/login/",
    "verify": lambda d: "/verify/",
    "org_home": lambda d: "",
    "tokens": lambda d: "tokens/",
    "manage_members": lambda d: "manage/members/",
    "manage_member_remove": lambda d: f"manage/members/{d.member.pk}/remove/",
    "manage_policy": lambda d: "manage/policy/",
    "manage_policy_edit": lambda d: "manage/policy/edit/",
    "manage_policy_diff": lambda d: "manage/policy/diff/?a=1&b=2",
    "manage_policy_version": lambda d: "manage/policy/2/",
    "manage_datasets": lambda d: "manage/datasets/",
    "manage_dataset": lambda d: f"manage/datasets/{d.dataset.pk}/",
    "manage_item_opt_out": lambda d: f"manage/datasets/{d.dataset.pk}/items/{d.item.pk}/opt-out/",
    "manage_models": lambda d: "manage/models/",
    "manage_abuse": lambda d: "manage/abuse/",
    "manage_sso": lambda d: "manage/sso/",
    "manage_webhooks": lambda d: "manage/webhooks/",
    "webhook_deliveries": lambda d: "webhooks/",
    "webhook_delivery": lambda d: f"webhooks/{d.delivery.pk}/",
    "review_queue": lambda d: "review/",
    "audit_log": lambda d: "audit/",
    "export": lambda d: "export/",
    "asset_provenance": lambda d: f"assets/{d.released.pk}/provenance/",
    "generate": lambda d: "generate/",
    "jobs": lambda d: "jobs/",
    "job": lambda d: f"jobs/{d.released.job_id}/",
    "gallery": lambda d: "gallery/",
}
# Pages anyone reaches without logging in.
PUBLIC = ("login", "verify")


def portal_routes() -> dict[str, URLPattern]:
    return {pattern.name: pattern for pattern in portal_urls.urlpatterns}


def test_every_portal_route_is_a_listed_page_or_says_why_not():
    routes = set(portal_routes())
    assert not routes & set(PAGES) & set(NOT_PAGES)
    assert routes - set(PAGES) - set(NOT_PAGES) == set(), "list these in PAGES or NOT_PAGES"
    assert set(PAGES) | set(NOT_PAGES) <= routes, "these are no longer portal routes"


def _visits(role: str | None) -> list[tuple[str, str]]:
    """(name, path) of the pages `role` may open (None: logged out)."""
    routes = portal_routes()
    visits = []
    for name in PAGES:
        roles = getattr(routes[name].callback, "portal_roles", None)
        if roles is None:
            if name in PUBLIC or role is not None:
                visits.append((name, "public"))
        elif role is not None and role in roles:
            visits.append((name, "org"))
    return visits


def _check(page, problems: list, where: str) -> None:
    problems.extend(f"{where}: {problem}" for problem in page.evaluate(LAYOUT_PROBLEMS))


def _check_login_form(page, problems: list, where: str) -> None:
    """Both fields under their labels, the same distance below them, and the button below."""
    box = {
        name: page.locator(selector).bounding_box()
        for name, selector in {
            "username label": 'label[for="id_username"]',
            "username": "#id_username",
            "password label": 'label[for="id_password"]',
            "password": "#id_password",
            "button": 'button[type="submit"]',
        }.items()
    }
    gaps = [
        round(box[field]["y"] - (box[label]["y"] + box[label]["height"]))
        for field, label in (("username", "username label"), ("password", "password label"))
    ]
    if gaps[0] != gaps[1]:
        problems.append(f"{where}: the fields sit {gaps} px under their labels")
    if box["password"]["x"] != box["username"]["x"]:
        problems.append(f"{where}: the password field is not under the username field")
    if box["button"]["y"] < box["password"]["y"] + box["password"]["height"]:
        problems.append(f"{where}: the button sits beside the password field, not under it")


# No worker process: outside the xdist group "broker", so it runs beside the tests that have one.
@pytest.mark.slow
def test_every_page_for_every_role_fits_without_broken_words(
    chromium, portal_url, personas, settings, tmp_path, screenshots_root
):
    started = time.monotonic()
    demo = _demo(personas, settings, tmp_path)
    shots = screenshots_root / "every_page"
    released_file = tmp_path / "released.png"
    released_file.write_bytes(storages["release"].open(demo.released.release_key).read())
    problems: list[str] = []
    for width_name, viewport in VIEWPORTS.items():
        context = chromium.new_context(viewport=viewport)
        context.set_default_timeout(20_000)
        page = context.new_page()
        for role in (None, *ROLES):
            who = role or "anonymous"
            context.clear_cookies()
            if role is not None:
                log_in(page, portal_url, personas[role])
            for number, (name, kind) in enumerate(_visits(role)):
                path = PAGES[name](demo)
                url = f"{portal_url}{path}" if kind == "public" else f"{portal_url}/o/acme/{path}"
                response = page.goto(url)
                assert response.status == 200, (who, name, response.status)
                page.wait_for_load_state("load")
                page.screenshot(
                    path=shots / width_name / who / f"{number:02d}-{name}.png", full_page=True
                )
                _check(page, problems, f"{width_name} {who} {name}")
                if name == "login" and role is None:
                    _check_login_form(page, problems, f"{width_name} login form")
        # The results that only a form shows: a released image verified, the audit chain.
        context.clear_cookies()
        page.goto(f"{portal_url}/verify/")
        page.get_by_label(re.compile("^Image")).set_input_files(released_file)
        page.get_by_role("button", name="Verify").click()
        page.get_by_test_id("verdict").wait_for()
        page.screenshot(path=shots / width_name / "anonymous" / "verify-result.png", full_page=True)
        _check(page, problems, f"{width_name} anonymous verify result")
        log_in(page, portal_url, personas["auditor"])
        page.goto(f"{portal_url}/o/acme/audit/")
        page.get_by_role("button", name="Verify chain").click()
        page.get_by_test_id("chain-result").wait_for()
        page.screenshot(path=shots / width_name / "auditor" / "chain-result.png", full_page=True)
        _check(page, problems, f"{width_name} auditor chain result")
        context.close()
    (shots / "problems.txt").write_text("\n".join(problems))
    print(f"every page, every role, two widths: {time.monotonic() - started:.0f} s")
    assert not problems, "\n".join(problems)
