"""The address a request came from, as throttles and sign-in limits count it.

``X-Forwarded-For`` is whatever the client wrote, followed by what each proxy appended. It is
read only when the connection comes from a configured proxy (``CLAIMVISION_TRUSTED_PROXIES``),
and then from the right: the first address that is not one of our proxies is the client's.
"""

import ipaddress

from django.conf import settings
from django.http import HttpRequest


def _address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(value.strip())
    except ValueError:
        return None


def _is_trusted_proxy(address) -> bool:
    return address is not None and any(
        address in network for network in settings.CLAIMVISION_TRUSTED_PROXIES
    )


def client_address(request: HttpRequest) -> str:
    remote = request.META.get("REMOTE_ADDR", "")
    if not _is_trusted_proxy(_address(remote)):
        return remote
    hops = [hop for hop in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if hop.strip()]
    client = remote
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:  # garbage to the left of what our proxies wrote: stop at them
            break
        client = str(address)
        if not _is_trusted_proxy(address):
            break
    return client
