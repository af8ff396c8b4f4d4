"""`manage.py import_dataset`: a folder of images and a CSV or JSON manifest become dataset items
with their licences, content hash and perceptual hashes; a re-run adds nothing; a manifest that
names an unknown licence, a missing file, a non-image or a path outside the folder is refused
with a message naming the row, and nothing is written."""

import csv
import hashlib
import io
import json
from pathlib import Path

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from PIL import Image, ImageDraw

from audit.models import AuditEvent
from audit.selectors import audit_verify
from licensing.models import Dataset, DatasetItem
from licensing.services import dataset_create
from tests.mm_api_support import HEX16, HEX64, row_counts

pytestmark = pytest.mark.django_db

COUNT = 12
LICENCES = ("CC0-1.0", "CC-BY-4.0", "CC-BY-SA-4.0")


def png_bytes(index: int, size: int = 48) -> bytes:
    """A gradient with a disc, both varying with `index`, so every image's content and
    perceptual hashes differ."""
    image = Image.new("RGB", (size, size))
    pixels = image.load()
    for y in range(size):
        for x in range(size):
            v = (x * (index % 4 + 1) + y * (index // 4 + 1) * 3) % 256
            pixels[x, y] = (v, (v * 7 + index * 40) % 256, (255 - v + index * 13) % 256)
    corner = 6 + (index * 7) % (size - 18)
    ImageDraw.Draw(image).ellipse(
        (corner, size - corner - 12, corner + 12, size - corner),
        fill=((index * 60) % 256, 255 - index * 20, 30),
    )
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def manifest_rows(count: int = COUNT) -> list[dict]:
    return [
        {
            "file": f"img{i:02d}.png" if i % 3 else f"sub/img{i:02d}.png",
            "licence": LICENCES[i % len(LICENCES)],
            "source_url": f"https://photos.example/{i}",
            "creator": f"Photographer {i}",
            "caption": f"test image {i}, with a comma",
            "consent": "granted" if i % 2 else "unknown",
        }
        for i in range(count)
    ]


def write_csv(path, rows: list[dict]):
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def write_json(path, rows: list[dict], wrap: bool = False):
    path.write_text(json.dumps({"items": rows} if wrap else rows), encoding="utf-8")
    return path


@pytest.fixture
def folder(tmp_path):
    """~12 small, different PNGs (some in a subfolder) and both kinds of manifest beside them."""
    images = tmp_path / "images"
    (images / "sub").mkdir(parents=True)
    for i, row in enumerate(manifest_rows()):
        (images / row["file"]).write_bytes(png_bytes(i))
    write_csv(tmp_path / "manifest.csv", manifest_rows())
    write_json(tmp_path / "manifest.json", manifest_rows(), wrap=True)
    return images


def run(folder, manifest, *args, org="acme", dataset="Photos") -> str:
    out = io.StringIO()
    call_command(
        "import_dataset",
        str(folder),
        "--manifest",
        str(manifest),
        "--org",
        org,
        "--dataset",
        dataset,
        *args,
        stdout=out,
        stderr=io.StringIO(),
    )
    return out.getvalue()


def stored_files() -> list[Path]:
    root = Path(storages["datasets"].location)
    return sorted(path for path in root.rglob("*") if path.is_file())


def refused(folder, manifest, *args, **kwargs) -> str:
    """Runs an import that must be refused; returns the message and checks that no row and no
    stored file was written."""
    before, stored = row_counts(), stored_files()
    with pytest.raises(CommandError) as excinfo:
        run(folder, manifest, *args, **kwargs)
    assert row_counts() == before
    assert stored_files() == stored
    return str(excinfo.value)


def items(dataset_name: str = "Photos"):
    return DatasetItem.objects.filter(dataset__name=dataset_name).select_related("licence")


# ---------------------------------------------------------------------------------------------
# Importing


def test_csv_import_creates_dataset_and_items(acme, folder):
    out = run(folder, folder.parent / "manifest.csv", "--create", "--description", "stock shots")
    assert out.strip() == f"Photos: added {COUNT}, skipped 0 (already present)"

    dataset = Dataset.objects.get(org=acme, name="Photos")
    assert dataset.description == "stock shots"
    by_sha = {item.sha256: item for item in items()}
    assert len(by_sha) == COUNT
    for i, row in enumerate(manifest_rows()):
        data = (folder / row["file"]).read_bytes()
        item = by_sha[hashlib.sha256(data).hexdigest()]
        assert HEX64.match(item.sha256)
        for value in (item.phash, item.dhash, item.whash):
            assert HEX16.match(value), value
        assert (item.width, item.height) == (48, 48)
        assert item.licence.key == row["licence"]
        assert (item.source_url, item.creator, item.caption, item.consent) == (
            row["source_url"],
            row["creator"],
            row["caption"],
            row["consent"],
        )
        assert storages["datasets"].open(item.file_key).read() == data, i
    # The images differ, and so do their perceptual hashes.
    assert len({item.phash for item in by_sha.values()}) == COUNT

    events = AuditEvent.objects.for_org(acme).filter(subject_id=str(dataset.pk))
    assert [e.action for e in events.order_by("seq")] == [
        "dataset.created",
        "dataset.items_imported",
    ]
    imported = events.get(action="dataset.items_imported")
    assert imported.actor_label == "system"
    assert imported.data["count"] == COUNT and imported.data["manifest"] == "manifest.csv"
    assert sorted(imported.data["sha256"]) == sorted(by_sha)
    assert audit_verify(org=acme).ok


def test_rerun_is_idempotent(acme, folder):
    run(folder, folder.parent / "manifest.csv", "--create")
    before = row_counts()
    # The same items again, from the JSON manifest this time: nothing is added or audited.
    out = run(folder, folder.parent / "manifest.json")
    assert out.strip() == f"Photos: added 0, skipped {COUNT} (already present)"
    assert row_counts() == before
    # --create on an existing dataset just uses it.
    out = run(folder, folder.parent / "manifest.csv", "--create")
    assert out.strip() == f"Photos: added 0, skipped {COUNT} (already present)"
    assert row_counts() == before


def test_partial_rerun_adds_only_the_new_items(acme, folder, tmp_path):
    first = write_csv(tmp_path / "first.csv", manifest_rows()[:5])
    assert "added 5, skipped 0" in run(folder, first, "--create")
    assert f"added {COUNT - 5}, skipped 5" in run(folder, folder.parent / "manifest.json")
    assert items().count() == COUNT
    assert audit_verify(org=acme).ok


def test_json_list_manifest_into_existing_dataset(acme, personas, folder, tmp_path):
    dataset_create(org=acme, actor=None, name="Existing")
    manifest = write_json(tmp_path / "plain.json", manifest_rows())
    admin = personas["admin"].user
    out = run(folder, manifest, "--actor", admin.username, dataset="Existing")
    assert f"added {COUNT}, skipped 0" in out
    assert items("Existing").count() == COUNT
    event = AuditEvent.objects.for_org(acme).get(action="dataset.items_imported")
    assert (event.actor_id, event.actor_label) == (admin.pk, admin.username)


def test_same_content_twice_in_one_manifest_is_added_once(acme, folder, tmp_path):
    rows = manifest_rows()[:2]
    (folder / "copy.png").write_bytes((folder / rows[1]["file"]).read_bytes())
    rows.append({**rows[1], "file": "copy.png"})
    out = run(folder, write_csv(tmp_path / "dupes.csv", rows), "--create")
    assert "added 2, skipped 1" in out


def test_progress_lines_when_stderr_is_not_a_terminal(acme, folder, capsys):
    run(folder, folder.parent / "manifest.csv", "--create")
    lines = capsys.readouterr().err.splitlines()
    assert lines[0].startswith(f"import: 0/{COUNT} images")
    assert lines[-1].startswith(f"import: {COUNT}/{COUNT} images (100 %)")


# ---------------------------------------------------------------------------------------------
# Refusals: nothing written


def test_unknown_licence_is_refused_and_nothing_written(acme, folder, tmp_path):
    rows = manifest_rows()
    rows[4]["licence"] = "Proprietary-Mystery"
    manifest = write_csv(tmp_path / "bad.csv", rows)
    # With --create: not even the dataset is left behind.
    message = refused(folder, manifest, "--create")
    # CSV data rows start at line 2, so the fifth item is row 6.
    assert "row 6 (img04.png): unknown licence 'Proprietary-Mystery'" in message
    assert "nothing imported" in message
    assert "CC0-1.0" in message  # the licences the org does know are listed
    assert not Dataset.objects.filter(name="Photos").exists()
    # Into an existing dataset, from JSON (rows numbered from 1).
    dataset_create(org=acme, actor=None, name="Photos")
    message = refused(folder, write_json(tmp_path / "bad.json", rows))
    assert "row 5 (img04.png): unknown licence 'Proprietary-Mystery'" in message


def test_licence_of_another_org_is_unknown(acme, globex, folder, tmp_path):
    from licensing.services import licence_create

    licence_create(
        org=globex,
        actor=None,
        key="globex-only",
        name="Globex",
        custom_text="Globex's terms",
        allows_training=True,
        allows_commercial=True,
        requires_attribution=False,
    )
    rows = manifest_rows(2)
    rows[1]["licence"] = "globex-only"
    message = refused(folder, write_csv(tmp_path / "other.csv", rows), "--create")
    assert "unknown licence 'globex-only'" in message


def test_missing_file_is_refused(acme, folder, tmp_path):
    rows = [*manifest_rows(3), {"file": "missing.png", "licence": "CC0-1.0"}]
    message = refused(folder, write_json(tmp_path / "missing.json", rows), "--create")
    assert "row 4: file 'missing.png' not found" in message


def test_non_image_is_refused(acme, folder, tmp_path):
    (folder / "notes.png").write_text("this is not a picture")
    rows = manifest_rows(6)
    rows.insert(3, {"file": "notes.png", "licence": "CC0-1.0"})
    manifest = write_csv(tmp_path / "notes.csv", rows)
    # Every image of a batch is hashed before any is stored: no row and no file is written.
    message = refused(folder, manifest, "--create")
    assert "row 5 (notes.png): not a readable image" in message
    # Into an existing dataset: the batch holding it is rolled back as well.
    dataset_create(org=acme, actor=None, name="Photos")
    before = row_counts()
    with pytest.raises(CommandError, match=r"row 5 \(notes.png\): not a readable image"):
        run(folder, manifest)
    assert row_counts() == before


@pytest.mark.parametrize("name", ["../outside.png", "sub/../../outside.png", "ABSOLUTE"])
def test_path_outside_the_folder_is_refused(acme, folder, tmp_path, name):
    outside = tmp_path / "outside.png"
    outside.write_bytes(png_bytes(99))
    name = str(outside) if name == "ABSOLUTE" else name
    rows = [*manifest_rows(2), {"file": name, "licence": "CC0-1.0"}]
    message = refused(folder, write_csv(tmp_path / "escape.csv", rows), "--create")
    assert f"row 4: {name!r} points outside the image folder" in message


def test_symlink_out_of_the_folder_is_refused(acme, folder, tmp_path):
    secret = tmp_path / "secret.png"
    secret.write_bytes(png_bytes(77))
    (folder / "link.png").symlink_to(secret)
    rows = [{"file": "link.png", "licence": "CC0-1.0"}]
    message = refused(folder, write_csv(tmp_path / "link.csv", rows), "--create")
    assert "points outside the image folder" in message


def test_bad_manifests_are_refused(acme, folder, tmp_path):
    rows = manifest_rows(3)
    del rows[1]["licence"]
    rows[2]["consent"] = "maybe"
    message = refused(folder, write_json(tmp_path / "holes.json", rows), "--create")
    assert "row 2: missing licence" in message and "row 3: consent 'maybe'" in message
    (tmp_path / "manifest.txt").write_text("file,licence\n")
    assert ".csv or .json" in refused(folder, tmp_path / "manifest.txt", "--create")
    (tmp_path / "broken.json").write_text("{not json")
    assert "cannot be read" in refused(folder, tmp_path / "broken.json", "--create")
    (tmp_path / "empty.csv").write_text("file,licence\n")
    assert "lists no items" in refused(folder, tmp_path / "empty.csv", "--create")


def test_bad_arguments_are_refused(acme, personas, folder):
    manifest = folder.parent / "manifest.csv"
    assert "pass --create" in refused(folder, manifest)
    assert "'nope'" in refused(folder, manifest, "--create", org="nope")
    assert "not a folder" in refused(folder / "nowhere", manifest, "--create")
    assert "not found" in refused(folder, folder / "nowhere.csv", "--create")
    outsider = personas["outsider"].user.username
    assert "not a member of acme" in refused(folder, manifest, "--create", "--actor", outsider)
    staff = personas["staff"].user.username
    assert "needs admin" in refused(folder, manifest, "--create", "--actor", staff)
