"""A real S3-compatible server on loopback for the tests and benchmarks: moto's standalone mode.

No S3 server is packaged by Debian here, so ``moto[server]`` (a registry package) runs as its
own process (``python -m moto.server``) on a free port of 127.0.0.1: web processes, workers and
the test process all talk HTTP to it, as they would to MinIO or AWS.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

READY_TIMEOUT_S = 30  # moto imports its whole service catalogue lazily; a second or two here
ACCESS_KEY = "claimvision-test"
SECRET_KEY = "claimvision-test-secret"  # a throwaway key for a loopback server
REGION = "eu-west-1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class S3Server:
    """``with S3Server(log) as s3:`` a running server; ``s3.env(bucket, prefix)`` for clients."""

    def __init__(self, log_path: Path) -> None:
        self.log_path = log_path
        self.port = free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> S3Server:
        self.log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + READY_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"moto server exited: {self.log_path.read_text()[-2000:]}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), 0.5):
                    return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto server did not listen on port {self.port}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        if getattr(self, "log", None):
            self.log.close()

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, bucket: str) -> None:
        client = self.client()
        client.create_bucket(
            Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": REGION}
        )
        # What production does too: the bucket refuses any public grant or policy.
        client.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )

    def env(self, *, bucket: str, prefix: str = "") -> dict[str, str]:
        """The environment that points a ClaimVision process at this server."""
        return {
            "CLAIMVISION_STORAGE": "s3",
            "CLAIMVISION_S3_ENDPOINT_URL": self.endpoint,
            "CLAIMVISION_S3_BUCKET": bucket,
            "CLAIMVISION_S3_PREFIX": prefix,
            "CLAIMVISION_S3_REGION": REGION,
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
        }


def s3_required() -> bool:
    return os.environ.get("CLAIMVISION_REQUIRE_SERVICES") == "1"
