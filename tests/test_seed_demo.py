import re
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from audit.models import AuditEvent
from defaultmodel import scenes
from defaultmodel.memorized import MEMORIZED
from generation.demo import (
    DEFAULT_MODEL,
    DEMO_MEMORIZATION_RADIUS,
    MODEL_FOLDER,
    shapes_export_ensure,
)
from generation.models import GenerativeModel
from licensing.models import Dataset, DatasetItem
from orgs.models import Membership, Organization
from policies.models import Policy
from policies.selectors import policy_active_rules
from policies.services import policy_create

README = Path(__file__).resolve().parent.parent / "README.md"
ROLES = ("admin", "staff", "reviewer", "auditor")
# The first 60 training items: 57 scenes and the first copies of posters 0, 1 and 2. The whole
# set (20 000 items, 19 005 distinct) takes minutes to draw and hash.
ITEMS = "60"

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def data_dir(settings, tmp_path):
    """The dataset export goes under the test's own folder."""
    settings.DATA_DIR = tmp_path
    return tmp_path


def readme_password() -> str:
    """The demo password as the README's logins table shows it."""
    match = re.search(r"^admin@demo\.local\s+admin\s+(\S+)\s*$", README.read_text(), re.MULTILINE)
    assert match, "README.md shows the seed_demo logins table"
    return match.group(1)


def seed(*args: str, items: str = ITEMS, stderr: StringIO | None = None) -> str:
    out = StringIO()
    call_command("seed_demo", "--shapes-items", items, *args, stdout=out, stderr=stderr)
    return out.getvalue()


def counts() -> dict[str, int]:
    return {
        "orgs": Organization.objects.count(),
        "users": get_user_model().objects.count(),
        "memberships": Membership.objects.count(),
        "policies": Policy.objects.count(),
        "events": AuditEvent.objects.count(),
        "models": GenerativeModel.objects.count(),
        "datasets": Dataset.objects.count(),
        "items": DatasetItem.objects.count(),
    }


def test_prints_one_login_per_role_with_the_readme_password_and_the_portal():
    password = readme_password()
    output = seed()
    for role in ROLES:
        assert re.search(rf"^{role}@demo\.local\s+{role}\s+{re.escape(password)}$", output, re.M)
    assert "http://127.0.0.1:8000/" in output
    org = Organization.objects.get(slug="demo")
    assert org.name == "Demo"
    roles = dict(Membership.objects.for_org(org).values_list("user__username", "role"))
    assert roles == {f"{role}@demo.local": role for role in ROLES}


def test_the_readme_shows_what_it_prints():
    output = seed()
    readme = README.read_text().splitlines()
    for line in filter(None, output.splitlines()):
        assert line in readme, line


def test_is_idempotent():
    first = seed()
    before = counts()
    second = seed()
    assert second == first
    assert counts() == before
    assert before["orgs"] == 1 and before["memberships"] == 4


def test_the_logins_work():
    seed()
    password = readme_password()
    for role in ROLES:
        client = Client(HTTP_HOST="localhost")
        assert client.login(username=f"{role}@demo.local", password=password), role
        me = client.get("/api/me")
        assert me.status_code == 200, me.content
        assert me.json()["role"] == role
        assert me.json()["org"]["slug"] == "demo"


def test_a_rerun_with_another_password_changes_nothing():
    seed()
    before = counts()
    output = seed("--password", "another-demo-pass-7", "--url", "http://localhost:9000/")
    assert counts() == before
    assert "another-demo-pass-7" not in output
    assert "unchanged" in output
    assert "http://localhost:9000/" in output
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="admin@demo.local", password=readme_password())


def test_a_chosen_password_is_used_and_a_weak_one_refused():
    with pytest.raises(CommandError, match="weak_password"):
        seed("--password", "short")
    assert not Organization.objects.filter(slug="demo").exists()
    output = seed("--password", "a-chosen-demo-pass-1")
    assert "a-chosen-demo-pass-1" in output
    client = Client(HTTP_HOST="localhost")
    assert client.login(username="staff@demo.local", password="a-chosen-demo-pass-1")


def test_registers_the_default_model_with_its_card_and_its_imported_cc0_dataset():
    output = seed()
    org = Organization.objects.get(slug="demo")
    model = GenerativeModel.objects.for_org(org).get()
    assert (model.name, model.version) == DEFAULT_MODEL
    assert model.local_path == str(MODEL_FOLDER.resolve())
    assert model.model_card == (MODEL_FOLDER / "README.md").read_text(encoding="utf-8")
    assert f"Default model: {model} " in output
    dataset = model.trained_on.get()
    assert dataset.name == scenes.DATASET_NAME and dataset.org == org
    items = list(dataset.items.select_related("licence"))
    assert len(items) == 60  # distinct: items 19, 39 and 59 are each poster's first copy
    assert {(i.licence.key, i.creator) for i in items} == {("CC0-1.0", "Mintmark")}
    assert all(len(i.sha256) == 64 and i.phash and i.dhash and i.whash for i in items)
    captions = {i.caption for i in items}
    assert {m.caption for m in MEMORIZED[:3]} <= captions
    assert scenes.training_item(0).caption in captions
    events = AuditEvent.objects.filter(org=org)
    assert events.filter(action="dataset.items_imported").exists()
    assert events.filter(action="model.registered").exists()


def test_sets_the_demo_policy_memorization_radius_once():
    seed()
    org = Organization.objects.get(slug="demo")
    assert policy_active_rules(org=org).memorization.max_hamming == DEMO_MEMORIZATION_RADIUS
    assert Policy.objects.for_org(org).count() == 2
    rules = policy_active_rules(org=org).model_dump(mode="json")
    rules["memorization"]["max_hamming"] = 3
    policy_create(org=org, actor=None, rules=rules, note="someone's own policy")
    seed()
    assert policy_active_rules(org=org).memorization.max_hamming == 3


def test_a_rerun_skips_drawing_and_importing_and_more_items_adds_only_the_missing(
    data_dir, monkeypatch
):
    seed(items="40")
    assert DatasetItem.objects.count() == 40
    assert (data_dir / "exports" / "mintmark-shapes-40" / "manifest.csv").is_file()

    def refuse(*args, **kwargs):
        raise AssertionError("drew or imported again")

    monkeypatch.setattr("generation.demo.export.export", refuse)
    monkeypatch.setattr("generation.demo.dataset_import", refuse)
    quiet = StringIO()
    seed(items="40", stderr=quiet)
    assert quiet.getvalue() == ""
    monkeypatch.undo()
    before = set(DatasetItem.objects.values_list("pk", flat=True))
    seed(items="60")
    after = set(DatasetItem.objects.values_list("pk", flat=True))
    assert before < after and len(after) == 60
    assert GenerativeModel.objects.count() == 1


def test_a_complete_export_folder_is_reused_and_no_partial_one_is_left(data_dir, monkeypatch):
    seed(items="20")
    folder = data_dir / "exports" / "mintmark-shapes-20"
    assert len(list((folder / "images").iterdir())) == 20
    assert [p.name for p in folder.parent.iterdir()] == [folder.name]
    monkeypatch.setattr(
        "generation.demo.export.export", lambda *a, **k: pytest.fail("drew the export again")
    )
    assert shapes_export_ensure(folder, 20) == folder / "manifest.csv"


def test_bad_item_count_is_refused():
    with pytest.raises(CommandError, match="shapes-items"):
        seed(items="0")
    assert not Organization.objects.filter(slug="demo").exists()
