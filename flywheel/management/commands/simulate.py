"""Run the flywheel simulation (flywheel.simulation) on this installation's database, broker and
workers, which must be a database of its own.

    DATABASE_URL=sqlite:///var/simulate/db.sqlite3 CLAIMVISION_VAR_DIR=var/simulate \\
        manage.py migrate && manage.py simulate --state var/simulate/state

Prints a line per round, then the table and the one JSON line; ``--plot`` writes the PNG. Run
it again with the same ``--state`` to resume (or with more ``--rounds`` to go on).
"""

from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from flywheel import report
from flywheel.simulation import Simulation, SimulationConfig, SimulationError
from ml import sources


class Command(BaseCommand):
    help = "Send rounds of real labelled claims through the product with a simulated adjuster."

    def add_arguments(self, parser) -> None:
        d = SimulationConfig()
        parser.add_argument("--state", default=str(settings.VAR_DIR / "simulate"))
        parser.add_argument("--rounds", type=int, default=d.rounds)
        parser.add_argument("--claims", type=int, default=d.claims, help="claims per round")
        parser.add_argument("--min-photos", type=int, default=d.min_photos)
        parser.add_argument("--max-photos", type=int, default=d.max_photos)
        parser.add_argument("--intact-rate", type=float, default=d.intact_rate)
        parser.add_argument("--eval-photos", type=int, default=d.eval_photos)
        parser.add_argument("--steps", type=int, default=d.steps, help="fine-tuning steps")
        parser.add_argument("--seed", type=int, default=d.seed)
        parser.add_argument("--target-error", type=float, default=d.target_error)
        parser.add_argument("--calibrate-min-claims", type=int, default=d.calibrate_min_claims)
        parser.add_argument(
            "--base-model",
            help="cold-start model folder (default: train one into --state, about 12 minutes)",
        )
        parser.add_argument(
            "--workers",
            type=int,
            default=2,
            help="claim worker processes to start (0: use the workers already running)",
        )
        parser.add_argument("--plot", help="write the plot (PNG) here")
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **o) -> None:
        for name in (sources.BILGI, sources.WIKI):
            if not sources.available(name):
                raise CommandError(f"the simulation needs {sources.DATASETS_ROOT / name}")
        if o["max_photos"] < o["min_photos"] or o["min_photos"] < 1:
            raise CommandError("need 1 <= --min-photos <= --max-photos")
        config = SimulationConfig(
            rounds=o["rounds"],
            claims=o["claims"],
            min_photos=o["min_photos"],
            max_photos=o["max_photos"],
            intact_rate=o["intact_rate"],
            eval_photos=o["eval_photos"],
            steps=o["steps"],
            seed=o["seed"],
            target_error=o["target_error"],
            calibrate_min_claims=o["calibrate_min_claims"],
        )
        simulation = Simulation(
            config,
            Path(o["state"]),
            base_model=Path(o["base_model"]) if o["base_model"] else None,
            workers=o["workers"],
            progress=not o["no_progress"],
            write=self.stdout.write,
        )
        try:
            rounds = simulation.run()
        except SimulationError as exc:
            raise CommandError(str(exc)) from None
        start = simulation.start_figures()
        self.stdout.write(report.table(start, rounds))
        if o["plot"]:
            report.plot(start, rounds, Path(o["plot"]), "flywheel simulation")
            self.stdout.write(f"plot: {o['plot']}")
        self.stdout.write(report.summary_json(rounds))
