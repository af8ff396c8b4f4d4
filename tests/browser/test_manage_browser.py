"""The admin pages in a real browser: editing the policy through its form and seeing the new
version and what changed; the members page at phone width; every admin page without
sideways scrolling."""

import re

import pytest
from django.db import transaction

from moderation.abuse import abuse_record
from policies.models import Policy
from policies.rules import PolicyRules, default_rules
from tests.browser.conftest import log_in
from tests.mm_api_support import make_dataset, make_model

# Browser tests start worker processes on the run's broker: one at a time, with the other
# worker tests (xdist group "broker"), or their workers take each other's tasks.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]

PHONE = {"width": 390, "height": 844}


def test_admin_edits_the_policy_form_and_sees_the_version_and_the_diff(page, portal_url, personas):
    log_in(page, portal_url, personas["admin"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Policy").click()
    assert page.get_by_test_id("active-policy").inner_text().startswith("Version 1 is active")
    page.get_by_role("link", name="Edit the policy").click()

    limits = page.get_by_role("group", name="Limits per job")
    limits.get_by_label("Max steps").fill("30")
    page.get_by_role("group", name="Blocked categories").get_by_label("hate").uncheck()
    page.get_by_label("Note").first.fill("fewer steps, hate handled by review")
    page.get_by_role("button", name="Save as version 2").click()

    page.wait_for_url(re.compile(r".*/manage/policy/$"))
    assert "Saved as version 2" in page.get_by_role("status").inner_text()
    versions = page.get_by_test_id("versions")
    assert "fewer steps, hate handled by review" in versions.inner_text()
    assert versions.locator('tr[data-version="2"]').get_by_text("active").is_visible()
    rules = Policy.objects.get(org=personas["admin"].org, version=2).rules
    assert rules["max_steps"] == 30 and "hate" not in rules["prompt"]["blocked_categories"]

    versions.get_by_role("link", name="what changed in v2").click()
    changes = page.get_by_test_id("changes")
    steps = changes.locator('tr[data-rule="max_steps"]')
    assert steps.locator("td.del").inner_text() == "50"
    assert steps.locator("td.add").inner_text() == "30"
    assert changes.locator('tr[data-rule="prompt.blocked_categories"]').is_visible()
    unified = page.get_by_test_id("unified-diff")
    assert unified.locator("span.add", has_text='"max_steps": 30').is_visible()
    assert unified.locator("span.del", has_text='"max_steps": 50').is_visible()


def test_an_invalid_value_is_shown_at_its_field(page, portal_url, personas):
    log_in(page, portal_url, personas["admin"])
    page.goto(f"{portal_url}/o/acme/manage/policy/edit/")
    # Past the browser's own check (step 8), to the schema's refusal.
    width = page.get_by_role("group", name="Limits per job").get_by_label("Max width")
    width.evaluate("input => input.removeAttribute('step')")
    width.fill("1001")
    page.get_by_role("button", name="Save as version 2").click()
    assert "multiple of 8" in page.locator("#rule-max-width-error").inner_text()
    assert width.get_attribute("aria-invalid") == "true"
    page.get_by_test_id("error-summary").get_by_role("link", name=re.compile("Max width")).click()
    assert page.evaluate("document.activeElement.id") == "rule-max-width"
    assert Policy.objects.filter(org=personas["admin"].org).count() == 1


def test_members_page_at_phone_width(browser_context, portal_url, personas):
    page = browser_context.new_page()
    page.set_viewport_size(PHONE)
    log_in(page, portal_url, personas["admin"])
    page.goto(f"{portal_url}/o/acme/manage/members/")
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    page.get_by_label("Email").fill("new.hire@acme.test")
    page.get_by_label("Role", exact=True).select_option("reviewer")
    page.get_by_role("button", name="Add member").click()
    assert "new.hire@acme.test added as Reviewer" in page.get_by_role("status").inner_text()

    row = page.locator('tr[data-member="staff@acme.test"]')
    row.get_by_label("Role of staff@acme.test").select_option("auditor")
    row.get_by_role("button", name="Change role").click()
    assert "staff@acme.test is now Auditor" in page.get_by_role("status").inner_text()

    page.locator('tr[data-member="new.hire@acme.test"]').get_by_role("link").click()
    page.get_by_role("button", name="Remove new.hire@acme.test").click()
    assert "new.hire@acme.test removed" in page.get_by_role("status").inner_text()
    assert page.locator('tr[data-member="new.hire@acme.test"]').count() == 0
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_every_admin_page_fits_desktop_and_phone(browser_context, portal_url, personas, tmp_path):
    org = personas["admin"].org
    dataset, (item, _) = make_dataset(org, name="Studio photos", seeds=(1, 2))
    make_dataset(org, name="Non-commercial", licence="CC-BY-NC-4.0", seeds=(3,))
    model = make_model(org, tmp_path, name="studio", datasets=[dataset])
    model.model_card = "# Studio\nA long model card line " + "without breaks " * 30
    model.save(update_fields=["model_card"])
    rules = PolicyRules.model_validate({**default_rules(), "abuse": {"max_blocked": 1}})
    with transaction.atomic():
        abuse_record(
            org=org, user=personas["staff"].user, kind="image_blocked", category="x", rules=rules
        )
    page = browser_context.new_page()
    log_in(page, portal_url, personas["admin"])
    paths = (
        "manage/members/",
        "manage/policy/",
        "manage/policy/edit/",
        "manage/policy/1/",
        "manage/policy/diff/?a=1&b=1",
        "manage/datasets/",
        f"manage/datasets/{dataset.pk}/",
        f"manage/datasets/{dataset.pk}/items/{item.pk}/opt-out/",
        "manage/models/",
        "manage/abuse/",
    )
    for viewport in ({"width": 1280, "height": 900}, PHONE):
        page.set_viewport_size(viewport)
        for path in paths:
            response = page.goto(f"{portal_url}/o/acme/{path}")
            assert response.status == 200, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= viewport["width"], (path, viewport, width)
    # The item thumbnails load (the admin-only image route).
    page.goto(f"{portal_url}/o/acme/manage/datasets/{dataset.pk}/")
    thumb = page.locator("img.thumb").first
    thumb.scroll_into_view_if_needed()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumb.element_handle()
    )
