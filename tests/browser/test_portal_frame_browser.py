"""The portal's frame in a real browser: logging in, the header, the menu at desktop and phone
width, another org's URL, and the public verify page."""

import re

import pytest

from tests.browser.conftest import log_in
from tests.gating_support import encoded, picture

# Browser tests start worker processes on the run's broker: one at a time, with the other
# worker tests (xdist group "broker"), or their workers take each other's tasks.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("broker")]


def test_login_header_and_menu_then_logout(page, portal_url, personas):
    log_in(page, portal_url, personas["reviewer"])
    assert page.get_by_test_id("org").inner_text() == "Acme"
    assert page.get_by_test_id("role").inner_text() == "Reviewer"
    # A reviewer cannot generate, so no quota is shown.
    assert page.get_by_test_id("quota").count() == 0
    menu = page.get_by_role("navigation", name="Main")
    assert menu.get_by_role("link", name="API tokens").is_visible()
    assert menu.get_by_role("link", name="Generate").count() == 0
    page.get_by_role("button", name="Log out").click()
    page.wait_for_url(re.compile(r".*/login/$"))
    page.goto(f"{portal_url}/o/acme/")
    assert "/login/?next=/o/acme/" in page.url


def test_phone_width_keeps_the_frame_usable(browser_context, portal_url, personas):
    page = browser_context.new_page()
    page.set_viewport_size({"width": 390, "height": 844})
    log_in(page, portal_url, personas["staff"])
    # Nothing wider than the screen: the header and menu wrap instead of scrolling sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390
    assert page.get_by_role("button", name="Log out").is_visible()


def test_keyboard_reaches_the_skip_link_first(page, portal_url, personas):
    log_in(page, portal_url, personas["staff"])
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_another_orgs_url_is_404(page, portal_url, personas):
    log_in(page, portal_url, personas["outsider"])
    response = page.goto(f"{portal_url}/o/acme/tokens/")
    assert response.status == 404
    assert page.get_by_role("heading", name="Not found").is_visible()


def test_public_verify_page_without_login_says_unknown(page, portal_url, tmp_path):
    image = tmp_path / "someone-elses.png"
    image.write_bytes(encoded(picture(11)))
    page.goto(f"{portal_url}/verify/")
    page.get_by_label(re.compile("^Image")).set_input_files(image)
    page.get_by_role("button", name="Verify").click()
    verdict = page.get_by_test_id("verdict")
    assert verdict.get_attribute("data-verdict") == "unknown"
    assert "nothing links this image" in verdict.inner_text()
