"""API token authentication against hashed, expiring tokens (claims.models.ApiToken).

Clients send ``Authorization: Token <key>`` as with DRF's own tokens; the key is hashed and
looked up, so the database never holds a token someone could use.
"""

from django.utils import timezone
from rest_framework import authentication, exceptions

from claims import selectors

ERR_TOKEN_INVALID = "Invalid token."  # noqa: S105 - a message, not a token
ERR_TOKEN_EXPIRED = "The token has expired; sign in again for a new one."  # noqa: S105


class TokenAuthentication(authentication.TokenAuthentication):
    keyword = "Token"

    def authenticate_credentials(self, key: str):
        token = selectors.api_token_get(key=key)
        if token is None:
            raise exceptions.AuthenticationFailed(ERR_TOKEN_INVALID)
        if token.expires_at <= timezone.now():
            raise exceptions.AuthenticationFailed(ERR_TOKEN_EXPIRED)
        if not token.user.is_active:
            raise exceptions.AuthenticationFailed("User inactive or deleted.")
        return token.user, token
