"""Session lifetimes by role: staff sessions end sooner than customers'.

Django gives every session ``SESSION_COOKIE_AGE``. On the first request of a signed-in session
this middleware fixes its expiry from the user's role (claims.roles.session_hours), once: later
requests leave it alone, so a staff session ends a fixed time after sign-in however busy it is.
"""

from datetime import timedelta

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from claims.roles import session_hours

# Set in the session once its expiry was fixed for the signed-in user's role.
SESSION_EXPIRY_KEY = "_claimvision_expiry_user"


class RoleSessionExpiryMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        session = getattr(request, "session", None)
        if (
            user is not None
            and session is not None
            and user.is_authenticated
            and session.get(SESSION_EXPIRY_KEY) != user.pk
        ):
            # A date, not a number of seconds: seconds count from each later save.
            session.set_expiry(timezone.now() + timedelta(hours=session_hours(user)))
            session[SESSION_EXPIRY_KEY] = user.pk
        return self.get_response(request)
