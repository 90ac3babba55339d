"""Processes killed under the product's own supervisor, repeated: the embedded default's
config/supervisord.conf runs worker and beat (against the configured broker and the test
database), the test kills one with SIGKILL at the worst moment and checks that every claim is
still decided, with exactly one of everything, and that the supervisor said what happened.

``CLAIMVISION_FAULT_REPS`` (default 20) sets the repetitions of the cheap faults (a pool child
killed); a killed main process costs a cold start and a sweep, so it runs half as many.
"""

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from assessment.models import PhotoAssessment, PhotoAssessmentAttempt
from claims.models import Claim
from tests.integration.conftest import REPO, wait_for
from tests.integration.test_assessment_worker import (
    DECIDED,
    _assert_exactly_one_of_everything,
    _client,
    _submitted_claim,
    active_model,  # noqa: F401 - fixture
)

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

REPS = int(os.environ.get("CLAIMVISION_FAULT_REPS", "20"))
STUCK_AFTER_S = 4  # the sweeper re-sends a claim that has not moved for this long
DECISION_TIMEOUT_S = 90


class Stack:
    """supervisord with the product's config; no web server, no broker of its own."""

    def __init__(self, env: dict) -> None:
        # A short folder: supervisord's control socket is a unix socket (108-byte paths).
        self.var = Path(tempfile.mkdtemp(prefix="cv-"))
        self.log_path = self.var / "stack.log"
        self.env = {
            **env,
            "CLAIMVISION_ROOT": str(REPO),
            "CLAIMVISION_PY": sys.executable,
            "CLAIMVISION_VAR_DIR": str(self.var),
            "CLAIMVISION_EMBEDDED_BROKER": "false",
            "CLAIMVISION_RUN_WEB": "false",
            "CLAIMVISION_RUN_BACKGROUND": "false",
            "HOST": "127.0.0.1",
            "PORT": "0",
            "CLAIMVISION_WORKERS": "1",
            "CLAIMVISION_SWEEP_INTERVAL_S": "1",
            "CLAIMVISION_STUCK_AFTER_SECONDS": str(STUCK_AFTER_S),
        }
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Stack":
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "supervisord"),
                "-c",
                str(REPO / "config" / "supervisord.conf"),
            ],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for(lambda: self.pid("worker") and self.pid("beat"), timeout=60, what="the stack")
        wait_for(lambda: self.output().count("ready.") >= 1, timeout=60, what="worker ready")
        return self

    def pid(self, program: str) -> int:
        result = subprocess.run(
            [
                str(Path(sys.executable).parent / "supervisorctl"),
                "-s",
                f"unix://{self.var / 'supervisor.sock'}",
                "pid",
                program,
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        return int(result.stdout.strip()) if result.stdout.strip().isdigit() else 0

    def pool_children(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.pid("worker"))], capture_output=True, text=True, check=False
        ).stdout
        return [int(pid) for pid in out.split()]

    def output(self) -> str:
        return self.log_path.read_text(errors="replace")

    def supervisor_log(self) -> str:
        path = self.var / "supervisord.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> float:
        """SIGTERM, as Ctrl+C or an init system sends; returns how long the stack took to go."""
        started = time.monotonic()
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
                raise
        self.log.close()
        return time.monotonic() - started


@pytest.fixture
def stack(worker_env, active_model):
    from config.celery_app import app

    app.control.purge()
    stacks: list[Stack] = []

    def start(**extra_env) -> Stack:
        stacks.append(Stack({**worker_env, **extra_env}).start())
        return stacks[-1]

    yield start
    for running in stacks:
        if running.proc and running.proc.poll() is None:
            running.stop()


def _decided(claim_id: str, stack: Stack) -> None:
    def done() -> bool:
        return Claim.objects.get(pk=claim_id).status in DECIDED

    try:
        wait_for(done, timeout=DECISION_TIMEOUT_S, what=f"claim {claim_id} decided")
    except AssertionError as exc:
        raise AssertionError(f"{exc}\n--- stack ---\n{stack.output()[-5000:]}") from None


def _received_count(stack: Stack) -> int:
    return len(re.findall(r"Task assessment\.assess_photo\[[^\]]+\] received", stack.output()))


def test_pool_child_killed_after_receiving_or_mid_inference_every_claim_is_decided(stack):
    # given the product's worker, slow inside the task (a window to kill it in)
    running = stack(CLAIMVISION_ASSESS_DELAY_S="1.5")
    worker_pid = running.pid("worker")
    for rep in range(REPS):
        client = _client(f"erin{rep}")  # one customer each: per-customer quotas stay out of it
        # when its pool child is killed right after it received a photo (even reps) or
        # in the middle of the inference (odd reps)
        received = _received_count(running)
        claim_id = _submitted_claim(client, 1)
        if rep % 2 == 0:
            wait_for(lambda r=received: _received_count(running) > r, timeout=60, what="received")
        else:
            wait_for(
                lambda c=claim_id: PhotoAssessmentAttempt.objects.filter(
                    photo__claim_id=c
                ).exists(),
                timeout=60,
                what="inference started",
            )
        children = running.pool_children()
        assert children, f"rep {rep}: no pool process to kill"
        for pid in children:
            os.kill(pid, signal.SIGKILL)

        # then the task is delivered again and the claim decided, once
        _decided(claim_id, running)
        _assert_exactly_one_of_everything(claim_id, 1)

    # the worker never wedged: the same main process did all of it, and it still stops promptly
    assert running.pid("worker") == worker_pid
    assert running.output().count("WorkerLostError") >= REPS // 2
    assert running.stop() < 30


def test_worker_main_process_killed_mid_inference_is_restarted_and_claims_are_decided(stack):
    # given the product's worker, slow inside the task
    running = stack(CLAIMVISION_ASSESS_DELAY_S="2")
    reps = max(1, REPS // 2)
    for rep in range(reps):
        client = _client(f"erin{rep}")
        pid = running.pid("worker")
        claim_id = _submitted_claim(client, 1)
        wait_for(
            lambda c=claim_id: PhotoAssessmentAttempt.objects.filter(photo__claim_id=c).exists(),
            timeout=60,
            what="inference started",
        )
        # when the worker's main process and its pool are killed outright (OOM killer, kill -9)
        # (supervisord starts each program in a process group of its own)
        assert os.getpgid(pid) == pid
        os.killpg(pid, signal.SIGKILL)

        # then the supervisor starts a new worker, the sweeper re-sends the claim whose task
        # died unacknowledged, and it is decided once
        wait_for(lambda p=pid: running.pid("worker") not in (0, p), timeout=30, what="restart")
        _decided(claim_id, running)
        _assert_exactly_one_of_everything(claim_id, 1)
        assert PhotoAssessment.objects.filter(photo__claim_id=claim_id).count() == 1, rep

    log = running.supervisor_log()
    assert log.count("exited: worker (terminated by SIGKILL; not expected)") == reps
    assert running.stop() < 30


def test_beat_killed_is_restarted_and_periodic_sweeps_go_on(stack, monkeypatch):
    running = stack()
    beat = running.pid("beat")

    # when beat dies outright
    os.kill(beat, signal.SIGKILL)
    wait_for(lambda: running.pid("beat") not in (0, beat), timeout=30, what="beat restarted")
    assert "exited: beat (terminated by SIGKILL; not expected)" in running.supervisor_log()

    # then a claim whose message was lost is still found by the sweeper and decided
    from claims import tasks

    monkeypatch.setattr(tasks.claim_prepare_task, "delay", lambda claim_id: None)
    claim_id = _submitted_claim(_client(), 1)
    monkeypatch.undo()
    _decided(claim_id, running)
    _assert_exactly_one_of_everything(claim_id, 1)
    assert "re-enqueued 1 stuck claims" in running.output()
