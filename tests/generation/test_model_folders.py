"""Model folders over the API (issue #16): weights come only from folders under the operator's
model roots, symlinks resolved; `<root>/<slug>/` is that org's alone, another folder is the
first registering org's, a shared root is everyone's. Every refusal is one answer, whether the
path exists, is a file, escapes a root or is another org's."""

import json
import os
from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from generation.model_folders import model_folder_place
from generation.models import GenerativeModel
from mintmark.env import env_paths
from tests.mm_api_support import assert_error, model_folder, row_counts


@pytest.fixture
def root(tmp_path, settings):
    """The only model root of these tests (pytest's temporary folder is one elsewhere)."""
    folder = tmp_path / "models"
    folder.mkdir()
    settings.MODEL_ROOTS = (folder,)
    settings.SHARED_MODEL_ROOTS = ()
    return folder


@pytest.fixture
def outside(tmp_path):
    """A real model folder next to the root, not under it."""
    return model_folder(tmp_path / "elsewhere", "secret-model", weights=b"secret weights")


def _register(persona, local_path, name="m", version="1"):
    payload = {"name": name, "version": version, "family": "sd15", "local_path": str(local_path)}
    return persona.client().post(
        "/api/models", data=json.dumps(payload), content_type="application/json"
    )


def _refused(persona, local_path) -> dict:
    before = row_counts()
    body = assert_error(_register(persona, local_path), 422, "invalid_model_folder")
    assert row_counts() == before
    return body


@pytest.fixture
def nowhere_answer(personas, root):
    """What a path that does not exist is answered: every refusal must read the same."""
    body = _refused(personas["admin"], root / "acme" / "not-there")
    assert "not under an allowed model root" in body["detail"]
    assert str(root) in body["detail"]
    return body


@pytest.mark.parametrize(
    "path",
    ["/root", "/etc", "/etc/passwd", "/nonexistent/model/folder", "/", "relative/not-there"],
)
def test_paths_outside_the_roots_are_refused_alike(personas, nowhere_answer, path):
    assert _refused(personas["admin"], path) == nowhere_answer


def test_dot_dot_escapes_are_refused_alike(personas, root, outside, nowhere_answer):
    admin = personas["admin"]
    escape = os.path.relpath(outside, root)
    assert escape.startswith("..")
    assert _refused(admin, escape) == nowhere_answer
    assert _refused(admin, f"{root}/{escape}") == nowhere_answer
    assert _refused(admin, f"{root}/acme/../..") == nowhere_answer


def test_a_root_itself_is_not_a_model_folder(personas, root, nowhere_answer):
    (root / "model_index.json").write_text("{}")
    assert _refused(personas["admin"], root) == nowhere_answer
    assert _refused(personas["admin"], ".") == nowhere_answer


def test_a_symlink_out_of_the_root_is_refused_alike(personas, root, outside, nowhere_answer):
    (root / "acme").mkdir()
    (root / "acme" / "link").symlink_to(outside, target_is_directory=True)
    (root / "acme" / "to-etc").symlink_to("/etc", target_is_directory=True)
    assert _refused(personas["admin"], root / "acme" / "link") == nowhere_answer
    assert _refused(personas["admin"], "acme/to-etc") == nowhere_answer


def test_a_folder_inside_the_org_folder_and_relative_paths_are_accepted(personas, root):
    folder = model_folder(root / "acme", "studio")
    response = _register(personas["admin"], folder)
    assert response.status_code == 201, response.content
    relative = _register(personas["admin"], "acme/studio", version="2")
    assert relative.status_code == 201, relative.content
    assert {m.local_path for m in GenerativeModel.objects.all()} == {str(folder.resolve())}


def test_another_orgs_folder_is_refused_like_a_missing_one(personas, root, nowhere_answer):
    admin, outsider = personas["admin"], personas["outsider"]
    private = model_folder(root / "acme", "studio")
    # Refused before acme registered it: <root>/acme/ is acme's alone.
    assert _refused(outsider, private) == nowhere_answer
    assert _refused(outsider, "acme/studio") == nowhere_answer
    # A folder elsewhere under the root belongs to the first org that registers it...
    demo_like = model_folder(root, "mintmark-shapes")
    assert _register(admin, demo_like).status_code == 201
    assert _refused(outsider, demo_like) == nowhere_answer
    # ...with the folders inside it and the folder around it.
    assert _refused(outsider, demo_like / "unet") == nowhere_answer
    # Through a symlink in the outsider's own folder, too.
    (root / "globex").mkdir()
    (root / "globex" / "alias").symlink_to(demo_like, target_is_directory=True)
    assert _refused(outsider, root / "globex" / "alias") == nowhere_answer
    # The owner may register its folder again (a new version).
    assert _register(admin, demo_like, version="2").status_code == 201


def test_a_folder_holding_another_orgs_folder_is_refused(personas, root, nowhere_answer):
    nested = model_folder(root / "collection", "inner")
    (root / "collection" / "model_index.json").write_text("{}")
    assert _register(personas["admin"], nested).status_code == 201
    assert _refused(personas["outsider"], root / "collection") == nowhere_answer


def test_a_shared_root_is_usable_by_every_org(personas, root, tmp_path, settings):
    shared = tmp_path / "shared"
    folder = model_folder(shared, "community")
    settings.SHARED_MODEL_ROOTS = (shared,)
    for persona in (personas["admin"], personas["outsider"]):
        response = _register(persona, folder)
        assert response.status_code == 201, response.content
    assert _register(personas["outsider"], "community", version="2").status_code == 201


def test_the_operator_shares_one_orgs_folder_by_naming_it(personas, root, settings):
    folder = model_folder(root, "mintmark-shapes")
    assert _register(personas["admin"], folder).status_code == 201
    assert _register(personas["outsider"], folder).status_code == 422
    settings.SHARED_MODEL_ROOTS = (folder,)
    assert _register(personas["outsider"], folder).status_code == 201


def test_a_failed_registration_claims_nothing(personas, root):
    folder = root / "empty"
    folder.mkdir()
    (folder / "model_index.json").write_text("{}")
    response = _register(personas["admin"], folder)
    assert response.status_code == 201
    GenerativeModel.objects.filter(pk=response.json()["id"]).update(state="failed")
    assert _register(personas["outsider"], folder).status_code == 201


def test_placement_is_plain_path_logic(tmp_path):
    root, shared = tmp_path / "models", tmp_path / "shared"
    (root / "acme" / "m").mkdir(parents=True)
    (shared / "s").mkdir(parents=True)
    place = model_folder_place("acme/m", [root], [shared])
    assert place.folder == (root / "acme" / "m").resolve()
    assert place.first_parts == ("acme",) and place.shared is False
    assert model_folder_place("s", [root], [shared]).shared is True
    assert model_folder_place(str(shared), [root], [shared]).shared is True
    assert model_folder_place("/tmp/a\x00b", [root], [shared]) is None
    loop = root / "loop"
    loop.symlink_to(loop)
    assert model_folder_place(str(loop), [root], []) is None


def test_roots_setting_takes_colons_and_commas(monkeypatch):
    monkeypatch.setenv("X_ROOTS", " /srv/models:/data/models/, /mnt/x ,")
    assert env_paths("X_ROOTS", ()) == (Path("/srv/models"), Path("/data/models"), Path("/mnt/x"))
    monkeypatch.setenv("X_ROOTS", "")
    assert env_paths("X_ROOTS", (Path("/d"),)) == ()
    monkeypatch.delenv("X_ROOTS")
    assert env_paths("X_ROOTS", (Path("/d"),)) == (Path("/d"),)


@pytest.mark.parametrize(
    ("raw", "message"),
    [("models", "not an absolute path"), ("/a:./b", "not an absolute path"), ("/a,/a/", "repeats")],
)
def test_roots_setting_refuses_bad_values(monkeypatch, raw, message):
    monkeypatch.setenv("X_ROOTS", raw)
    with pytest.raises(ImproperlyConfigured, match=message):
        env_paths("X_ROOTS", ())
