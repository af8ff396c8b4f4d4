"""The reviewer and auditor pages in a real browser, with a real worker: a staff member's image
is held for review (its deployment context asks for it), a reviewer approves it, the worker
releases it and the staff member sees it released; the auditor verifies the chain and reads its
provenance; another org's auditor gets 404 on those URLs."""

import json
import re
import time
from pathlib import Path

import pytest

from generation.models import Asset, GenerationJob
from tests.browser.conftest import log_in
from tests.conftest import make_persona

# Browser tests start worker processes on the run's broker: one at a time, with the other
# worker tests (xdist group "broker"), or their workers take each other's tasks.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]

State = GenerationJob.State


def wait_for(predicate, what: str, timeout: float = 120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"still waiting for {what} after {timeout} s")


def held_asset(staff) -> Asset:
    body = {
        "prompt": "a signed contract on a desk",
        "negative_prompt": "blurry",
        "model": "tiny",
        "width": 64,
        "height": 64,
        "steps": 4,
        "seed": 5,
        "context": "legal",
    }
    response = staff.client().post(
        "/api/generations", json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 202, response.content
    job_id = response.json()["id"]
    job = wait_for(
        lambda: GenerationJob.objects.filter(pk=job_id, state=State.IN_REVIEW).first(),
        "the job to be held for review",
    )
    return job.assets.get()


def fits_a_phone(page, shot: Path) -> bool:
    """`page`'s URL at 390 px, screenshotted to `shot`: nothing wider than the screen. It opens
    in a context of its own with the same session, so the 1280 px page is left as it is."""
    phone_context = page.context.browser.new_context(
        viewport={"width": 390, "height": 844}, storage_state=page.context.storage_state()
    )
    phone = phone_context.new_page()
    phone.goto(page.url)
    fits = phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.screenshot(path=shot, full_page=True)
    phone_context.close()
    return fits


def test_held_image_approved_released_and_audited(
    browser_context,
    portal_url,
    personas,
    tiny_model,
    worker_storage,
    worker,
    globex,
    screenshots_root,
    request,
):
    page = browser_context.new_page()
    shots = screenshots_root / re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name)
    asset = held_asset(personas["staff"])

    # The reviewer finds it in the queue, with why it is held, and approves it.
    log_in(page, portal_url, personas["reviewer"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Review").click()
    item = page.locator(f'[data-testid="review-item"][data-asset="{asset.pk}"]')
    assert "a signed contract on a desk" in item.get_by_test_id("review-prompt").inner_text()
    assert "'legal' requires human review" in item.get_by_test_id("hold-reasons").inner_text()
    image = item.get_by_role("img")
    image.wait_for()
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=image.element_handle()
    )
    assert fits_a_phone(page, shots / "phone-review.png")
    item.get_by_label("Reason").fill("a scanned contract, nothing sensitive")
    item.get_by_role("button", name="Approve").click()
    outcome = page.get_by_test_id("review-outcome")
    assert "Approved" in outcome.inner_text()
    assert outcome.get_attribute("data-decision") == "approve"
    assert "/review/" in page.url  # replaced in place by htmx, no reload

    # The approval queued the gates task; the worker stamps and releases the image.
    wait_for(
        lambda: Asset.objects.filter(pk=asset.pk, state=Asset.State.RELEASED).exists(),
        "the worker to release the approved image",
    )

    # The staff member who asked for it sees it released.
    browser_context.clear_cookies()
    log_in(page, portal_url, personas["staff"])
    page.goto(f"{portal_url}/o/acme/jobs/{asset.job_id}/")
    released = page.locator(f'[data-testid="asset"][data-asset="{asset.pk}"]')
    assert released.get_attribute("data-state") == "RELEASED"

    # The auditor verifies the chain and reads the image's provenance.
    browser_context.clear_cookies()
    log_in(page, portal_url, personas["auditor"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    page.get_by_role("button", name="Verify chain").click()
    result = page.get_by_test_id("chain-result")
    assert result.get_attribute("data-ok") == "true"
    assert re.search(r"Chain intact\. \d+ events checked", result.inner_text())
    assert fits_a_phone(page, shots / "phone-audit-log.png")
    page.get_by_label("Subject id").fill(str(asset.pk))
    page.get_by_role("button", name="Apply filters").click()
    page.get_by_role("link", name="Provenance").first.click()
    assert page.url.endswith(f"/o/acme/assets/{asset.pk}/provenance/")
    assert page.get_by_test_id("provenance-state").inner_text() == "RELEASED"
    assert page.get_by_test_id("provenance-seed").inner_text() == "5"
    review = page.get_by_test_id("provenance-review").inner_text()
    assert "a scanned contract, nothing sensitive" in review
    assert "O=Acme" in page.get_by_test_id("provenance-certificate").inner_text()
    assert fits_a_phone(page, shots / "phone-provenance.png")

    # Another org's auditor: every one of these URLs is a 404.
    stranger = make_persona(globex, "auditor", "auditor@globex.test")
    browser_context.clear_cookies()
    log_in(page, portal_url, stranger)
    for path in ("audit/", f"assets/{asset.pk}/provenance/", "export/"):
        response = page.goto(f"{portal_url}/o/acme/{path}")
        assert response.status == 404, path
    response = page.goto(f"{portal_url}/o/globex/assets/{asset.pk}/provenance/")
    assert response.status == 404
