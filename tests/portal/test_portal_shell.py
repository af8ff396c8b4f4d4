"""The portal's frame: org-scoped URLs, role checks, the header, tokens, error pages and the
public verify page (Django test client; tests/browser drives the same pages in Chromium)."""

import re
from datetime import UTC

from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse
from django.views.defaults import server_error

from moderation import gating
from orgs.models import ApiToken
from orgs.services import member_add
from tests.gating_support import encoded, gated_job, keys_make, picture
from tests.mm_api_support import make_dataset, make_model


def test_start_page_shows_org_role_and_only_the_roles_menu(personas):
    page = personas["auditor"].portal().get("/o/acme/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-testid="org">Acme' in html and 'data-testid="role">Auditor' in html
    assert "API tokens" in html
    assert "Generate" not in html


def test_only_the_roles_that_generate_see_a_quota(personas):
    for role in ("admin", "staff"):
        html = personas[role].portal().get("/o/acme/").content.decode()
        assert 'data-testid="quota"' in html, role
        assert re.search(r"\d+ of \d+ images left this month", html), role
    for role in ("reviewer", "auditor"):
        html = personas[role].portal().get("/o/acme/").content.decode()
        assert 'data-testid="quota"' not in html, role
        assert "images left" not in html, role


def test_another_orgs_pages_are_404_in_the_portals_style(personas):
    outsider = personas["outsider"].portal()
    for url in ("/o/acme/", "/o/acme/tokens/", "/o/no-such-org/"):
        response = outsider.get(url)
        assert response.status_code == 404, url
        assert b'data-status="404"' in response.content


def test_pages_need_login(db):
    response = Client(HTTP_HOST="localhost").get("/o/acme/tokens/")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("portal:login"))


def test_member_of_two_orgs_can_switch(personas, globex):
    staff = personas["staff"]
    member_add(org=globex, actor=None, email=staff.user.username, role="auditor")
    html = staff.portal().get("/o/acme/").content.decode()
    assert 'href="/o/globex/"' in html
    assert 'data-testid="role">Auditor' in staff.portal().get("/o/globex/").content.decode()


def test_tokens_created_once_shown_and_revoked(personas):
    staff = personas["staff"]
    client = staff.portal()
    created = client.post("/o/acme/tokens/", {"name": "ci script"})
    secret = re.search(rb'data-testid="token-secret">([^<]+)<', created.content).group(1).decode()
    token = ApiToken.objects.get(user=staff.user, name="ci script")
    assert (
        Client(HTTP_HOST="localhost", HTTP_AUTHORIZATION=f"Bearer {secret}")
        .get("/api/me")
        .status_code
        == 200
    )
    listing = client.get("/o/acme/tokens/").content
    assert b"ci script" in listing and secret.encode() not in listing
    revoked = client.post(f"/o/acme/tokens/{token.pk}/revoke/", follow=True)
    assert revoked.status_code == 200 and "revoked" in revoked.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None


def test_token_refusals(personas):
    client = personas["staff"].portal()
    blank = client.post("/o/acme/tokens/", {"name": "   "})
    assert blank.status_code == 200 and b'role="alert"' in blank.content
    someone_elses = ApiToken.objects.get(user=personas["admin"].user)
    assert client.post(f"/o/acme/tokens/{someone_elses.pk}/revoke/").status_code == 404
    assert client.get(f"/o/acme/tokens/{someone_elses.pk}/revoke/").status_code == 405
    someone_elses.refresh_from_db()
    assert someone_elses.revoked_at is None


def test_forms_refuse_a_missing_csrf_token_with_a_friendly_page(personas):
    client = Client(HTTP_HOST="localhost", enforce_csrf_checks=True)
    client.force_login(personas["staff"].user)
    response = client.post("/o/acme/tokens/", {"name": "x"})
    assert response.status_code == 403
    assert b"This form expired" in response.content


def test_unknown_url_is_a_portal_404(db):
    response = Client(HTTP_HOST="localhost").get("/no/such/page/")
    assert response.status_code == 404
    assert b'data-status="404"' in response.content and b"Mintmark" in response.content


def test_public_verify_page_says_unknown_and_refuses_bad_uploads(db):
    client = Client(HTTP_HOST="localhost")
    assert client.get("/verify/").status_code == 200
    upload = {"image": _file("x.png", encoded(picture(3)))}
    response = client.post("/verify/", upload)
    assert response.status_code == 200
    assert b'data-verdict="unknown"' in response.content
    for files in ({"image": _file("x.txt", b"not an image")}, {}):
        refused = client.post("/verify/", files)
        assert refused.status_code == 422
        assert b'role="alert"' in refused.content


def _file(name, data):
    return SimpleUploadedFile(name, data)


def test_server_error_page_is_the_portals_and_needs_no_context(rf):
    response = server_error(rf.get("/"))
    assert response.status_code == 500
    assert b"Something went wrong on our side" in response.content
    assert b"/static/portal/portal.css" in response.content


def test_verify_says_when_an_issued_image_was_made_as_the_portal_writes_times(
    personas, settings, tmp_path
):
    org = personas["admin"].org
    keys_make(settings, tmp_path, org)
    dataset, _ = make_dataset(org, seeds=(1,))
    job = gated_job(
        personas["staff"], make_model(org, tmp_path, datasets=[dataset]), [picture(5, 64)]
    )
    gating.job_evaluate(job_id=job.pk)
    asset = job.assets.get(state="RELEASED")
    data = storages["release"].open(asset.release_key).read()
    upload = {"image": SimpleUploadedFile("mine.png", data, content_type="image/png")}
    html = Client(HTTP_HOST="localhost").post("/verify/", upload).content.decode()
    assert 'data-verdict="issued_here"' in html
    created = re.search(r'data-testid="verified-created"><time datetime="[^"]+">([^<]+)<', html)
    created = created.group(1)
    assert created == asset.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
