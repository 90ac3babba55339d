"""Fit the policy's confidence thresholds to review outcomes and, on request, adopt them.

    manage.py calibrate --target-error 0.02 --out var/calibration [--adopt [--activate]]
        [--claim-confidence]

Back-tests the reviewed claims (``learning.backtest``), writes ``curve.csv``, ``curve.png``
and ``summary.json`` to ``--out``, prints the curve, and with ``--adopt`` saves the chosen
thresholds as a new, inactive policy version (``--activate`` makes it the active one).
``--claim-confidence`` also fits the claim-confidence map for the active model on the train
side of the reviews, prints its reliability on the eval side, writes ``claim_confidence.json``
and, with ``--adopt``, stores the fitted map in the new version.
"""

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from learning import backtest, calibration

ERR_ACTIVATE_NEEDS_ADOPT = "--activate only applies with --adopt."
ERR_UNKNOWN_USER = "No user {username!r}."
ERR_BAD_SINCE = "--since takes an ISO date-time, e.g. 2026-01-01T00:00:00Z."


class Command(BaseCommand):
    help = "Propose policy thresholds from reviewed claims for a target auto-decision error rate."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--target-error",
            type=float,
            default=backtest.DEFAULT_TARGET_ERROR,
            help="highest acceptable share of auto-decided claims an adjuster would change",
        )
        parser.add_argument(
            "--confidence",
            type=float,
            default=backtest.DEFAULT_CONFIDENCE,
            help="one-sided confidence of the upper bound on the error rate",
        )
        parser.add_argument(
            "--min-claims",
            type=int,
            default=backtest.DEFAULT_MIN_CLAIMS,
            help="refuse below this many reviewed claims",
        )
        parser.add_argument("--out", default=str(settings.VAR_DIR / "calibration"))
        parser.add_argument("--since", help="only reviews decided at or after this date-time")
        parser.add_argument(
            "--adopt", action="store_true", help="save the result as a new policy version"
        )
        parser.add_argument(
            "--activate", action="store_true", help="with --adopt: make the new version active"
        )
        parser.add_argument("--user", help="staff user recorded as the new version's author")
        parser.add_argument(
            "--claim-confidence",
            action="store_true",
            help=(
                "also fit the claim confidence (P(adjuster keeps the line items)) for the active "
                "model; with --adopt the new version carries the fitted map"
            ),
        )

    def handle(self, *args, **options) -> None:
        if options["activate"] and not options["adopt"]:
            raise CommandError(ERR_ACTIVATE_NEEDS_ADOPT)
        created_by = None
        if options["user"]:
            created_by = get_user_model().objects.filter(username=options["user"]).first()
            if created_by is None:
                raise CommandError(ERR_UNKNOWN_USER.format(username=options["user"]))
        since = None
        if options["since"]:
            since = parse_datetime(options["since"])
            if since is None:
                raise CommandError(ERR_BAD_SINCE)
            if timezone.is_naive(since):
                since = timezone.make_aware(since)

        try:
            run = calibration.calibration_run(
                target_error=options["target_error"],
                min_claims=options["min_claims"],
                confidence=options["confidence"],
                since=since,
            )
        except backtest.CalibrationError as exc:
            raise CommandError(str(exc)) from exc
        paths = calibration.calibration_write(run=run, out_dir=options["out"])

        cal = run.calibration
        skipped = ", ".join(f"{n} {why.replace('_', ' ')}" for why, n in run.data.skipped.items())
        self.stdout.write(
            f"{cal.n_claims} reviewed claims ({cal.n_changed} changed by the adjuster, "
            f"{cal.n_never_auto} routed to a person by other rules whatever the thresholds"
            + (f"; skipped: {skipped}" if skipped else "")
            + f"), base policy v{run.base_policy.version}."
        )
        self.stdout.write(calibration.calibration_table(run))
        self.stdout.write("")
        self.stdout.write(calibration.calibration_audit_line(run))
        self.stdout.write("")
        claim_confidence = None
        if options["claim_confidence"]:
            claim_confidence = calibration.claim_confidence_run(
                min_reviews=options["min_claims"], since=since
            )
            self.stdout.write(calibration.claim_confidence_table(claim_confidence))
            self.stdout.write("")
            paths["claim_confidence"] = calibration.claim_confidence_write(
                run=claim_confidence, out_dir=options["out"]
            )
        for path in paths.values():
            self.stdout.write(f"wrote {path}")
        try:
            backtest.require_chosen(cal)
        except backtest.CalibrationError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"proposal: {cal.summary()}"))

        if options["adopt"]:
            created = calibration.calibration_adopt(
                run=run,
                created_by=created_by,
                activate=options["activate"],
                claim_confidence=claim_confidence,
            )
            state = "active" if created.is_active else "inactive: activate it in the admin"
            self.stdout.write(self.style.SUCCESS(f"saved policy v{created.version} ({state})"))
