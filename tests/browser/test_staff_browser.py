"""The staff pages in a real browser with a real worker and a tiny real model: a staff member
fills the generate form, watches the job page update itself to a released image without a
reload, downloads the image and it verifies as issued here; a blocked prompt shows its reason
at the form; the form, job page and lists fit a phone's width."""

import re

import pytest
from playwright.sync_api import expect

from generation.models import GenerationJob
from generation.submission import JobRequest, job_submit
from provenance.verify import image_verify
from tests.browser.conftest import log_in

# Browser tests start worker processes on the run's broker: one at a time, with the other
# worker tests (xdist group "broker"), or their workers take each other's tasks.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# Records every text the job's status line shows, from the first to the last poll.
WATCH_STATUS = """
() => {
  window.stayedOnPage = true;
  window.seenStatus = [];
  const record = () => {
    const line = document.querySelector('[data-testid="job-status"]');
    const text = line ? line.innerText.trim() : '';
    if (text && window.seenStatus[window.seenStatus.length - 1] !== text) {
      window.seenStatus.push(text);
    }
  };
  record();
  new MutationObserver(record).observe(document.querySelector('main'), {
    childList: true, subtree: true, characterData: true,
  });
}
"""


def fill_form(page, prompt: str, **fields) -> None:
    page.get_by_label("Prompt", exact=True).fill(prompt)
    for label, value in {"Width (px)": "64", "Height (px)": "64", **fields}.items():
        page.get_by_label(re.compile(f"^{re.escape(label)}")).fill(value)


def test_staff_generates_watches_progress_and_downloads_a_verifiable_image(
    page,
    portal_url,
    personas,
    tiny_model,
    worker,
    worker_storage,
    tmp_path,
    screenshots_root,
    request,
):
    log_in(page, portal_url, personas["staff"])
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Generate").click()
    assert page.get_by_label("Model").input_value() == str(tiny_model.pk)
    fill_form(page, "a red cube on a blue floor", **{"Steps": "12", "Seed": "7"})
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r".*/o/acme/jobs/[0-9a-f-]{36}/$"))
    job_url = page.url

    navigations = []
    page.on(
        "framenavigated",
        lambda frame: navigations.append(frame.url) if frame == page.main_frame else None,
    )
    page.evaluate(WATCH_STATUS)
    live = page.get_by_test_id("job-live")
    live.and_(page.locator('[data-state="RELEASED"]')).wait_for(timeout=180_000)

    # The page never reloaded, so the automatic per-load shots miss the final state.
    page.screenshot(path=screenshots_root / request.node.name / "released.png", full_page=True)
    seen = page.evaluate("window.seenStatus")
    assert page.url == job_url and navigations == []
    assert page.evaluate("window.stayedOnPage") is True
    assert len(seen) >= 2 and seen[0] != seen[-1], seen
    assert seen[-1].startswith("Released") and "Step 12 of 12" in seen[-1], seen
    # Once the job ended the page stopped polling and the cancel button went away.
    assert live.get_attribute("hx-trigger") is None
    assert page.get_by_role("button", name="Cancel job").count() == 0

    image = page.get_by_test_id("asset").get_by_role("img")
    assert image.get_attribute("alt").startswith("Image 1 for the prompt: a red cube")
    assert page.evaluate("(img) => img.complete && img.naturalWidth", image.element_handle()) > 0
    provenance = page.get_by_test_id("provenance")
    assert "signed C2PA manifest" in provenance.inner_text()
    assert page.get_by_test_id("provenance-link").get_attribute("href").endswith("/provenance/")

    with page.expect_download() as info:
        page.get_by_test_id("download").click()
    download = info.value
    path = tmp_path / download.suggested_filename
    download.save_as(path)
    data = path.read_bytes()
    assert data.startswith(PNG_MAGIC)
    job = GenerationJob.objects.get(pk=job_url.rstrip("/").rsplit("/", 1)[-1])
    (asset,) = job.assets.all()
    assert download.suggested_filename == f"{asset.pk}.png"
    result = image_verify(data)
    assert result.verdict == "issued_here" and result.asset.pk == asset.pk

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Gallery").click()
    # The click returns once the gallery's URL commits, before its list is parsed: wait for it.
    expect(page.get_by_test_id("gallery-item")).to_have_count(1, timeout=30_000)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    row = page.get_by_test_id("job-row")
    assert row.get_attribute("data-state") == "RELEASED"

    # Anyone, logged out, identifies the downloaded file on the public verify page.
    page.context.clear_cookies()
    page.goto(f"{portal_url}/verify/")
    page.get_by_label(re.compile("^Image")).set_input_files(path)
    page.get_by_role("button", name="Verify").click()
    verdict = page.get_by_test_id("verdict")
    assert verdict.get_attribute("data-verdict") == "issued_here"
    assert str(asset.pk) in verdict.inner_text()
    assert "Acme" in verdict.inner_text()


def test_a_blocked_prompt_shows_the_reason_at_the_form(page, portal_url, personas, tiny_model):
    log_in(page, portal_url, personas["staff"])
    page.goto(f"{portal_url}/o/acme/generate/")
    prompt = "a gory scene with a body torn apart and organs everywhere"
    fill_form(page, prompt, **{"Steps": "4"})
    page.get_by_role("button", name="Generate").click()
    error = page.get_by_role("alert")
    assert "Your prompt was blocked" in error.inner_text()
    assert "graphic violence" in page.get_by_test_id("blocked-category").inner_text()
    assert page.url.endswith("/o/acme/generate/")
    assert page.get_by_label("Prompt", exact=True).input_value() == prompt
    assert page.get_by_label("Prompt", exact=True).get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Steps").input_value() == "4"
    assert not GenerationJob.objects.exists()


def test_the_staff_pages_fit_a_phone(browser_context, portal_url, personas, tiny_model):
    staff = personas["staff"]
    job = job_submit(
        membership=staff.membership,
        req=JobRequest(prompt="a long prompt " * 20, model="tiny", width=64, height=64, steps=4),
    )
    page = browser_context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, portal_url, staff)
    for path in ("generate/", "jobs/", f"jobs/{job.pk}/", "gallery/"):
        page.goto(f"{portal_url}/o/acme/{path}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, path
    page.goto(f"{portal_url}/o/acme/generate/")
    for label in ("Prompt", "Model", "Mode", "Width (px)", "Steps", "Number of images"):
        field = page.get_by_label(label, exact=True)
        box = field.bounding_box()
        assert field.is_visible() and box["x"] >= 0 and box["x"] + box["width"] <= 390, label
    # The upload fields appear only for the modes that use them.
    assert not page.get_by_label("Starting image").is_visible()
    page.get_by_label("Mode", exact=True).select_option("inpaint")
    assert page.get_by_label("Starting image").is_visible()
    assert page.get_by_label("Mask").is_visible()
    fill_form(page, "a red cube", **{"Steps": "4"})
    page.get_by_label("Mode", exact=True).select_option("text-to-image")
    page.get_by_role("button", name="Generate").click()
    page.wait_for_url(re.compile(r".*/o/acme/jobs/[0-9a-f-]{36}/$"))
    assert page.get_by_test_id("job-state").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
