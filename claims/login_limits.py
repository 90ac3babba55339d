"""Sign-in limits per account and per address, for every way of signing in with a password
(the customer pages, the admin site, ``POST /api/v1/auth/token/``).

Every attempt is counted before the password is checked, atomically in the shared cache, so a
burst of parallel guesses cannot all slip through before the first failure is recorded; a
successful sign-in takes its attempt back (and clears the account's count). Past the limit the
account or address is locked until its window ends, even for the right password.
"""

import contextlib
import hashlib
import math
import time
import unicodedata
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate
from django.core.cache import cache
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

from config.errors import TooManyRequestsError
from config.network import client_address

ERR_LOGIN_LOCKED = _(
    "Too many failed sign-ins. For your security, signing in is paused for {minutes} "
    "minutes; try again after that."
)


@dataclass(frozen=True)
class _Counter:
    count: str
    until: str


def _counters(*, username: str, address: str) -> list[tuple[_Counter, int]]:
    # The account key is the folded name, hashed: case and width variants share one count.
    folded = unicodedata.normalize("NFKC", username or "").casefold()
    account = hashlib.sha256(folded.encode()).hexdigest()[:32]
    return [
        (
            _Counter(f"login:account:{account}", f"login:account:{account}:until"),
            settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ACCOUNT,
        ),
        (
            _Counter(f"login:address:{address}", f"login:address:{address}:until"),
            settings.CLAIMVISION_LOGIN_MAX_FAILURES_PER_ADDRESS,
        ),
    ]


def _count(counter: _Counter, window: int) -> int:
    now = time.time()
    cache.add(counter.until, now + window, window)
    cache.add(counter.count, 0, window)
    try:
        return cache.incr(counter.count)
    except ValueError:  # expired between add and incr: a new window
        cache.set(counter.count, 1, window)
        cache.set(counter.until, now + window, window)
        return 1


def _locked_error(counter: _Counter, window: int) -> TooManyRequestsError:
    until = cache.get(counter.until) or time.time() + window
    wait = max(1, math.ceil(until - time.time()))
    return TooManyRequestsError(
        ERR_LOGIN_LOCKED.format(minutes=math.ceil(wait / 60)),
        code="login_locked",
        retry_after=wait,
        details={"retry_after": wait},
    )


def login_authenticate(*, request: HttpRequest, username: str, password: str):
    """The user for these credentials, or None; raises ``TooManyRequestsError``
    (``login_locked``) once the account or the address used up its attempts."""
    window = settings.CLAIMVISION_LOGIN_LOCKOUT_MINUTES * 60
    counters = _counters(username=username, address=client_address(request))
    counted = []
    for counter, limit in counters:
        counted.append(counter)
        if _count(counter, window) > limit:
            raise _locked_error(counter, window)
    user = authenticate(request, username=username, password=password)
    if user is not None:
        account, address = counted
        cache.delete_many([account.count, account.until])
        with contextlib.suppress(ValueError):  # the window ended meanwhile
            cache.decr(address.count)
    return user
