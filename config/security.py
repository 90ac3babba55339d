"""Security headers Django 5.2 does not set itself: the Content-Security-Policy."""

from django.conf import settings
from django.http import HttpRequest, HttpResponse


class ContentSecurityPolicyMiddleware:
    """Adds ``CLAIMVISION_CONTENT_SECURITY_POLICY`` to every response that has none yet.

    The header goes on JSON and files too: a policy on a response a browser never renders costs
    a few bytes, and one missing on a page that an error handler produced would be a hole.
    """

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        policy = settings.CLAIMVISION_CONTENT_SECURITY_POLICY
        if policy and "Content-Security-Policy" not in response:
            response["Content-Security-Policy"] = policy
        return response
