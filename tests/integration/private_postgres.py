"""A throwaway PostgreSQL cluster, and a real web server on it, for tests that stop the database.

The cluster is initdb'd into a temporary folder and listens on a free port on 127.0.0.1 (and on a
unix socket in that folder), so stopping or restarting it disturbs no other test, agent or
process on the machine: never the machine's own PostgreSQL. Where ``initdb`` is missing the tests
skip, except with ``CLAIMVISION_REQUIRE_SERVICES=1`` (CI), where they fail.
"""

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# Debian and Ubuntu keep the server binaries off PATH, one folder per major version.
_BINDIR_GLOB = "/usr/lib/postgresql/*/bin"
SERVER_READY_TIMEOUT_S = 30


def _postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    candidates = sorted(
        (Path(p) for p in glob.glob(_BINDIR_GLOB) if (Path(p) / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    return candidates[-1] if candidates else None


def _unavailable(reason: str) -> None:
    if os.environ.get("CLAIMVISION_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} (required: CLAIMVISION_REQUIRE_SERVICES=1)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class PrivateCluster:
    """initdb, pg_ctl start/stop/restart; as the ``postgres`` user when the tests run as root
    (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        bindir = _postgres_bindir()
        if bindir is None:
            _unavailable(f"initdb not found (PATH or {_BINDIR_GLOB}): no private PostgreSQL")
        self.bindir = bindir
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            runuser = shutil.which("runuser")
            try:
                import pwd

                pwd.getpwnam("postgres")
            except KeyError:
                runuser = None
            if runuser is None:
                _unavailable("running as root without runuser or a postgres user for initdb")
            self.as_user = [runuser, "-u", "postgres", "--"]
        # Under /tmp, not pytest's tmp_path: the postgres user must be able to reach it, and a
        # unix socket path must stay under 108 bytes.
        self.root = Path(tempfile.mkdtemp(prefix="cv-pg-"))
        if self.as_user:
            shutil.chown(self.root, user="postgres")
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.port = free_port()
        self.running = False

    def _pg(self, tool: str, *args: str, timeout: float = 60) -> None:
        command = [*self.as_user, str(self.bindir / tool), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stdout}{done.stderr}")

    def init(self) -> "PrivateCluster":
        self._pg(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        )
        return self

    def start(self) -> float:
        """Start and wait until it accepts connections; returns the seconds that took."""
        started = time.monotonic()
        options = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
            # Throwaway data: no fsync; few connections and little memory on a shared machine.
            "-c fsync=off -c max_connections=40 -c shared_buffers=16MB"
        )
        self._pg(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            "30",
            "-o",
            options,
            "start",
        )
        self.running = True
        return time.monotonic() - started

    def stop(self, mode: str = "fast") -> float:
        """``fast`` ends every session ("terminating connection due to administrator
        command") and rolls back open transactions, as a restart or fail-over does."""
        started = time.monotonic()
        self._pg("pg_ctl", "-D", str(self.data), "-w", "-t", "30", "-m", mode, "stop")
        self.running = False
        return time.monotonic() - started

    def url(self, dbname: str) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{dbname}"

    def execute(self, sql: str, dbname: str = "postgres") -> list[tuple]:
        """One statement on a fresh connection (any earlier one may have died with a stop)."""
        import psycopg

        with psycopg.connect(
            host="127.0.0.1",
            port=self.port,
            user="postgres",
            dbname=dbname,
            autocommit=True,
            connect_timeout=5,
        ) as db:
            cursor = db.execute(sql)
            return cursor.fetchall() if cursor.description else []

    def destroy(self) -> None:
        if self.running:
            with suppress(RuntimeError, subprocess.TimeoutExpired):
                self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def log_tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@contextmanager
def private_cluster() -> Iterator[PrivateCluster]:
    cluster = PrivateCluster()
    try:
        cluster.init()
        cluster.start()
        yield cluster
    finally:
        cluster.destroy()


def manage(env: dict, *args: str, timeout: float = 180) -> str:
    done = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if done.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


class ServerProcess:
    """gunicorn on 127.0.0.1 only, one sync worker: requests are served one after another."""

    def __init__(self, env: dict, log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "ServerProcess":
        import requests

        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "config.wsgi",
                "-b",
                f"127.0.0.1:{self.port}",
                "-w",
                "1",
                "--timeout",
                "60",
                "--access-logfile",
                "-",
            ],
            cwd=REPO,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + SERVER_READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.output()[-3000:]}")
            try:
                if requests.get(f"{self.base}/accounts/login/", timeout=2).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"server not ready:\n{self.output()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait(timeout=10)
        if getattr(self, "log", None):
            self.log.close()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@contextmanager
def orm_on(cluster: PrivateCluster, dbname: str) -> Iterator[None]:
    """Point this process's default database connection at the private cluster for a while, so
    the ORM (and assertion helpers written with it) read what the server and worker wrote.

    Each connection lasts one use (``CONN_MAX_AGE`` 0 plus ``reconnect()``) because the
    cluster may be stopped under it."""
    from django.db import connections
    from django.db.backends.postgresql.base import DatabaseWrapper

    original = connections["default"]
    settings_dict = {
        **original.settings_dict,
        "ENGINE": "django.db.backends.postgresql",
        "NAME": dbname,
        "USER": "postgres",
        "PASSWORD": "",
        "HOST": "127.0.0.1",
        "PORT": str(cluster.port),
        "OPTIONS": {},
        "CONN_MAX_AGE": 0,
        "CONN_HEALTH_CHECKS": False,
    }
    wrapper = DatabaseWrapper(settings_dict, alias="default")
    connections["default"] = wrapper
    try:
        yield
    finally:
        wrapper.close()
        connections["default"] = original


def reconnect() -> None:
    """Drop the ORM's connection: the next query opens a new one (after a restart)."""
    from django.db import connection

    connection.close()
