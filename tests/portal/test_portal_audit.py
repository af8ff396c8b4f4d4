"""The auditor's pages: the audit log with filters and paging, the chain check, the provenance
page of an asset and the exports; every refusal (role 403, other org 404, bad input 4xx)."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from audit.models import AuditEvent
from audit.services import audit_append
from moderation import gating
from moderation.review import review_decide
from provenance.export import export_check
from provenance.release import trust_anchors
from tests.conftest import make_persona
from tests.db_support import triggers_bypassed
from tests.gating_support import keys_make
from tests.portal.review_support import held_job, review_model

HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def signing(personas, settings, tmp_path):
    keys_make(settings, tmp_path, personas["admin"].org)


@pytest.fixture
def released(personas, signing, tmp_path):
    """An image held for review, approved by the reviewer, then stamped and released."""
    model = review_model(personas["admin"].org, tmp_path)
    asset = held_job(personas["staff"], model).assets.get()
    review_decide(
        membership=personas["reviewer"].membership,
        asset_id=asset.pk,
        decision="approve",
        reason="a contract scan, fine",
    )
    gating.job_evaluate(job_id=asset.job_id)
    asset.refresh_from_db()
    assert asset.state == "RELEASED"
    return asset


def ticks(org, count: int, action: str = "test.tick") -> None:
    for n in range(count):
        with transaction.atomic():
            audit_append(org=org, actor=None, action=action, subject=("test.thing", str(n)))


def seqs(response) -> list[int]:
    html = response.content.decode()
    return [int(part.split('"', 1)[0]) for part in html.split('data-seq="')[1:]]


def test_log_lists_events_newest_first_with_short_hashes(personas):
    org = personas["admin"].org
    ticks(org, 3)
    for role in ("auditor", "admin"):
        page = personas[role].portal().get("/o/acme/audit/")
        assert page.status_code == 200, role
    newest = AuditEvent.objects.for_org(org).order_by("-seq").first()
    html = page.content.decode()
    assert seqs(page)[0] == newest.seq
    assert f'title="{newest.hash}" data-testid="event-hash">{newest.hash[:12]}…<' in html
    assert f">{newest.hash}<" not in html


def test_filters(personas):
    org = personas["admin"].org
    ticks(org, 2)
    ticks(org, 1, action="other.thing")
    client = personas["auditor"].portal()
    all_seqs = set(AuditEvent.objects.for_org(org).values_list("seq", flat=True))
    tick_seqs = set(
        AuditEvent.objects.for_org(org).filter(action="test.tick").values_list("seq", flat=True)
    )
    assert set(seqs(client.get("/o/acme/audit/?action=test.tick"))) == tick_seqs
    assert set(seqs(client.get("/o/acme/audit/?action=test."))) == tick_seqs
    assert len(seqs(client.get("/o/acme/audit/?actor=system&subject_type=test.thing"))) == 3
    one = client.get("/o/acme/audit/?subject_id=1&subject_type=test.thing")
    assert len(seqs(one)) == 1
    today = timezone.now().date()
    same_day = client.get(f"/o/acme/audit/?date_from={today}&date_to={today}")
    assert set(seqs(same_day)) == all_seqs
    tomorrow = today + timedelta(days=1)
    assert seqs(client.get(f"/o/acme/audit/?date_from={tomorrow}")) == []
    assert seqs(client.get(f"/o/acme/audit/?date_to={today - timedelta(days=1)}")) == []
    assert b"No events match." in client.get("/o/acme/audit/?actor=nobody").content


def test_bad_filters_are_400_with_the_reason(personas):
    client = personas["auditor"].portal()
    bad_date = client.get("/o/acme/audit/?date_from=yesterday")
    assert bad_date.status_code == 400
    assert b'role="alert"' in bad_date.content and b'aria-invalid="true"' in bad_date.content
    today = timezone.now().date()
    backwards = client.get(f"/o/acme/audit/?date_from={today}&date_to={today - timedelta(days=2)}")
    assert backwards.status_code == 400
    assert b"The end date is before the start date." in backwards.content
    too_long = client.get("/o/acme/audit/?action=" + "x" * 101)
    assert too_long.status_code == 400


def test_paging_keeps_the_filters(personas):
    org = personas["admin"].org
    ticks(org, 30)
    client = personas["auditor"].portal()
    first = client.get("/o/acme/audit/?action=test.tick")
    assert len(seqs(first)) == 25 and b"Page 1 of 2" in first.content
    assert b'href="?action=test.tick&amp;page=2"' in first.content
    second = client.get("/o/acme/audit/?action=test.tick&page=2")
    assert len(seqs(second)) == 5 and not set(seqs(first)) & set(seqs(second))


def test_verify_chain_with_htmx_and_without(personas):
    org = personas["admin"].org
    ticks(org, 4)
    count = AuditEvent.objects.for_org(org).count()
    client = personas["auditor"].portal()
    fragment = client.post("/o/acme/audit/verify/", **HTMX)
    assert fragment.status_code == 200 and b"<html" not in fragment.content
    html = fragment.content.decode()
    assert 'data-ok="true"' in html and f"{count} events checked" in html
    page = client.post("/o/acme/audit/verify/")
    assert page.status_code == 200 and b"<html" in page.content
    assert b'data-ok="true"' in page.content and b"Audit events" in page.content
    assert client.get("/o/acme/audit/verify/").status_code == 405


def test_verify_chain_names_where_it_breaks(personas):
    org = personas["admin"].org
    ticks(org, 4)
    target = AuditEvent.objects.for_org(org).order_by("seq")[2]
    with triggers_bypassed():
        AuditEvent.objects.filter(pk=target.pk).update(actor_label="mallory")
    fragment = personas["auditor"].portal().post("/o/acme/audit/verify/", **HTMX)
    html = fragment.content.decode()
    assert 'data-ok="false"' in html and 'role="alert"' in html
    assert f"Chain broken at event #{target.seq}:" in html
    assert "hash does not match the event&#x27;s content" in html


def test_who_may_see_the_audit_pages(personas):
    for role in ("staff", "reviewer"):
        client = personas[role].portal()
        for url in ("/o/acme/audit/", "/o/acme/export/", "/o/acme/export/provenance/"):
            assert client.get(url).status_code == 403, (role, url)
        assert client.get("/o/acme/export/audit/?format=csv").status_code == 403, role
        assert client.post("/o/acme/audit/verify/").status_code == 403, role
    outsider = personas["outsider"].portal()
    for url in ("/o/acme/audit/", "/o/acme/export/", "/o/acme/export/audit/?format=jsonl"):
        assert outsider.get(url).status_code == 404, url
    assert outsider.post("/o/acme/audit/verify/").status_code == 404
    menu = personas["auditor"].portal().get("/o/acme/").content.decode()
    assert "Audit log" in menu and "Export" in menu and ">Review<" not in menu
    assert "Audit log" not in personas["reviewer"].portal().get("/o/acme/").content.decode()


def test_provenance_page(personas, released):
    page = personas["auditor"].portal().get(f"/o/acme/assets/{released.pk}/provenance/")
    assert page.status_code == 200
    html = page.content.decode()
    job = released.job
    assert f'data-testid="provenance-seed">{released.seed}<' in html
    assert "a landscape with shapes" in html and "tiny:1 (sd15)" in html
    assert f'data-testid="provenance-policy">{job.policy.version}<' in html
    assert "CC0-1.0" in html and "training allowed" in html
    for gate in ("prompt", "image_safety", "memorization"):
        assert f'<th scope="row">{gate} ' in html
    assert "a contract scan, fine" in html and "reviewer@acme.test" in html
    assert 'data-testid="provenance-certificate">' in html and "BEGIN CERTIFICATE" in html
    released_event = AuditEvent.objects.get(subject_id=str(released.pk), action="asset.released")
    assert f'title="{released_event.hash}">{released_event.hash[:12]}…<' in html
    assert f'href="/api/assets/{released.pk}/provenance"' in html
    log = personas["auditor"].portal().get(f"/o/acme/audit/?subject_id={released.pk}")
    assert f'href="/o/acme/assets/{released.pk}/provenance/"' in log.content.decode()


def test_who_may_read_a_provenance_page(personas, released, globex):
    url = f"/o/acme/assets/{released.pk}/provenance/"
    assert personas["admin"].portal().get(url).status_code == 200
    assert personas["staff"].portal().get(url).status_code == 200  # who made it
    assert personas["reviewer"].portal().get(url).status_code == 403
    other_staff = make_persona(personas["admin"].org, "staff", "staff2@acme.test")
    assert other_staff.portal().get(url).status_code == 404
    outsider = personas["outsider"].portal()
    assert outsider.get(url).status_code == 404
    assert outsider.get(f"/o/globex/assets/{released.pk}/provenance/").status_code == 404
    auditor = make_persona(globex, "auditor", "auditor@globex.test").portal()
    assert auditor.get(f"/o/globex/assets/{released.pk}/provenance/").status_code == 404


def test_signed_export_downloads_and_checks(personas, released):
    response = personas["auditor"].portal().get("/o/acme/export/provenance/")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="acme-provenance.jsonl"'
    lines = b"".join(response.streaming_content).decode().splitlines(keepends=True)
    check = export_check(lines, trust_anchors_pem=trust_anchors())
    assert check.ok and check.records == 1, check.reason


def test_signed_export_without_a_key_is_a_message(personas, settings, tmp_path):
    settings.DATA_DIR = tmp_path / "no-keys"
    page = personas["auditor"].portal().get("/o/acme/export/provenance/")
    assert page.status_code == 409
    assert b'role="alert"' in page.content and b"provenance_init" in page.content
    assert "Content-Disposition" not in page


def test_audit_exports_follow_the_filters(personas):
    org = personas["admin"].org
    ticks(org, 3)
    ticks(org, 2, action="other.thing")
    client = personas["auditor"].portal()
    jsonl = client.get("/o/acme/export/audit/?format=jsonl&action=test.tick")
    assert jsonl.status_code == 200
    assert jsonl["Content-Disposition"] == 'attachment; filename="audit-acme.jsonl"'
    records = [json.loads(line) for line in b"".join(jsonl.streaming_content).splitlines()]
    assert [r["action"] for r in records] == ["test.tick"] * 3
    assert [r["seq"] for r in records] == sorted(r["seq"] for r in records)
    assert all(len(r["hash"]) == 64 for r in records)
    response = client.get("/o/acme/export/audit/?format=csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == AuditEvent.objects.for_org(org).count()
    page = client.get("/o/acme/audit/?action=test.tick").content.decode()
    assert "/o/acme/export/audit/?action=test.tick&amp;format=csv" in page


def test_audit_export_refuses_bad_input(personas):
    client = personas["auditor"].portal()
    for url in ("/o/acme/export/audit/", "/o/acme/export/audit/?format=xml"):
        response = client.get(url)
        assert response.status_code == 400 and b"Choose the format" in response.content
    bad = client.get("/o/acme/export/audit/?format=csv&date_to=soon")
    assert bad.status_code == 400 and b"The filters are not valid" in bad.content


def test_export_page(personas):
    page = personas["admin"].portal().get("/o/acme/export/")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'href="/o/acme/export/provenance/"' in html
    assert 'href="/o/acme/export/audit/?format=jsonl"' in html
