"""``manage.py labelling_import --project N FOLDER [--labels FILE --format coco]``: import a
folder (or a zip file) on the server into a labelling project, and optionally existing labels.

For archives larger than the API's upload cap: every photo goes through the same checks, is
de-duplicated within the project and pre-labelled on the workers (the ``labelling`` queue), and
the summary (imported, duplicates, refused with reasons) is printed as JSON.
"""

import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from labelling import label_import, photo_import
from labelling.models import LabellingProject


class Command(BaseCommand):
    help = "Import a folder or zip of photos (and optionally COCO / Label Studio labels)."

    def add_arguments(self, parser):
        parser.add_argument("folder", help="a folder (read recursively) or a .zip file")
        parser.add_argument("--project", type=int, required=True, help="the project's id")
        parser.add_argument("--labels", help="a COCO or Label Studio JSON file to import after")
        parser.add_argument(
            "--format", choices=label_import.FORMATS, default="coco", help="of --labels"
        )

    def handle(self, *args, **o):
        project = LabellingProject.objects.filter(pk=o["project"]).first()
        if project is None:
            raise CommandError(f"No labelling project {o['project']}.")
        try:
            summary = photo_import.items_import_folder(project=project, folder=Path(o["folder"]))
            result = {"photos": summary.to_dict()}
            if o["labels"]:
                with Path(o["labels"]).open("rb") as handle:
                    labels = label_import.labels_import(
                        project=project, fileobj=handle, fmt=o["format"]
                    )
                result["labels"] = labels.to_dict()
        except (ApplicationError, OSError) as exc:
            raise CommandError(str(getattr(exc, "message", exc))) from exc
        self.stdout.write(json.dumps(result, indent=2))
        counts = result["photos"]["counts"]
        self.stderr.write(
            f"{counts['imported']} imported, {counts['duplicates']} duplicates, "
            f"{counts['refused']} refused"
        )
