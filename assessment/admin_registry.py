"""Admin for the learning loop: retraining runs (read-only progress for staff) and registry
actions on model versions (shadow, promote, roll back)."""

from django.contrib import admin, messages

from assessment import learning, selectors
from assessment.models import ModelVersion, RetrainingRun


@admin.register(RetrainingRun)
class RetrainingRunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "status",
        "trigger",
        "progress",
        "message",
        "candidate",
        "promoted",
        "created_at",
        "finished_at",
    )
    list_filter = ("status", "trigger")
    readonly_fields = [f.name for f in RetrainingRun._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # staff read runs (view permission); runs change only through the service

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ModelVersionRegistryAdmin(admin.ModelAdmin):
    """Replaces the plain ModelVersion admin: lineage, metrics and the registry actions."""

    list_display = ("version", "status", "parent", "eval_mean_iou", "created_at", "activated_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["make_shadow", "promote", "roll_back", "compare_shadow"]

    @admin.display(description="eval mean IoU")
    def eval_mean_iou(self, obj) -> str:
        value = (obj.eval_metrics or {}).get("mean_iou")
        return f"{value:.3f}" if isinstance(value, float) else "-"

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def _one(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Select exactly one version.", messages.ERROR)
            return None
        return queryset.get()

    def _run(self, request, queryset, action, done: str):
        version = self._one(request, queryset)
        if version is None:
            return
        try:
            action(version)
        except ValueError as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return
        self.message_user(request, done.format(version=version.version))

    @admin.action(description="Run in shadow (predicts on live claims, decides nothing)")
    def make_shadow(self, request, queryset):
        self._run(
            request,
            queryset,
            lambda v: learning.model_version_set_shadow(model_version=v),
            "{version} now runs in shadow.",
        )

    @admin.action(description="Promote to active (overrides the promotion rule)")
    def promote(self, request, queryset):
        self._run(
            request,
            queryset,
            lambda v: learning.model_version_promote(
                model_version=v, note=f"by {request.user.get_username()}", actor=request.user
            ),
            "{version} is now active.",
        )

    @admin.action(description="Roll back to this version")
    def roll_back(self, request, queryset):
        self._run(
            request,
            queryset,
            lambda v: learning.model_version_rollback(
                to=v, note=f"by {request.user.get_username()}", actor=request.user
            ),
            "Rolled back to {version}.",
        )

    @admin.action(description="Compare the shadow version with the active one")
    def compare_shadow(self, request, queryset):
        shadow = learning.model_version_shadow()
        active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
        if shadow is None or active is None:
            self.message_user(request, "No shadow version is running.", messages.WARNING)
            return
        self.message_user(request, str(selectors.shadow_comparison(shadow=shadow, active=active)))


admin.site.unregister(ModelVersion)
admin.site.register(ModelVersion, ModelVersionRegistryAdmin)
