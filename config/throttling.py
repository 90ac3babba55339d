"""Throttles: anonymous requests per address, and per-user quotas on costly writes.

Both count in the default cache (``CLAIMVISION_CACHE_URL``) and answer 429 ``throttled`` with a
``Retry-After`` header (config.errors).
"""

from rest_framework import throttling
from rest_framework.permissions import SAFE_METHODS

from config.network import client_address


class AnonRateThrottle(throttling.AnonRateThrottle):
    """DRF's anonymous throttle, keyed on the address config.network trusts."""

    def get_ident(self, request) -> str:
        return client_address(request)


class UserQuotaThrottle(throttling.ScopedRateThrottle):
    """A signed-in user's quota for one kind of write, named by the view's ``quota_scope``
    (``claims``, ``uploads``, ``exports``; rates in ``DEFAULT_THROTTLE_RATES``). Reads and views
    without a scope are not counted."""

    scope_attr = "quota_scope"

    def allow_request(self, request, view) -> bool:
        if request.method in SAFE_METHODS or not getattr(view, self.scope_attr, None):
            return True
        if not (request.user and request.user.is_authenticated):
            return True  # anonymous writes are refused by permissions, counted by AnonRateThrottle
        return super().allow_request(request, view)

    def get_ident(self, request) -> str:
        return client_address(request)
