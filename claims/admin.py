"""Admin for claims and photos: read-mostly, server-owned fields are read-only."""

from django.contrib import admin

from claims.models import Claim, IdempotencyRecord, Photo


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
