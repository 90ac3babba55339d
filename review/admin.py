"""Admin for review: locks (staff may clear one), and read-only labels, ledger, time and notes."""

from django.contrib import admin

from review.models import (
    ActiveTime,
    ClaimNote,
    LabelRegion,
    OverrideLedgerEntry,
    PhotoLabels,
    ReviewLock,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Labels and the ledger are training data and evidence: written by the review API only."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(ReviewLock)
class ReviewLockAdmin(admin.ModelAdmin):
    list_display = ("claim", "adjuster", "taken_at", "expires_at")
    readonly_fields = ("claim", "adjuster", "taken_at", "expires_at")

    def has_add_permission(self, request) -> bool:
        return False


class LabelRegionInline(admin.TabularInline):
    model = LabelRegion
    extra = 0
    can_delete = False
    fields = ("index", "label", "severity", "source_index", "area", "bbox")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(PhotoLabels)
class PhotoLabelsAdmin(ReadOnlyAdmin):
    list_display = ("photo", "claim", "version", "adjuster", "saved_at", "active_ms")
    search_fields = ("claim__reference",)
    inlines = [LabelRegionInline]


@admin.register(OverrideLedgerEntry)
class OverrideLedgerEntryAdmin(ReadOnlyAdmin):
    list_display = (
        "claim",
        "photo",
        "labels_version",
        "action",
        "source_index",
        "iou",
        "from_label",
        "to_label",
        "from_severity",
        "to_severity",
        "adjuster",
        "model_version",
        "created_at",
    )
    list_filter = ("action",)
    search_fields = ("claim__reference",)


@admin.register(ActiveTime)
class ActiveTimeAdmin(ReadOnlyAdmin):
    list_display = ("claim", "photo", "adjuster", "active_ms", "created_at")


@admin.register(ClaimNote)
class ClaimNoteAdmin(ReadOnlyAdmin):
    list_display = ("claim", "author", "created_at")
    search_fields = ("claim__reference", "text")
