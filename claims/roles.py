"""Roles as Django groups. Customers register themselves; staff roles are granted by admins."""

from enum import StrEnum

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(StrEnum):
    CUSTOMER = "customer"
    ADJUSTER = "adjuster"
    DATA_TEAM = "data_team"
    ADMIN = "admin"


def user_has_role(user: AbstractBaseUser | AnonymousUser, role: Role) -> bool:
    if not user.is_authenticated:
        return False
    if role is Role.ADMIN:
        return user.is_superuser
    return user.groups.filter(name=role.value).exists()


def user_roles(user: AbstractBaseUser | AnonymousUser) -> list[str]:
    if not user.is_authenticated:
        return []
    names = user.groups.filter(name__in=[r.value for r in Role]).values_list("name", flat=True)
    roles = list(names)
    if user.is_superuser:
        roles.append(Role.ADMIN.value)
    return sorted(roles)
