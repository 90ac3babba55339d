"""Register a model folder as a model version and, on request, make it the active model.

    manage.py model_install --bundled --activate       # the model shipped in ml/models/
    manage.py model_install PATH [--activate] [--user NAME] [--reason TEXT]

The upgrade step for an installation still on the old bundled starter model (docs/operations.md).
Idempotent: a second run registers nothing, activates nothing and writes no audit record. The
activation goes to the audit trail (kind ``model_activated``) with the user and the reason.
"""

from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from assessment import model_versions
from config.errors import ApplicationError

ERR_PATH_OR_BUNDLED = "Give a model folder or --bundled, not both and not neither."
ERR_UNKNOWN_USER = "No user {username!r}."
REASON_DEFAULT = "installed with manage.py model_install"


class Command(BaseCommand):
    help = "Register a model folder (model.json + artifacts) and optionally make it active."

    def add_arguments(self, parser) -> None:
        parser.add_argument("path", nargs="?", help="model folder holding model.json")
        parser.add_argument(
            "--bundled",
            action="store_true",
            help="the model bundled with this release (ml.inference.DEFAULT_MODEL_DIR)",
        )
        parser.add_argument(
            "--activate", action="store_true", help="make it the active model (audited)"
        )
        parser.add_argument("--user", help="staff user recorded in the audit trail")
        parser.add_argument("--reason", default=REASON_DEFAULT, help="recorded in the audit trail")

    def handle(self, *args, **options) -> None:
        if bool(options["path"]) == bool(options["bundled"]):
            raise CommandError(ERR_PATH_OR_BUNDLED)
        if options["bundled"]:
            from ml.inference import DEFAULT_MODEL_DIR

            model_dir = Path(DEFAULT_MODEL_DIR)
        else:
            model_dir = Path(options["path"])
        actor = None
        if options["user"]:
            actor = get_user_model().objects.filter(username=options["user"]).first()
            if actor is None:
                raise CommandError(ERR_UNKNOWN_USER.format(username=options["user"]))
        try:
            result = model_versions.model_version_install(
                model_dir=model_dir,
                activate=options["activate"],
                actor=actor,
                reason=options["reason"],
            )
        except ApplicationError as exc:
            raise CommandError(exc.message) from exc

        mv = result.model_version
        registered = "registered" if result.created else "already registered"
        self.stdout.write(f"{mv.version} ({mv.path}): {registered}.")
        if result.activated:
            was = f" (was {result.previous})" if result.previous else ""
            self.stdout.write(self.style.SUCCESS(f"{mv.version} is now the active model{was}."))
        elif mv.status == mv.Status.ACTIVE:
            self.stdout.write(f"{mv.version} was already the active model; nothing changed.")
        else:
            active = result.previous or "none"
            self.stdout.write(
                f"{mv.version} is {mv.status}, not active (active: {active}); "
                "run again with --activate to use it."
            )
