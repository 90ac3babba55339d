"""Metrics of a host with Celery workers and no web: ``python -m config.metrics_exporter``.

A web host's ``/metrics`` sums the multiprocess folder of its own host; a worker host has none,
so this small server reads that host's ``PROMETHEUS_MULTIPROC_DIR`` (the folder its workers
write) and answers a scraper that sends the same bearer token as ``/metrics``
(``CLAIMVISION_METRICS_TOKEN``; without one it refuses to start). Queue depths and claim counts
are the web's: they are the same from every host. No Django: it only reads files.
"""

from __future__ import annotations

import argparse
import hmac
import logging
import os
import sys
from wsgiref.simple_server import WSGIRequestHandler, make_server

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from config.metrics import MULTIPROC_ENV, multiproc_dir, scrape_registry

logger = logging.getLogger(__name__)

ERR_SCRAPE_AUTH_UNSET = "CLAIMVISION_METRICS_TOKEN is not set: the exporter never serves without it"
ERR_NO_FOLDER = f"{MULTIPROC_ENV} is not set: there is no workers' folder to read"


def exporter_app(token: str):
    """A WSGI app: ``GET /metrics`` with ``Authorization: Bearer <token>``, nothing else."""
    expected = f"Bearer {token}".encode()

    def app(environ, start_response):
        if environ.get("PATH_INFO") != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        sent = environ.get("HTTP_AUTHORIZATION", "").encode()
        if not hmac.compare_digest(sent, expected):
            start_response(
                "401 Unauthorized",
                [("Content-Type", "text/plain"), ("WWW-Authenticate", 'Bearer realm="metrics"')],
            )
            return [b"a bearer token is required"]
        body = generate_latest(scrape_registry())
        start_response("200 OK", [("Content-Type", CONTENT_TYPE_LATEST)])
        return [body]

    return app


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format, *args):  # one line a scrape is noise
        logger.debug(format, *args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Loopback by default: open it to the scraper's network only, never to the internet.
    parser.add_argument(
        "--address", default=os.environ.get("CLAIMVISION_EXPORTER_ADDRESS", "127.0.0.1")
    )
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("CLAIMVISION_EXPORTER_PORT", "9808"))
    )
    args = parser.parse_args(argv)
    token = os.environ.get("CLAIMVISION_METRICS_TOKEN", "")
    if not token:
        print(ERR_SCRAPE_AUTH_UNSET, file=sys.stderr)
        return 2
    if multiproc_dir() is None:
        print(ERR_NO_FOLDER, file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO)
    server = make_server(args.address, args.port, exporter_app(token), handler_class=_QuietHandler)
    logger.info("serving %s on http://%s:%d/metrics", multiproc_dir(), args.address, args.port)
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
