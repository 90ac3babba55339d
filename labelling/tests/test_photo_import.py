"""Photo import: one photo, a zip archive (bombs and traversal refused), a folder."""

import io
import os
import zipfile

import pytest

from claims.tests.factories import gps_exif, jpeg_bytes, pdf_bytes, png_bytes, two_tone_jpeg
from config.errors import PayloadTooLargeError, UnprocessableError, UnsupportedMediaTypeError
from labelling import photo_import
from labelling.models import ProjectItem
from labelling.tests.factories import item_make


def _zip(members: dict[str, bytes], *, compression=zipfile.ZIP_DEFLATED) -> io.BytesIO:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=compression) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    out.seek(0)
    return out


def test_item_ingest_stores_original_and_a_metadata_free_working_copy(
    project, prelabel_sent, django_capture_on_commit_callbacks
):
    from PIL import Image

    data = two_tone_jpeg(exif=gps_exif(orientation=1))

    with django_capture_on_commit_callbacks(execute=True):
        result = photo_import.item_ingest(project=project, fileobj=io.BytesIO(data), name="a/b.jpg")

    item = ProjectItem.objects.get(pk=result.item.pk)
    assert result.duplicate is False
    assert item.original_name == "b.jpg"
    assert item.status == ProjectItem.Status.PRELABELLING
    assert item.original.name.startswith(f"labelling/{project.pk}/")
    with item.original.open("rb") as handle:
        assert handle.read() == data
    with item.working.open("rb") as handle, Image.open(handle) as working:
        assert working.size == (item.working_width, item.working_height)
        assert not working.getexif()  # no GPS, no EXIF at all
    assert item.mask_width == 384  # the long side of the label grid
    assert prelabel_sent == [str(item.pk)]


def test_item_ingest_duplicate_is_reported_not_stored(
    project, prelabel_sent, django_capture_on_commit_callbacks
):
    data = jpeg_bytes(seed=3)
    with django_capture_on_commit_callbacks(execute=True):
        first = photo_import.item_ingest(project=project, fileobj=io.BytesIO(data), name="x.jpg")
        again = photo_import.item_ingest(project=project, fileobj=io.BytesIO(data), name="y.jpg")

    assert again.duplicate is True and again.item.pk == first.item.pk
    assert ProjectItem.objects.filter(project=project).count() == 1
    assert len(prelabel_sent) == 1


def test_item_ingest_same_photo_in_two_projects_is_two_items(project, data_team_member):
    from labelling.tests.factories import ProjectFactory

    other = ProjectFactory(created_by=data_team_member)
    data = jpeg_bytes(seed=4)

    a = photo_import.item_ingest(project=project, fileobj=io.BytesIO(data), name="x.jpg")
    b = photo_import.item_ingest(project=other, fileobj=io.BytesIO(data), name="x.jpg")

    assert not a.duplicate and not b.duplicate and a.item.pk != b.item.pk


def test_item_ingest_refuses_a_disguised_file(project):
    with pytest.raises(UnsupportedMediaTypeError) as exc:
        photo_import.item_ingest(project=project, fileobj=io.BytesIO(pdf_bytes()), name="a.jpg")

    assert exc.value.code == "unsupported_image_type"
    assert not ProjectItem.objects.exists()


def test_item_ingest_refuses_a_truncated_photo(project):
    data = jpeg_bytes(400, 300)

    with pytest.raises(UnprocessableError) as exc:
        photo_import.item_ingest(
            project=project, fileobj=io.BytesIO(data[: len(data) // 2]), name="cut.jpg"
        )

    assert exc.value.code == "image_corrupt"
    assert not ProjectItem.objects.exists()


def test_items_import_zip_reports_imported_duplicates_and_refused(project):
    same = jpeg_bytes(seed=11)
    archive = _zip(
        {
            "batch/one.jpg": same,
            "batch/two.png": png_bytes(seed=12),
            "batch/copy-of-one.jpg": same,
            "batch/notes.pdf": pdf_bytes(),
            "__MACOSX/batch/._one.jpg": b"junk",
            "../escape.jpg": jpeg_bytes(seed=13),
            "/etc/abs.jpg": jpeg_bytes(seed=14),
        }
    )

    summary = photo_import.items_import_zip(project=project, fileobj=archive).to_dict()

    assert [r["name"] for r in summary["imported"]] == ["batch/one.jpg", "batch/two.png"]
    assert [r["name"] for r in summary["duplicates"]] == ["batch/copy-of-one.jpg"]
    refused = {r["name"]: r["code"] for r in summary["refused"]}
    assert refused == {
        "batch/notes.pdf": "unsupported_image_type",
        "../escape.jpg": "unsafe_path",
        "/etc/abs.jpg": "unsafe_path",
    }
    assert summary["counts"] == {"imported": 2, "duplicates": 1, "refused": 3}
    assert ProjectItem.objects.filter(project=project).count() == 2


def test_items_import_zip_refuses_a_compression_bomb_member(project):
    # 20 MB of zeros deflate to ~20 KB: a ratio of ~1000, far past any photo's
    archive = _zip({"bomb.jpg": b"\xff\xd8\xff" + bytes(20 * 1024 * 1024), "ok.jpg": jpeg_bytes()})

    summary = photo_import.items_import_zip(project=project, fileobj=archive)

    assert [(r["name"], r["code"]) for r in summary.refused] == [("bomb.jpg", "zip_bomb")]
    assert [r["name"] for r in summary.imported] == ["ok.jpg"]


def test_items_import_zip_refuses_a_member_larger_than_the_photo_cap(project, settings):
    settings.CLAIMVISION_MAX_UPLOAD_BYTES = 1000
    archive = _zip({"big.jpg": os.urandom(5000)}, compression=zipfile.ZIP_STORED)

    summary = photo_import.items_import_zip(project=project, fileobj=archive)

    assert [r["code"] for r in summary.refused] == ["file_too_large"]


def test_items_import_zip_with_too_many_members_is_refused_whole(project, monkeypatch):
    monkeypatch.setattr(photo_import, "MAX_ZIP_MEMBERS", 2)
    archive = _zip({f"{i}.jpg": jpeg_bytes(seed=20 + i) for i in range(3)})

    with pytest.raises(PayloadTooLargeError) as exc:
        photo_import.items_import_zip(project=project, fileobj=archive)

    assert exc.value.code == "zip_too_many_members"
    assert not ProjectItem.objects.exists()


def test_items_import_zip_declaring_too_much_is_refused_whole(project, monkeypatch):
    monkeypatch.setattr(photo_import, "MAX_ZIP_UNCOMPRESSED_BYTES", 1000)
    archive = _zip({"a.jpg": jpeg_bytes(200, 200, seed=31)})

    with pytest.raises(PayloadTooLargeError) as exc:
        photo_import.items_import_zip(project=project, fileobj=archive)

    assert exc.value.code == "zip_too_large"


def test_items_import_zip_refuses_a_file_that_is_not_a_zip(project):
    with pytest.raises(UnsupportedMediaTypeError) as exc:
        photo_import.items_import_zip(project=project, fileobj=io.BytesIO(jpeg_bytes()))

    assert exc.value.code == "not_a_zip"


def test_items_import_folder_walks_sorted_and_refuses_symlinks(project, tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "b.jpg").write_bytes(jpeg_bytes(seed=41))
    (folder / "sub" / "a.png").write_bytes(png_bytes(seed=42))
    (folder / ".hidden.jpg").write_bytes(jpeg_bytes(seed=43))
    outside = tmp_path / "secret.jpg"
    outside.write_bytes(jpeg_bytes(seed=44))
    (folder / "link.jpg").symlink_to(outside)

    summary = photo_import.items_import_folder(project=project, folder=folder)

    assert [r["name"] for r in summary.imported] == ["b.jpg", "sub/a.png"]
    assert [(r["name"], r["code"]) for r in summary.refused] == [("link.jpg", "symlink")]


def test_item_make_helper_round_trips(project):
    item = item_make(project, name="z.jpg")

    assert item.original_name == "z.jpg"
