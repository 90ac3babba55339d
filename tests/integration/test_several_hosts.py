"""Three "hosts" that share nothing but PostgreSQL, Redis and the S3 server: a web host
(gunicorn) and two worker hosts, each with its own empty var/ (secret-free), media folder, model
cache, home and working directory. A claim submitted on the web host is assessed by the workers;
a model version installed on worker host A is loaded by worker host B after activation, fetched
from object storage and verified against its digest.
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.db import connection

from assessment.models import ModelVersion, PhotoAssessment
from claims.models import Claim
from tests.integration.conftest import REPO, WORKER_READY_TIMEOUT_S, wait_for
from tests.integration.test_assessment_worker import DECIDED, _photo
from tests.s3server import free_port, s3_required

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

TASK_SUCCEEDED = re.compile(r"Task assessment\.assess_photo\[[^\]]+\] succeeded")
# Only what any host's process needs from the machine; nothing of this test process's settings.
PASSED_THROUGH = ("PATH", "LANG", "LC_ALL", "TZ")


class Host:
    """One machine's worth of environment: its own directories, the shared services' URLs."""

    def __init__(self, name: str, root: Path, shared_env: dict[str, str]) -> None:
        self.name, self.root = name, root
        self.var = root / "var"
        self.root.mkdir(parents=True)
        self.env = {k: os.environ[k] for k in PASSED_THROUGH if k in os.environ}
        self.env.update(shared_env)
        self.env.update(
            {
                "HOME": str(root),
                "PYTHONPATH": str(REPO),
                "PYTHONUNBUFFERED": "1",
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "CLAIMVISION_VAR_DIR": str(self.var),
            }
        )
        self.procs: list[subprocess.Popen] = []
        self.log_path = root / f"{name}.log"

    def spawn(self, *args: str) -> subprocess.Popen:
        log = open(self.log_path, "ab")  # noqa: SIM115 - the process owns it until it ends
        proc = subprocess.Popen(
            [sys.executable, *args],
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def run(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, *args],
            cwd=self.root,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_log(self, text: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.procs and self.procs[-1].poll() is not None:
                break
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no {text!r}:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _shared_services(s3_server) -> dict[str, str]:
    """The URLs of the shared services; skipped (failed in CI) without PostgreSQL and Redis."""
    from django.conf import settings

    from tests.integration.conftest import database_url_for

    missing = []
    if connection.vendor != "postgresql":
        missing.append("PostgreSQL (DATABASE_URL)")
    if not settings.REDIS_URL.startswith("redis://"):
        missing.append("Redis on TCP (REDIS_URL)")
    if missing:
        reason = "several hosts share only network services; missing " + ", ".join(missing)
        if s3_required():
            pytest.fail(f"{reason} (required: CLAIMVISION_REQUIRE_SERVICES=1)")
        pytest.skip(reason)
    import uuid

    bucket = f"claimvision-hosts-{uuid.uuid4().hex[:8]}"
    s3_server.create_bucket(bucket)
    return {
        "DATABASE_URL": database_url_for(connection.settings_dict),
        "REDIS_URL": settings.REDIS_URL,
        # One secret for every host, as a secret store hands it out.
        "DJANGO_SECRET_KEY": "several-hosts-test-" + uuid.uuid4().hex,
        **s3_server.env(bucket=bucket),
    }


@pytest.fixture
def hosts(s3_server, tmp_path):
    from config.celery_app import app

    shared = _shared_services(s3_server)
    app.control.purge()
    made = {name: Host(name, tmp_path / name, shared) for name in ("web", "worker-a", "worker-b")}
    yield made
    for host in made.values():
        host.stop()


def _start_worker(host: Host) -> None:
    host.spawn(
        "-m",
        "celery",
        "-A",
        "config",
        "worker",
        "-Q",
        "claims,assessment",
        "-c",
        "1",
        "--without-gossip",
        "--without-mingle",
        "-l",
        "INFO",
        "-n",
        f"{host.name}-{os.getpid()}@%h",
    )
    host.wait_log("ready.", WORKER_READY_TIMEOUT_S)


def _start_web(host: Host) -> str:
    port = free_port()
    host.spawn("-m", "gunicorn", "config.wsgi", "-b", f"127.0.0.1:{port}", "-w", "1")
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            requests.get(f"{base}/api/v1/claims/", timeout=2)  # any answer: it is up
            return base
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or its first request (the app loading in a busy machine's
            # worker) outlasted the poll's 2 s: ask again until the deadline.
            time.sleep(0.3)
    raise AssertionError(f"web host not up:\n{host.output()[-3000:]}")


def _customer(base: str, name: str) -> requests.Session:
    response = requests.post(
        f"{base}/api/v1/auth/register/",
        json={"username": name, "email": f"{name}@hosts.test", "password": "Hosts-test-pass-9!"},
        timeout=30,
    )
    assert response.status_code == 201, response.text
    session = requests.Session()
    session.headers["Authorization"] = f"Token {response.json()['token']}"
    return session


def _submit(session: requests.Session, base: str, photos: int, seed: int) -> str:
    response = session.post(
        f"{base}/api/v1/claims/",
        json={
            "policy_number": "POL-778899",
            "vehicle_make": "Skoda",
            "vehicle_model": "Fabia",
            "vehicle_year": 2019,
            "incident_date": "2026-10-30",
        },
        timeout=30,
    )
    assert response.status_code == 201, response.text
    claim_id = response.json()["id"]
    for i in range(photos):
        upload = session.post(
            f"{base}/api/v1/claims/{claim_id}/photos/",
            files={"image": (f"p{i}.jpg", _photo(seed + i).getvalue(), "image/jpeg")},
            timeout=60,
        )
        assert upload.status_code == 201, upload.text
    assert session.post(f"{base}/api/v1/claims/{claim_id}/submit/", timeout=30).status_code == 202
    return claim_id


class _AllLogs:
    """What wait_for prints on a timeout: the tail of every host's log."""

    def __init__(self, *hosts: Host) -> None:
        self.hosts = hosts

    def output(self) -> str:
        return "\n".join(f"--- {h.name} ---\n{h.output()[-1500:]}" for h in self.hosts)


def _decided(session: requests.Session, base: str, claim_id: str) -> bool:
    body = session.get(f"{base}/api/v1/claims/{claim_id}/", timeout=30).json()
    return body["status"] in DECIDED


def test_web_and_two_workers_on_separate_hosts_share_only_services(hosts, tmp_path):
    web, a, b = hosts["web"], hosts["worker-a"], hosts["worker-b"]
    base = _start_web(web)
    _start_worker(a)
    _start_worker(b)
    session = _customer(base, "hana")

    # when: two claims of two photos each are submitted on the web host
    claims = [_submit(session, base, 2, seed) for seed in (0, 10)]

    # then: decided by the workers, the web host's disk holds no photo
    for claim_id in claims:
        wait_for(
            lambda c=claim_id: _decided(session, base, c),
            timeout=180,
            what="decision",
            worker=_AllLogs(web, a, b),
        )
    assert PhotoAssessment.objects.filter(photo__claim_id__in=claims).count() == 4
    done = {h.name: len(TASK_SUCCEEDED.findall(h.output())) for h in (a, b)}
    # At least: a broker shared with other test runs may hand these workers a foreign task too.
    assert sum(done.values()) >= 4, done
    assert not (web.var / "media").exists()
    first = ModelVersion.objects.get(status=ModelVersion.Status.ACTIVE)

    # given: a new version installed from worker host A's own disk (a retrain's output there)
    from ml.tests.model_fixtures import export_tiny

    folder = export_tiny(a.root / "retrained")
    meta = json.loads((folder / "model.json").read_text())
    meta["version"] = meta["model_version"] = "tiny-from-host-a"
    (folder / "model.json").write_text(json.dumps(meta))
    a.run("-m", "django", "model_install", str(folder), "--activate", "--reason", "hosts test")
    new = ModelVersion.objects.get(version="tiny-from-host-a")
    assert new.status == ModelVersion.Status.ACTIVE and new.pk != first.pk
    a.stop()  # host A goes away: only B can take the next claim

    # when
    claim_id = _submit(session, base, 1, seed=20)

    # then: B fetched the version by its digest, verified it, and assessed with it
    wait_for(
        lambda: _decided(session, base, claim_id),
        timeout=180,
        what="decision on B",
        worker=_AllLogs(web, b),
    )
    assert set(
        PhotoAssessment.objects.filter(photo__claim_id=claim_id).values_list(
            "model_version__version", flat=True
        )
    ) == {"tiny-from-host-a"}
    from assessment.model_registry import artifact_sha256

    assert artifact_sha256(b.var / "model-cache" / new.artifact_sha256) == new.artifact_sha256
    assert "model tiny-from-host-a: downloaded and verified" in b.output()
    assert Claim.objects.get(pk=claim_id).status in DECIDED
