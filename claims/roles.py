"""Roles as Django groups. Customers register themselves; staff roles are granted by admins."""

from enum import StrEnum

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(StrEnum):
    CUSTOMER = "customer"
    ADJUSTER = "adjuster"
    # An adjuster who also decides contested claims (the customer's appeal of any decision):
    # every adjuster right, plus the senior queue. Granted by admins like every staff role.
    SENIOR_ADJUSTER = "senior_adjuster"
    DATA_TEAM = "data_team"
    ADMIN = "admin"


# The groups that carry a role: a senior adjuster is an adjuster too.
ROLE_GROUPS = {Role.ADJUSTER: (Role.ADJUSTER.value, Role.SENIOR_ADJUSTER.value)}


def user_has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    if role is Role.ADMIN:
        return user.is_superuser
    return user.groups.filter(name__in=ROLE_GROUPS.get(role, (role.value,))).exists()


def user_roles(user: AbstractBaseUser | AnonymousUser) -> list[str]:
    if not user.is_authenticated:
        return []
    names = user.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True)
    roles = list(names)
    if user.is_superuser:
        roles.append(Role.ADMIN.value)
    return sorted(roles)


STAFF_ROLES = (Role.ADJUSTER.value, Role.SENIOR_ADJUSTER.value, Role.DATA_TEAM.value)


def user_is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Anyone who sees other people's claims: adjusters, the data team, admin-site users."""
    if not user.is_authenticated:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return user.groups.filter(name__in=STAFF_ROLES).exists()


def session_hours(user: AbstractBaseUser | AnonymousUser) -> int:
    """How long a session or API token of ``user`` lasts (CLAIMVISION_*_SESSION_HOURS)."""
    if user_is_staff(user):
        return settings.CLAIMVISION_STAFF_SESSION_HOURS
    return settings.CLAIMVISION_CUSTOMER_SESSION_HOURS
