"""Admin for labelling: projects and members editable; items, predictions, labels, their
history and QA reviews read-only (written by the labelling services only)."""

from django.contrib import admin

from labelling.models import (
    ItemLabels,
    ItemLabelsSave,
    ItemPrediction,
    LabellingProject,
    ProjectItem,
    ProjectMember,
    QAReview,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Labels, their history and QA are training data and evidence: the API writes them."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class ProjectMemberInline(admin.TabularInline):
    model = ProjectMember
    extra = 0
    raw_id_fields = ("user",)


@admin.register(LabellingProject)
class LabellingProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "qa_share", "scratch_share", "created_by", "created_at")
    readonly_fields = ("label_map", "created_by", "created_at", "updated_at")
    inlines = [ProjectMemberInline]

    def has_add_permission(self, request) -> bool:
        return False  # created through the API, with the active model's label map


@admin.register(ProjectItem)
class ProjectItemAdmin(ReadOnlyAdmin):
    list_display = ("original_name", "project", "status", "show_prelabels", "flagged")
    list_filter = ("status", "show_prelabels", "flagged")
    exclude = ("original", "working")  # private files: never linked from the admin


@admin.register(ItemPrediction)
class ItemPredictionAdmin(ReadOnlyAdmin):
    list_display = ("item", "model_version", "photo_confidence", "created_at")


@admin.register(ItemLabels)
class ItemLabelsAdmin(ReadOnlyAdmin):
    list_display = ("item", "version", "source", "labeller", "saved_at")


@admin.register(ItemLabelsSave)
class ItemLabelsSaveAdmin(ReadOnlyAdmin):
    list_display = ("item", "version", "source", "labeller", "active_ms", "saved_at")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # append-only


@admin.register(QAReview)
class QAReviewAdmin(ReadOnlyAdmin):
    list_display = ("item", "reviewer", "outcome", "mean_iou", "type_agreement", "created_at")
