"""``/metrics``: the Prometheus text exposition, for a scraper with the token or for staff.

Metrics name queues, task names and model versions, never a customer; they are still not public
(they show load and the decision mix). A scraper sends ``Authorization: Bearer
<CLAIMVISION_METRICS_TOKEN>``; a signed-in staff user may open the page in a browser.
Mounted by config/urls.py; the metric objects live in config.metrics.
"""

import hmac
import logging

from django.conf import settings
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.core import GaugeMetricFamily

from claims.selectors import claim_status_counts
from config.metrics import BrokerQueueCollector, scrape_registry

logger = logging.getLogger(__name__)

MSG_METRICS_AUTH_REQUIRED = "Metrics need a bearer token or a staff sign-in."
MSG_METRICS_FORBIDDEN = "That token or account may not read metrics."


class ClaimStatusCollector:
    """``claimvision_claims{status}``: claims per status, read from the database per scrape."""

    def describe(self):
        return []

    def collect(self):
        up = GaugeMetricFamily(
            "claimvision_database_up", "1 if the database answered this scrape's claim counts."
        )
        try:
            counts = claim_status_counts()
        except DatabaseError as exc:  # the queue and task metrics still matter most then
            logger.warning("metrics: claim counts unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        family = GaugeMetricFamily(
            "claimvision_claims",
            "Claims in each status; status=in_review is the review queue's depth.",
            labels=["status"],
        )
        for status, count in counts.items():
            family.add_metric([status], count)
        yield family


def _bearer(request: HttpRequest) -> str | None:
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return credentials.strip() if scheme.lower() == "bearer" else None


def metrics_allowed(request: HttpRequest) -> int | None:
    """None when the request may read metrics, else the HTTP status that refuses it."""
    token = _bearer(request)
    expected = settings.CLAIMVISION_METRICS_TOKEN
    if token is not None:
        if expected and hmac.compare_digest(token.encode(), expected.encode()):
            return None
        return 403
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return None if (user.is_staff or user.is_superuser) else 403
    return 401


@never_cache
@require_GET
def metrics_view(request: HttpRequest) -> HttpResponse:
    refused = metrics_allowed(request)
    if refused == 401:
        response = HttpResponse(MSG_METRICS_AUTH_REQUIRED, status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if refused is not None:
        return HttpResponse(MSG_METRICS_FORBIDDEN, status=refused, content_type="text/plain")
    registry = scrape_registry(BrokerQueueCollector(), ClaimStatusCollector())
    return HttpResponse(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
