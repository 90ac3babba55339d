"""DRF permission classes per role."""

from rest_framework.permissions import BasePermission

from claims.roles import Role, user_has_role


class IsCustomer(BasePermission):
    message = "Only customer accounts can file claims."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, Role.CUSTOMER)


class IsAdjuster(BasePermission):
    message = "Only adjusters can use the review queue."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, Role.ADJUSTER)


class IsDataTeam(BasePermission):
    message = "Only the data team can export labels."

    def has_permission(self, request, view) -> bool:
        return user_has_role(request.user, Role.DATA_TEAM)
