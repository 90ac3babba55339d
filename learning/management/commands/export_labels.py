"""``manage.py export_labels --format coco --out labels.zip [filters]``: write an export here.

Same query and same bytes as the API's export jobs, written straight to ``--out`` in this
process (no job row, no queue): for data engineers on a machine with database access.
"""

from datetime import date
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from config.errors import ApplicationError
from learning import exports
from ml.label_export import FORMATS


class Command(BaseCommand):
    help = "Export reviewed labels (and optionally predictions) as a zip for data teams."

    def add_arguments(self, parser):
        parser.add_argument(
            "--format",
            dest="formats",
            action="append",
            choices=FORMATS,
            help="repeat for several formats (default: all)",
        )
        parser.add_argument("--out", required=True, help="zip file to write")
        parser.add_argument("--polygons", action="store_true", help="also write polygon COCO")
        parser.add_argument("--from", dest="date_from", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--to", dest="date_to", type=date.fromisoformat, help="YYYY-MM-DD")
        parser.add_argument("--model-version", help="only labels of this model version")
        parser.add_argument(
            "--damage-type", dest="damage_types", action="append", default=[], help="repeatable"
        )
        parser.add_argument(
            "--with-predictions",
            action="store_true",
            help="also photos nobody reviewed, labelled with the model's regions",
        )
        parser.add_argument("--split", choices=exports.SPLITS)
        parser.add_argument("--since-export", type=int, help="only changes since that export")
        parser.add_argument("--project", type=int, help="a labelling project's items instead")

    def handle(self, *args, **o):
        query = exports.ExportQuery(
            date_from=o["date_from"],
            date_to=o["date_to"],
            model_version=o["model_version"],
            damage_types=tuple(sorted(set(o["damage_types"]))),
            include_predictions=o["with_predictions"],
            split=o["split"],
            since_export=o["since_export"],
            project=o["project"],
        )
        out = Path(o["out"])
        try:
            exports.export_query_validate(query=query)
            with out.open("wb") as handle:
                counts = exports.export_write(
                    target=handle,
                    query=query,
                    formats=o["formats"] or FORMATS,
                    polygons=o["polygons"],
                )
        except ApplicationError as exc:
            out.unlink(missing_ok=True)
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"wrote {out}: {counts['images']} photos ({counts['reviewed_images']} reviewed), "
            f"{counts['label_regions']} regions, {counts['ledger_entries']} ledger entries"
        )
