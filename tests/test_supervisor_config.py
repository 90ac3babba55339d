"""The embedded default's process layout (config/supervisord.conf), read as supervisord reads it."""

import configparser
import re
import shlex
from pathlib import Path

from django.conf import settings

REPO = Path(__file__).resolve().parents[1]
CLAIM_QUEUES = {"claims", "assessment"}
BACKGROUND_QUEUES = {"training", "exports", "shadow", "labelling"}


def _programs() -> dict[str, list[str]]:
    parser = configparser.RawConfigParser()
    parser.read(REPO / "config" / "supervisord.conf")
    return {
        section.removeprefix("program:"): shlex.split(parser.get(section, "command"))
        for section in parser.sections()
        if section.startswith("program:")
    }


def _queues(argv: list[str]) -> set[str]:
    return set(argv[argv.index("-Q") + 1].split(",")) if "-Q" in argv else set()


def test_no_worker_serves_claims_and_background_work_together():
    workers = {name: _queues(argv) for name, argv in _programs().items() if "worker" in argv}

    assert workers, "no Celery worker program"
    for name, queues in workers.items():
        assert not (queues & CLAIM_QUEUES and queues & BACKGROUND_QUEUES), (
            f"{name} serves {sorted(queues)}: a retraining run would hold claims back"
        )


def test_every_routed_queue_has_a_worker():
    served = set().union(*(_queues(argv) for argv in _programs().values()))
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}

    assert routed | {settings.CELERY_TASK_DEFAULT_QUEUE} <= served


def test_beat_runs_alone_and_web_listens_on_the_configured_host_only():
    programs = _programs()

    assert "beat" in programs["beat"]
    assert not any("-B" in argv for argv in programs.values()), "beat inside a worker dies with it"
    assert "%(ENV_HOST)s:%(ENV_PORT)s" in programs["web"]
    makefile = (REPO / "Makefile").read_text()
    assert re.search(r"^HOST \?= 127\.0\.0\.1$", makefile, re.MULTILINE), "loopback by default"
