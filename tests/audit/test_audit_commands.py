"""`manage.py audit_verify` and `audit_export`, and the audit API's exports: after a run of real
actions every chain verifies; a forgery is named and fails the command; an export (command or
API, JSON Lines or CSV) re-verifies offline with nothing but audit.chain."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from audit.chain import ChainLink, verify_chain
from audit.export import FORMULA_STARTS, csv_cell_original
from audit.models import AuditEvent
from audit.selectors import audit_verify
from audit.services import audit_append
from licensing.models import ConsentRecord
from licensing.services import dataset_create, dataset_item_add, item_consent_record, licence_create
from orgs.services import (
    member_add,
    member_remove,
    member_role_update,
    token_create,
    token_revoke,
)
from policies.services import policy_create
from tests.db_support import triggers_bypassed
from tests.mm_api_support import make_model, png_bytes

pytestmark = pytest.mark.django_db

CHAIN_FIELDS = ("prev_hash", "hash")


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def run_failing(*args) -> tuple[str, str]:
    out = io.StringIO()
    with pytest.raises(CommandError) as excinfo:
        call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue(), str(excinfo.value)


def verify_records(records: list[dict]):
    """Offline verification of an export: each record's payload is the record minus the chain
    fields."""
    links = (
        ChainLink(
            record["seq"],
            record["prev_hash"],
            record["hash"],
            {key: value for key, value in record.items() if key not in CHAIN_FIELDS},
        )
        for record in records
    )
    return verify_chain(links)


def jsonl_records(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line]


def csv_records(text: str) -> list[dict]:
    """CSV cells are text: seq and actor back to numbers, data back to JSON."""
    records = []
    for escaped in csv.DictReader(io.StringIO(text, newline="")):
        row = {key: csv_cell_original(value) for key, value in escaped.items()}
        row["seq"] = int(row["seq"])
        row["actor"] = int(row["actor"]) if row["actor"] else None
        row["data"] = json.loads(row["data"])
        records.append(row)
    return records


@pytest.fixture
def busy(personas, acme, tmp_path):
    """A run of real actions through the services, by the admin and the platform."""
    admin = personas["admin"].user
    staff = personas["staff"].membership
    policy_create(
        org=acme,
        actor=admin,
        rules={"quota": {"org_monthly_images": 500, "user_monthly_images": 50}, "max_steps": 30},
        note="tighter",
    )
    licence_create(
        org=acme,
        actor=admin,
        key="acme-stock",
        name="Acme stock",
        custom_text="Acme may train on these.",
        allows_training=True,
        allows_commercial=True,
        requires_attribution=False,
    )
    dataset = dataset_create(org=acme, actor=admin, name="Photos", description="stock")
    items = [
        dataset_item_add(dataset=dataset, actor=admin, data=png_bytes(seed), licence_key=key)
        for seed, key in ((1, "CC0-1.0"), (2, "acme-stock"), (3, "CC-BY-4.0"))
    ]
    make_model(acme, tmp_path, datasets=[dataset], actor=admin)
    item_consent_record(
        item=items[0], actor=admin, kind=ConsentRecord.Kind.OPT_OUT, requested_by="Jo Owner"
    )
    member_role_update(membership=staff, actor=admin, role="reviewer")
    extra = member_add(org=acme, actor=admin, email="temp@acme.test", role="staff")
    issued = token_create(membership=extra, name="ci")
    token_revoke(membership=extra, token=issued.token)
    member_remove(membership=extra, actor=admin)
    return acme


def test_real_actions_verify_ok(busy, globex):
    actions = set(AuditEvent.objects.for_org(busy).values_list("action", flat=True))
    assert {
        "org.created",
        "policy.created",
        "licence.created",
        "member.added",
        "dataset.created",
        "dataset.item_added",
        "model.registered",
        "dataset.item_opt_out",
        "member.role_changed",
        "token.created",
        "token.revoked",
        "member.removed",
    } <= actions
    out = run("audit_verify")
    lines = out.splitlines()
    assert len(lines) == 2, out
    for org, line in zip((busy, globex), lines, strict=True):
        events = AuditEvent.objects.for_org(org).order_by("seq")
        assert line == (
            f"{org.slug}: ok, checked {events.count()} events, head {events.last().hash}"
        )


def test_verify_one_org(busy, globex):
    out = run("audit_verify", "--org", globex.slug)
    assert out.startswith(f"{globex.slug}: ok, checked ")
    assert busy.slug not in out


def test_verify_unknown_org_is_an_error(busy):
    _, message = run_failing("audit_verify", "--org", "nope")
    assert "nope" in message


def test_verify_names_a_forged_row_and_fails(busy, globex):
    target = AuditEvent.objects.for_org(busy).get(action="model.registered")
    with triggers_bypassed():
        AuditEvent.objects.filter(pk=target.pk).update(
            data={**target.data, "weights_sha256": "0" * 64}
        )
    out, message = run_failing("audit_verify")
    assert f"{busy.slug}: BROKEN at seq {target.seq}: hash does not match" in out
    assert f"{globex.slug}: ok" in out  # the other org's chain is untouched
    assert f"{busy.slug} (seq {target.seq})" in message
    # The selector says the same.
    result = audit_verify(org=busy)
    assert (result.ok, result.first_bad_seq) == (False, target.seq)
    # Verifying only the intact org succeeds.
    assert run("audit_verify", "--org", globex.slug).startswith(f"{globex.slug}: ok")


def test_verify_names_a_deleted_middle_row(busy):
    events = list(AuditEvent.objects.for_org(busy).order_by("seq"))
    target = events[len(events) // 2]
    with triggers_bypassed(), connection.cursor() as cursor:
        cursor.execute("DELETE FROM audit_auditevent WHERE id = %s", [target.pk])
    out, message = run_failing("audit_verify", "--org", busy.slug)
    assert f"BROKEN at seq {target.seq + 1}: seq {target.seq} is missing" in out
    assert f"(seq {target.seq + 1})" in message


# ---------------------------------------------------------------------------------------------
# Exports


def test_export_jsonl_to_stdout_reverifies(busy, globex):
    records = jsonl_records(run("audit_export", "--org", busy.slug))
    events = list(AuditEvent.objects.for_org(busy).order_by("seq"))
    assert [r["seq"] for r in records] == [e.seq for e in events]
    assert {r["org"] for r in records} == {str(busy.pk)}
    result = verify_records(records)
    assert result.ok and result.checked == len(events)
    assert result.head_hash == events[-1].hash
    # An edited export no longer verifies, and the edit is named.
    records[3]["data"] = {"edited": True}
    assert verify_records(records).first_bad_seq == records[3]["seq"]


def test_export_csv_to_file_reverifies(busy, tmp_path):
    target = tmp_path / "audit.csv"
    run("audit_export", "--org", busy.slug, "--format", "csv", "--output", str(target))
    text = target.read_text(encoding="utf-8")
    assert text.splitlines()[0].startswith("seq,created_at,actor,")
    records = csv_records(text)
    assert len(records) == AuditEvent.objects.for_org(busy).count()
    assert verify_records(records).ok


def test_export_csv_cells_never_start_a_spreadsheet_formula(busy, tmp_path, django_user_model):
    # A name an SSO provider or an admin chose: a spreadsheet would run it as a formula.
    mallory = django_user_model.objects.create_user(username='=HYPERLINK("http://x.test")@x')
    for label in (mallory, None):
        audit_append(org=busy, actor=label, action="test.csv", data={"note": "+1"})
    text = run("audit_export", "--org", busy.slug, "--format", "csv")
    cells = [cell for row in csv.reader(io.StringIO(text, newline="")) for cell in row]
    assert '\'=HYPERLINK("http://x.test")@x' in cells
    assert not [cell for cell in cells if cell.startswith(FORMULA_STARTS)]
    # The apostrophe is undone on reading, and the chain re-verifies from the CSV.
    records = csv_records(text)
    assert records[-2]["actor_label"] == mallory.username
    assert verify_records(records).ok


def test_export_jsonl_to_file(busy, tmp_path):
    target = tmp_path / "audit.jsonl"
    assert run("audit_export", "--org", busy.slug, "--output", str(target)) == ""
    assert verify_records(jsonl_records(target.read_text(encoding="utf-8"))).ok


def test_export_refuses_unknown_org_and_format(busy):
    _, message = run_failing("audit_export", "--org", "nope")
    assert "nope" in message
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("audit_export", "--org", busy.slug, "--format", "xml")


@pytest.mark.parametrize(
    ("fmt", "content_type", "parse"),
    [("jsonl", "application/x-ndjson", jsonl_records), ("csv", "text/csv", csv_records)],
)
def test_api_export_reverifies(busy, personas, fmt, content_type, parse):
    response = personas["auditor"].client().get(f"/api/audit/events?format={fmt}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert f'filename="audit-{busy.slug}.{fmt}"' in response["Content-Disposition"]
    records = parse(b"".join(response.streaming_content).decode())
    assert len(records) == AuditEvent.objects.for_org(busy).count()
    assert {r["org"] for r in records} == {str(busy.pk)}
    assert verify_records(records).ok
    # The API and the command export the same bytes.
    assert parse(run("audit_export", "--org", busy.slug, "--format", fmt)) == records


def test_api_export_is_scoped_and_role_checked(busy, personas, globex):
    records = jsonl_records(
        b"".join(
            personas["outsider"].client().get("/api/audit/events?format=jsonl").streaming_content
        ).decode()
    )
    assert records and {r["org"] for r in records} == {str(globex.pk)}
    assert verify_records(records).ok
    assert personas["staff"].client().get("/api/audit/events?format=jsonl").status_code == 403


def test_api_verify_names_the_forged_row(busy, personas):
    client = personas["auditor"].client()
    assert client.get("/api/audit/verify").json()["ok"] is True
    target = AuditEvent.objects.for_org(busy).get(action="dataset.created")
    with triggers_bypassed():
        AuditEvent.objects.filter(pk=target.pk).update(actor_label="mallory")
    body = client.get("/api/audit/verify").json()
    assert (body["ok"], body["first_bad_seq"]) == (False, target.seq)
