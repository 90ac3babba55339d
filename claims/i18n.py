"""The language of a request: a signed-in customer's saved choice, else the browser's.

Django's LocaleMiddleware picks the language from the ``django_language`` cookie or the
Accept-Language header; this middleware, after authentication, lets the account's saved
choice win, and keeps staff pages (review, data team, admin) in English: only the customer
pages and the customer API are translated for now (docs/operations.md, "Languages").
"""

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import translation

# Staff areas stay English whatever the browser asks for (their text is not translated yet,
# and Django's own admin translations would make them half German).
STAFF_PATH_PREFIXES = ("/admin/", "/review/", "/data/", "/api/v1/review/", "/api/v1/exports/")


def supported_language(code: str | None) -> str | None:
    """``code`` if it is one of settings.LANGUAGES, else None."""
    return code if code in dict(settings.LANGUAGES) else None


class AccountLanguageMiddleware:
    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = None
        if request.path.startswith(STAFF_PATH_PREFIXES):
            language = settings.LANGUAGE_CODE
        else:
            user = getattr(request, "user", None)
            if user is not None and user.is_authenticated:
                # Imported here: the middleware module loads before the app registry is ready.
                from claims.selectors import user_language_get

                language = user_language_get(user=user)
        if language:
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        return self.get_response(request)
