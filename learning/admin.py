"""Admin for the learning stage: retraining runs (read-only progress for staff), the registry
actions on model versions (shadow, promote, roll back), label exports (read-only), and the
decision policy's calibration action (fit thresholds to review outcomes).

The model registry and the decision policy are the assessment stage's; their admin classes are
extended here, where the actions' services live, so assessment never imports this stage.
"""

from django.contrib import admin, messages

from assessment import selectors, shadow
from assessment.admin import DecisionPolicyAdmin
from assessment.models import ModelVersion
from learning import backtest, calibration, promotion, runs
from learning.models import ExportJob, RetrainingRun


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
    actions = ["cancel"]

    @admin.action(description="Cancel (mark failed) the selected queued or running runs")
    def cancel(self, request, queryset):
        done = [
            run.pk
            for run in queryset
            if runs.retrain_cancel(run=run, actor=request.user.get_username())
        ]
        if done:
            self.message_user(request, f"Cancelled run(s) {', '.join(map(str, done))}.")
        else:
            self.message_user(
                request, "None of the selected runs was queued or running.", messages.WARNING
            )

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # staff read runs (view permission); runs change only through the service

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class ModelVersionRegistryAdmin(admin.ModelAdmin):
    """Replaces the plain ModelVersion admin: lineage, metrics and the registry actions."""

    list_display = (
        "version",
        "status",
        "parent",
        "eval_mean_iou",
        "held_out_damage_iou",
        "created_at",
        "activated_at",
    )
    list_filter = ("status",)
    readonly_fields = [f.name for f in ModelVersion._meta.fields]
    actions = ["make_shadow", "promote", "roll_back", "compare_shadow"]

    @admin.display(description="eval mean IoU")
    def eval_mean_iou(self, obj) -> str:
        """On the frozen evaluation set of reviewed photos (retrained candidates)."""
        metrics = obj.eval_metrics or {}
        value = metrics.get("mean_iou")
        if isinstance(value, int | float):
            return f"{value:.3f} ({metrics.get('n_images', '?')} photos)"
        return "not evaluated on reviewed photos" if not metrics.get("n_images") else "-"

    @admin.display(description="held-out damage IoU")
    def held_out_damage_iou(self, obj) -> str:
        """Damage IoU on a held-out photo set: the bundled model's own test split (model
        card), or a candidate's real-photo test split."""
        metrics = obj.metrics or {}
        for key in ("test", "real_test"):
            value = (metrics.get(key) or {}).get("damage_iou")
            if isinstance(value, int | float):
                n = (metrics.get(key) or {}).get("n_images", "?")
                return f"{value:.3f} ({n} photos)"
        return "-"

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
            lambda v: promotion.model_version_set_shadow(model_version=v, actor=request.user),
            "{version} now runs in shadow.",
        )

    @admin.action(description="Promote to active (overrides the promotion rule)")
    def promote(self, request, queryset):
        self._run(
            request,
            queryset,
            lambda v: promotion.model_version_promote(
                model_version=v, note=f"by {request.user.get_username()}", actor=request.user
            ),
            "{version} is now active.",
        )

    @admin.action(description="Roll back to this version")
    def roll_back(self, request, queryset):
        self._run(
            request,
            queryset,
            lambda v: promotion.model_version_rollback(
                to=v, note=f"by {request.user.get_username()}", actor=request.user
            ),
            "Rolled back to {version}.",
        )

    @admin.action(description="Compare the shadow version with the active one")
    def compare_shadow(self, request, queryset):
        running = shadow.model_version_shadow()
        active = ModelVersion.objects.filter(status=ModelVersion.Status.ACTIVE).first()
        if running is None or active is None:
            self.message_user(request, "No shadow version is running.", messages.WARNING)
            return
        self.message_user(request, str(selectors.shadow_comparison(shadow=running, active=active)))


admin.site.unregister(ModelVersion)
admin.site.register(ModelVersion, ModelVersionRegistryAdmin)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = ("id", "requested_by", "status", "created_at")
    list_filter = ("status",)
    readonly_fields = [f.name for f in ExportJob._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False


# --------------------------------------------------------------------------- calibration

MSG_SELECT_ONE = "Select exactly one policy version to calibrate from."
MSG_SAVED = "Saved as version {version} (inactive; activate it to use it): {summary}"


@admin.action(
    description="Calibrate thresholds from review outcomes (new version)", permissions=["add"]
)
def decision_policy_calibrate(modeladmin, request, queryset) -> None:
    """Target error, confidence and minimum sample are the command's defaults; use
    ``manage.py calibrate`` to change them or to see the curve."""
    if queryset.count() != 1:
        modeladmin.message_user(request, MSG_SELECT_ONE, messages.ERROR)
        return
    try:
        run = calibration.calibration_run(
            base_policy=queryset.get(),
            target_error=backtest.DEFAULT_TARGET_ERROR,
            min_claims=backtest.DEFAULT_MIN_CLAIMS,
        )
        created = calibration.calibration_adopt(run=run, created_by=request.user)
    except backtest.CalibrationError as exc:
        modeladmin.message_user(request, str(exc), messages.ERROR)
        return
    modeladmin.message_user(
        request,
        MSG_SAVED.format(version=created.version, summary=run.calibration.summary()),
        messages.SUCCESS,
    )


DecisionPolicyAdmin.actions = [*DecisionPolicyAdmin.actions, decision_policy_calibrate]
