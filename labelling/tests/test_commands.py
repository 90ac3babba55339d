"""``manage.py labelling_import``."""

import io
import json

import pytest
from django.core.management import CommandError, call_command

from claims.tests.factories import jpeg_bytes, pdf_bytes
from labelling.models import ItemLabels, ProjectItem


def test_labelling_import_command_imports_a_folder_and_its_labels(project, tmp_path):
    folder = tmp_path / "batch"
    folder.mkdir()
    (folder / "a.jpg").write_bytes(jpeg_bytes(seed=81))
    (folder / "b.jpg").write_bytes(jpeg_bytes(seed=81))  # the same photo again
    (folder / "c.jpg").write_bytes(pdf_bytes())
    labels = tmp_path / "coco.json"
    labels.write_text(
        json.dumps(
            {
                "images": [{"id": 1, "file_name": "a.jpg", "width": 10, "height": 10}],
                "categories": [{"id": 1, "name": "scratch"}],
                "annotations": [
                    {"id": 1, "image_id": 1, "category_id": 1, "segmentation": [[0, 0, 9, 0, 9, 9]]}
                ],
            }
        )
    )
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "labelling_import",
        str(folder),
        project=project.pk,
        labels=str(labels),
        stdout=out,
        stderr=err,
    )

    result = json.loads(out.getvalue())
    assert result["photos"]["counts"] == {"imported": 1, "duplicates": 1, "refused": 1}
    assert result["labels"]["counts"]["imported"] == 1
    assert "1 imported, 1 duplicates, 1 refused" in err.getvalue()
    item = ProjectItem.objects.get(project=project)
    assert ItemLabels.objects.get(item=item).regions[0]["label"] == "scratch"


def test_labelling_import_command_unknown_project(db, tmp_path):
    with pytest.raises(CommandError, match="No labelling project 999"):
        call_command("labelling_import", str(tmp_path), project=999)


def test_labelling_import_command_not_a_folder(project, tmp_path):
    with pytest.raises(CommandError, match="is not a folder"):
        call_command("labelling_import", str(tmp_path / "missing"), project=project.pk)
