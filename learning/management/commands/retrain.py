"""``manage.py retrain [--force] [--steps N] [--queue]``: fine-tune the active model now.

Runs in this process by default (progress in the log and in the admin's retraining runs);
``--queue`` sends the run, with the same options, to the training workers instead. Ctrl+C ends
the run as failed ("interrupted"); a run can be cancelled in the admin.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from learning import runs
from learning.models import RetrainingRun


class Command(BaseCommand):
    help = "Retrain the active model on reviewed labels, evaluate it and maybe promote it."

    def add_arguments(self, parser):
        parser.add_argument(
            "--force",
            action="store_true",
            help="train even without reviewed training samples (base data only)",
        )
        parser.add_argument("--steps", type=int, help="optimiser steps (default: settings)")
        parser.add_argument("--no-base", action="store_true", help="reviewed samples only")
        parser.add_argument(
            "--queue", action="store_true", help="send to the training queue instead"
        )

    def handle(self, *args, force=False, steps=None, no_base=False, queue=False, **options):
        trigger = RetrainingRun.Trigger.MANUAL
        options = {"force": force}
        if steps is not None:
            options["steps"] = steps
        if no_base:
            options["use_base"] = False
        if queue:  # the same options travel with the task
            with transaction.atomic():
                run = runs.retrain_enqueue(trigger=trigger, options=options)
            self.stdout.write(f"retraining run {run.pk} queued on 'training'")
            return
        config, force = runs.retrain_run_options(options)
        run = runs.retrain(trigger=trigger, config=config, force=force)
        run.refresh_from_db()
        if run.status != RetrainingRun.Status.SUCCEEDED:
            raise CommandError(f"retraining run {run.pk} failed: {run.message}")
        self.stdout.write(self.style.SUCCESS(f"run {run.pk}: {run.message}"))
