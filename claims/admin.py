"""Admin for claims and photos: read-mostly, server-owned fields are read-only."""

from django.contrib import admin

from claims.forms import AdminLoginForm
from claims.models import ApiToken, Claim, IdempotencyRecord, Photo

# The admin's sign-in counts against the same limits as the pages' (claims.login_limits).
admin.site.login_form = AdminLoginForm


class PhotoInline(admin.TabularInline):
    model = Photo
    extra = 0
    can_delete = False
    fields = ("id", "original_name", "image_format", "width", "height", "status", "duplicate_of")
    readonly_fields = fields


@admin.register(Claim)
class ClaimAdmin(admin.ModelAdmin):
    list_display = ("reference", "owner", "status", "vehicle_make", "vehicle_model", "created_at")
    list_filter = ("status",)
    search_fields = ("reference", "policy_number", "owner__username")
    readonly_fields = ("id", "reference", "owner", "status", "submitted_at", "enqueued_at")
    inlines = [PhotoInline]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(admin.ModelAdmin):
    list_display = ("user", "key", "scope", "status_code", "created_at")
    readonly_fields = ("user", "key", "scope", "fingerprint", "status_code", "response_body")


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    """Tokens can be listed and revoked (deleted); their keys are not stored, only hashes."""

    list_display = ("prefix", "user", "created_at", "expires_at")
    search_fields = ("user__username", "prefix")
    fields = ("prefix", "user", "created_at", "expires_at")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False
